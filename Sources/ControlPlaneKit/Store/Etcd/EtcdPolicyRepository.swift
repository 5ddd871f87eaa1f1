import MeshCore
import MeshEtcd

/// The mesh configuration in etcd: `policy/current` (the document as the file store writes it: version, hash,
/// files), `policy/versions/<n>` (each accepted version's document, kept for history and migration), `epoch`
/// (made with the store, never rewritten). Every compare-and-set is one etcd transaction on the mod revision
/// of `policy/current` as this replica last saw it; a refusal re-reads the key (and tells what it found).
public final class EtcdPolicyRepository: PolicyRepository, EtcdRoute {
    let store: EtcdStore
    public let epoch: String
    private let keyed: EtcdKeyed<StoredPolicy>
    private let observers = ChangeObservers<StoredPolicy>()
    static let current = "policy/current"

    /// Reads `policy/current` and the epoch (making the epoch when the store is new).
    public init(store: EtcdStore) throws {
        self.store = store
        epoch = try Self.epoch(store)
        let (kv, revision) = try store.read(Self.current)
        keyed = EtcdKeyed([Self.current: (try kv.map { try Self.decode($0.value) }, kv?.modRevision ?? 0)], loadedAt: revision)
        store.register(Self.current, self)
    }

    var loadedAt: Int64 { keyed.loadedAt }

    public func load() throws -> StoredPolicy { keyed.value(Self.current).value ?? .empty }

    public func compareAndSet(expected: Int, _ next: StoredPolicy) throws {
        let (seen, mod) = keyed.value(Self.current)
        guard (seen ?? .empty).version == expected else { throw conflict((seen ?? .empty).version, expected) }
        var ops: [EtcdOp]
        if next.version == 0 && next.files.isEmpty {
            ops = [.delete(store.key(Self.current))]  // back to "nothing applied"
        } else {
            let doc = FilePolicyRepository.encode(next)
            ops = [.put(store.key(Self.current), doc, lease: 0), .put(store.key("policy/versions/\(next.version)"), doc, lease: 0)]
        }
        if next.version < expected { ops.append(.delete(store.key("policy/versions/\(expected)"))) }  // an undone apply
        let r: EtcdTxnResult
        do {
            r = try store.kv.txn([.modRevision(store.key(Self.current), equals: mod)], success: ops,
                                 failure: [.get(store.key(Self.current))])
        } catch let e as MeshError where e.errorCode == .storeUnavailable {
            // The answer was lost, not necessarily the write: read it back once. If our document is what is stored
            // now, the write landed and this is a success (the caller goes on to audit it); otherwise the refusal
            // stands. A proposal still in flight in etcd could yet commit after this read: that window is documented.
            guard next.version > 0, let now = try? store.kv.get(store.key(Self.current)), now.modRevision > mod,
                  let stored = try? Self.decode(now.value), stored == next else { throw e }
            accept(next, mod: now.modRevision)
            return
        }
        guard r.succeeded else {
            let now = r.gets.first ?? nil
            let stored = try now.map { try Self.decode($0.value) } ?? .empty
            accept(stored, mod: now?.modRevision ?? r.revision)
            throw conflict(stored.version, expected)
        }
        accept(next, mod: r.revision)
    }

    public func subscribe(_ onChange: @escaping @Sendable (StoredPolicy) -> Void) -> Subscription {
        observers.subscribe(onChange)
    }

    private func accept(_ p: StoredPolicy, mod: Int64) {
        keyed.accept(Self.current, p, mod: mod) { observers.notify($0 ?? .empty) }
    }

    func apply(_ event: EtcdEvent, suffix: String) {
        guard suffix == Self.current else { return }
        let p = event.kind == .delete ? StoredPolicy.empty : (try? Self.decode(event.kv.value))
        guard let p else { return }  // undecodable: keep what we have (load would report it)
        accept(p, mod: event.kv.modRevision)
    }

    func reload() throws -> Int64 {
        let (kv, revision) = try store.read(Self.current)
        let values: [String: (value: StoredPolicy?, mod: Int64)] = kv.map { [Self.current: (try? Self.decode($0.value), $0.modRevision)] } ?? [:]
        keyed.reloaded(values, at: revision) { _, p in observers.notify(p ?? .empty) }
        return revision
    }

    private func conflict(_ stored: Int, _ expected: Int) -> MeshError {
        MeshError(.policyConflict, "the mesh is at version \(stored), not \(expected): fetch it again and re-apply")
    }

    static func decode(_ bytes: [UInt8]) throws -> StoredPolicy {
        try FilePolicyRepository.decode(bytes, path: "etcd \(current)")
    }

    /// The store's epoch: read, or made (16 random bytes, hex) by a transaction that only creates it.
    static func epoch(_ store: EtcdStore) throws -> String {
        if let kv = try store.kv.get(store.key("epoch")) { return String(decoding: kv.value, as: UTF8.self) }
        guard let made = Random.hex(16) else { throw MeshError(.initRandom, "no randomness available") }
        let r = try store.kv.txn([.createRevision(store.key("epoch"), equals: 0)], success: [.put(store.key("epoch"), Array(made.utf8), lease: 0)],
                                 failure: [.get(store.key("epoch"))])
        if r.succeeded { return made }
        guard let kv = r.gets.first ?? nil else { throw etcdCorrupt("epoch", "vanished while being made") }
        return String(decoding: kv.value, as: UTF8.self)
    }
}
