import Synchronization
import MeshCore
import MeshEtcd
import MeshTLS

/// The CA state in etcd: one key, `ca/state` → {trustDomain, revision, roots: [{id, phase, addedAt, nextAt,
/// certificate, chain, anchors (PEM), key (PKCS#8 PEM encrypted with the passphrase, exactly as the file store
/// writes `root-N.key`)}]}. One key makes a rotation's new root and its phases one atomic write. The compare-
/// and-set is a transaction on the key's mod revision as last seen. Encrypted and decrypted keys are cached
/// per root (by certificate fingerprint), so a change re-runs the key derivation only for a new root.
public final class EtcdCAStateRepository: CAStateRepository {
    let store: EtcdStore
    let passphrase: [UInt8]
    private let keyed: EtcdKeyed<CAState>
    private let observers = ChangeObservers<CAState>()
    /// fingerprint → (encrypted PEM, key).
    private let keys = Mutex<[String: (pem: [UInt8], key: PrivateKey)]>([:])
    static let stateKey = "ca/state"

    /// Reads `ca/state`; throws `ca.corrupt` when there is none (run `mesh-control init --store etcd`).
    public init(store: EtcdStore, passphrase: [UInt8]) throws {
        self.store = store
        self.passphrase = passphrase
        let (kv, revision) = try store.read(Self.stateKey)
        keyed = EtcdKeyed([:], loadedAt: 0)
        guard let kv else { throw MeshError(.caCorrupt, "etcd holds no CA under \(store.prefix) (run mesh-control init --store etcd)") }
        keyed.reloaded([Self.stateKey: (try decode(kv.value), kv.modRevision)], at: revision) { _, _ in }
        store.register(Self.stateKey, Route(repo: self))
    }

    /// `mesh-control init --store etcd` / migrate: writes the first state; refuses when one exists (`ca.exists`).
    static func create(store: EtcdStore, _ state: CAState, passphrase: [UInt8], extra: [EtcdOp] = []) throws {
        let k = store.key(stateKey)
        let encoded = try encode(state, passphrase: passphrase, cached: [:]).bytes
        let r = try store.kv.txn([.createRevision(k, equals: 0)], success: [.put(k, encoded, lease: 0)] + extra, failure: [])
        guard r.succeeded else { throw MeshError(.caExists, "etcd already holds a CA under \(store.prefix); refusing to overwrite it") }
    }

    public func load() throws -> CAState {
        guard let s = keyed.value(Self.stateKey).value else { throw MeshError(.caCorrupt, "the CA state vanished from etcd") }
        return s
    }

    public func compareAndSet(expected: Int, _ next: CAState) throws {
        let (seen, mod) = keyed.value(Self.stateKey)
        let stored = seen?.revision ?? 0
        guard stored == expected else { throw conflict(stored, expected) }
        let k = store.key(Self.stateKey)
        let (bytes, made) = try Self.encode(next, passphrase: passphrase, cached: keys.withLock { $0 })
        keys.withLock { $0.merge(made) { a, _ in a } }
        let r = try store.kv.txn([.modRevision(k, equals: mod)], success: [.put(k, bytes, lease: 0)], failure: [.get(k)])
        guard r.succeeded else {
            if let now = r.gets.first ?? nil, let found = try? decode(now.value) {
                accept(found, mod: now.modRevision)
                throw conflict(found.revision, expected)
            }
            throw conflict(-1, expected)
        }
        accept(next, mod: r.revision)
    }

    public func subscribe(_ onChange: @escaping @Sendable (CAState) -> Void) -> Subscription {
        observers.subscribe(onChange)
    }

    func accept(_ s: CAState, mod: Int64) {
        keyed.accept(Self.stateKey, s, mod: mod) { if let s = $0 { observers.notify(s) } }
    }

    private func conflict(_ stored: Int, _ expected: Int) -> MeshError {
        MeshError(.caConflict, "the CA state is at revision \(stored), not \(expected)")
    }

    static func encode(_ s: CAState, passphrase: [UInt8], cached: [String: (pem: [UInt8], key: PrivateKey)]) throws
        -> (bytes: [UInt8], made: [String: (pem: [UInt8], key: PrivateKey)]) {
        var made: [String: (pem: [UInt8], key: PrivateKey)] = [:]
        var roots: [JSONValue] = []
        for r in s.all {
            let fp = r.certificate.sha256Fingerprint
            let pem = try cached[fp]?.pem ?? made[fp]?.pem ?? r.key.encryptedPEM(passphrase: passphrase)
            made[fp] = (pem, r.key)
            roots.append(.object([
                ("id", .int(r.id)), ("phase", .string(r.phase.rawValue)), ("addedAt", .int(Int(r.addedAt))),
                ("nextAt", r.nextAt.map { .int(Int($0)) } ?? .null),
                ("certificate", .string(String(decoding: r.certificate.pem(), as: UTF8.self))),
                ("chain", .string(String(decoding: r.chain.flatMap { $0.pem() }, as: UTF8.self))),
                ("anchors", .string(String(decoding: r.anchors.flatMap { $0.pem() }, as: UTF8.self))),
                ("key", .string(String(decoding: pem, as: UTF8.self))),
            ]))
        }
        let doc = JSONValue.object([("trustDomain", .string(s.trustDomain.name)), ("revision", .int(s.revision)), ("roots", .array(roots))])
        return (Array(doc.text.utf8), made)
    }

    func decode(_ bytes: [UInt8]) throws -> CAState {
        let doc = try StrictJSON.parse(bytes, limits: StrictJSON.Limits(maxBytes: 4 << 20))
        guard let td = doc["trustDomain"]?.stringValue, let revision = doc["revision"]?.intValue, let list = doc["roots"]?.arrayValue else {
            throw MeshError(.caCorrupt, "etcd \(Self.stateKey) lacks trustDomain, revision or roots")
        }
        var roots: [CAState.Root] = []
        for r in list {
            guard let id = r["id"]?.intValue, let phase = r["phase"]?.stringValue.flatMap(CAState.Phase.init(rawValue:)),
                  let certPEM = r["certificate"]?.stringValue, let keyPEM = r["key"]?.stringValue else {
                throw MeshError(.caCorrupt, "a root in etcd \(Self.stateKey) lacks id, phase, certificate or key")
            }
            let cert = try Certificate.parseChain(pem: Array(certPEM.utf8), maxCount: 1)[0]
            let chainText = r["chain"]?.stringValue ?? "", anchorsText = r["anchors"]?.stringValue ?? ""
            let chain = chainText.isEmpty ? [] : try Certificate.parseChain(pem: Array(chainText.utf8))
            let anchors = anchorsText.isEmpty ? [cert] : try Certificate.parseChain(pem: Array(anchorsText.utf8), maxCount: 16)
            let fp = cert.sha256Fingerprint
            let key: PrivateKey
            if let k = keys.withLock({ $0[fp] }) { key = k.key } else {
                key = try PrivateKey(pem: Array(keyPEM.utf8), passphrase: passphrase)
                keys.withLock { $0[fp] = (Array(keyPEM.utf8), key) }
            }
            roots.append(CAState.Root(id: id, certificate: cert, chain: chain, anchors: anchors, key: key, phase: phase,
                                      addedAt: Double(r["addedAt"]?.intValue ?? 0), nextAt: r["nextAt"]?.intValue.map(Double.init)))
        }
        guard roots.contains(where: { $0.phase == .issuing }) else { throw MeshError(.caCorrupt, "no issuing root in etcd \(Self.stateKey)") }
        return CAState(trustDomain: try TrustDomain(td), revision: revision, roots: roots)
    }

    private struct Route: EtcdRoute {
        let repo: EtcdCAStateRepository
        var loadedAt: Int64 { repo.keyed.loadedAt }
        func apply(_ event: EtcdEvent, suffix: String) {
            guard event.kind == .put, let s = try? repo.decode(event.kv.value) else { return }
            repo.accept(s, mod: event.kv.modRevision)
        }
        func reload() throws -> Int64 {
            let (kv, revision) = try repo.store.read(EtcdCAStateRepository.stateKey)
            var values: [String: (value: CAState?, mod: Int64)] = [:]
            if let kv, let s = try? repo.decode(kv.value) { values[EtcdCAStateRepository.stateKey] = (s, kv.modRevision) }
            repo.keyed.reloaded(values, at: revision) { _, s in if let s { repo.observers.notify(s) } }
            return revision
        }
    }
}
