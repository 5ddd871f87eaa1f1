import MeshCore
import MeshEtcd

/// Identity records in etcd, in the repository's two parts:
/// - `identities/denylist`: the deny-list part (revision, revocations, quarantines, throttles) in the file
///   store's format with no `latest`; its compare-and-set is a transaction on the key's mod revision as last seen;
/// - `identities/latest/<SPIFFE ID>` → {serial, notAfter}: one key per identity, set by a transaction comparing
///   the stored value with `previous` (absent: the key must not exist), so a renewal writes one small key and two
///   replicas renewing one identity cannot both win.
/// Other replicas' commits arrive through the store's watch and are told like our own.
public final class EtcdIdentityRepository: IdentityRepository {
    let store: EtcdStore
    private let denyKeyed: EtcdKeyed<IdentityRecords>
    private let latestKeyed: EtcdKeyed<IdentityRecords.Latest>
    private let observers = ChangeObservers<IdentityRecords>()
    private let latestObservers = ChangeObservers<(SPIFFEID, IdentityRecords.Latest?)>()
    static let denyList = "identities/denylist"
    static let latestPrefix = "identities/latest/"

    public init(store: EtcdStore) throws {
        self.store = store
        let (deny, revision) = try store.read(Self.denyList)
        denyKeyed = EtcdKeyed([Self.denyList: (try deny.map { try Self.decodeDenyList($0.value) }, deny?.modRevision ?? 0)], loadedAt: revision)
        let (latest, at) = try Self.readLatest(store)
        latestKeyed = EtcdKeyed(latest, loadedAt: at)
        store.register(Self.denyList, DenyRoute(repo: self))
        store.register(Self.latestPrefix, LatestRoute(repo: self))
    }

    public func load() throws -> IdentityRecords {
        var r = denyKeyed.value(Self.denyList).value ?? .empty
        r.latest = [:]
        for (k, v) in latestKeyed.present {
            if let id = try? SPIFFEID.workload(String(k.dropFirst(Self.latestPrefix.count))) { r.latest[id] = v }
        }
        return r
    }

    public func compareAndSet(expected: Int, _ next: IdentityRecords) throws {
        let (seen, mod) = denyKeyed.value(Self.denyList)
        let stored = seen ?? .empty
        guard stored.revision == expected else { throw conflict(stored.revision, expected) }
        let k = store.key(Self.denyList)
        let records = IdentityRecords.empty.withDenyList(of: next)
        let r = try store.kv.txn([.modRevision(k, equals: mod)], success: [.put(k, FileIdentityRepository.encode(records), lease: 0)],
                                 failure: [.get(k)])
        guard r.succeeded else {
            let now = r.gets.first ?? nil
            let found = try now.map { try Self.decodeDenyList($0.value) } ?? .empty
            acceptDenyList(found, mod: now?.modRevision ?? r.revision)
            throw conflict(found.revision, expected)
        }
        acceptDenyList(records, mod: r.revision)
    }

    public func setLatest(_ identity: SPIFFEID, _ latest: IdentityRecords.Latest?, previous: IdentityRecords.Latest?) throws {
        let suffix = Self.latestPrefix + identity.description
        let k = store.key(suffix)
        let compare: EtcdCompare = previous.map { .value(k, equals: Self.encode($0)) } ?? .createRevision(k, equals: 0)
        let op: EtcdOp = latest.map { .put(k, Self.encode($0), lease: 0) } ?? .delete(k)
        let r = try store.kv.txn([compare], success: [op], failure: [.get(k)])
        guard r.succeeded else {
            let now = r.gets.first ?? nil
            acceptLatest(suffix, now.flatMap { try? Self.decode($0.value) }, mod: now?.modRevision ?? r.revision)
            throw MeshError(.identitiesConflict, "\(identity): its latest certificate changed meanwhile")
        }
        acceptLatest(suffix, latest, mod: r.revision)
    }

    public func subscribe(_ onChange: @escaping @Sendable (IdentityRecords) -> Void) -> Subscription {
        observers.subscribe(onChange)
    }

    public func subscribeLatest(_ onChange: @escaping @Sendable (SPIFFEID, IdentityRecords.Latest?) -> Void) -> Subscription {
        latestObservers.subscribe { onChange($0.0, $0.1) }
    }

    func acceptDenyList(_ r: IdentityRecords, mod: Int64) {
        denyKeyed.accept(Self.denyList, r, mod: mod) { _ in
            if let now = try? load() { observers.notify(now) }
        }
    }

    func acceptLatest(_ suffix: String, _ latest: IdentityRecords.Latest?, mod: Int64) {
        guard let id = try? SPIFFEID.workload(String(suffix.dropFirst(Self.latestPrefix.count))) else { return }
        latestKeyed.accept(suffix, latest, mod: mod) { latestObservers.notify((id, $0)) }
    }

    static func readLatest(_ store: EtcdStore) throws -> ([String: (value: IdentityRecords.Latest?, mod: Int64)], Int64) {
        let (kvs, at) = try store.readAll(latestPrefix)
        var out: [String: (value: IdentityRecords.Latest?, mod: Int64)] = [:]
        for kv in kvs {
            guard let s = store.suffix(of: kv.key) else { continue }
            out[s] = (try decode(kv.value), kv.modRevision)
        }
        return (out, at)
    }

    private func conflict(_ stored: Int, _ expected: Int) -> MeshError {
        MeshError(.identitiesConflict, "the identity records are at revision \(stored), not \(expected)")
    }

    static func decodeDenyList(_ bytes: [UInt8]) throws -> IdentityRecords {
        try FileIdentityRepository.decode(bytes, path: "etcd \(denyList)")
    }

    /// Deterministic (the compare-and-set compares stored bytes).
    static func encode(_ l: IdentityRecords.Latest) -> [UInt8] {
        Array(JSONValue.object([("serial", .string(l.serial)), ("notAfter", .int(Int(l.notAfter)))]).text.utf8)
    }

    static func decode(_ bytes: [UInt8]) throws -> IdentityRecords.Latest {
        let v = try StrictJSON.parse(bytes)
        guard let serial = v["serial"]?.stringValue, let notAfter = v["notAfter"]?.intValue else {
            throw MeshError(.identitiesCorrupt, "etcd latest entry lacks serial or notAfter")
        }
        return .init(serial: serial, notAfter: Double(notAfter))
    }

    // MARK: the watch

    private struct DenyRoute: EtcdRoute {
        let repo: EtcdIdentityRepository
        var loadedAt: Int64 { repo.denyKeyed.loadedAt }
        func apply(_ event: EtcdEvent, suffix: String) {
            let r = event.kind == .delete ? IdentityRecords.empty : (try? EtcdIdentityRepository.decodeDenyList(event.kv.value))
            if let r { repo.acceptDenyList(r, mod: event.kv.modRevision) }
        }
        func reload() throws -> Int64 {
            let (kv, revision) = try repo.store.read(EtcdIdentityRepository.denyList)
            let values: [String: (value: IdentityRecords?, mod: Int64)] =
                kv.map { [EtcdIdentityRepository.denyList: (try? EtcdIdentityRepository.decodeDenyList($0.value), $0.modRevision)] } ?? [:]
            repo.denyKeyed.reloaded(values, at: revision) { _, _ in
                if let now = try? repo.load() { repo.observers.notify(now) }
            }
            return revision
        }
    }

    private struct LatestRoute: EtcdRoute {
        let repo: EtcdIdentityRepository
        var loadedAt: Int64 { repo.latestKeyed.loadedAt }
        func apply(_ event: EtcdEvent, suffix: String) {
            let l = event.kind == .delete ? nil : (try? EtcdIdentityRepository.decode(event.kv.value))
            repo.acceptLatest(suffix, l, mod: event.kv.modRevision)
        }
        func reload() throws -> Int64 {
            let (values, at) = try EtcdIdentityRepository.readLatest(repo.store)
            repo.latestKeyed.reloaded(values, at: at) { suffix, l in
                if let id = try? SPIFFEID.workload(String(suffix.dropFirst(EtcdIdentityRepository.latestPrefix.count))) {
                    repo.latestObservers.notify((id, l))
                }
            }
            return at
        }
    }
}
