import MeshNet
import Synchronization
import MeshCore
import MeshTLS

/// The CA state under `DIR/ca`: `state.json` (trust domain, revision, each root's phase and schedule) and per
/// root `root-N.crt`, `root-N.key` (PKCS#8, encrypted with the passphrase), optional `.chain` and `.anchors`;
/// plus `DIR/bundle.pem`, a plain copy of the current bundle for operators. A new root's files are written
/// before the `state.json` that names them, so `state.json` is the commit point.
public final class FileCAStateRepository: CAStateRepository {
    let dir: String
    let passphrase: [UInt8]
    private let stored: Mutex<(state: CAState, rootsOnDisk: Set<Int>)>
    private let observers = ChangeObservers<CAState>()

    static func caDir(_ dataDir: String) -> String { "\(dataDir)/ca" }

    /// Loads `DIR/ca/state.json` and every key (decrypting with `passphrase`).
    public init(dataDir: String, passphrase: [UInt8]) throws {
        dir = Self.caDir(dataDir)
        self.passphrase = passphrase
        DurableFile.removeLeftovers(in: dir)
        let doc = try StrictJSON.parse(try DurableFile.read("\(dir)/state.json"))
        guard let td = doc["trustDomain"]?.stringValue, let list = doc["roots"]?.arrayValue else {
            throw MeshError(.caCorrupt, "\(dir)/state.json lacks trustDomain or roots")
        }
        var loaded: [CAState.Root] = []
        for r in list {
            guard let id = r["id"]?.intValue, let phase = r["phase"]?.stringValue.flatMap(CAState.Phase.init(rawValue:)) else {
                throw MeshError(.caCorrupt, "a root in \(dir)/state.json lacks id or phase")
            }
            let cert = try Certificate.parseChain(pem: try DurableFile.read("\(dir)/root-\(id).crt"), maxCount: 1)[0]
            let chain = DurableFile.exists("\(dir)/root-\(id).chain") ? try Certificate.parseChain(pem: try DurableFile.read("\(dir)/root-\(id).chain")) : []
            let anchors = DurableFile.exists("\(dir)/root-\(id).anchors") ? try Certificate.parseChain(pem: try DurableFile.read("\(dir)/root-\(id).anchors"), maxCount: 16) : [cert]
            let key = try PrivateKey(pem: try DurableFile.read("\(dir)/root-\(id).key"), passphrase: passphrase)
            loaded.append(CAState.Root(id: id, certificate: cert, chain: chain, anchors: anchors, key: key, phase: phase,
                                       addedAt: Double(r["addedAt"]?.intValue ?? 0), nextAt: r["nextAt"]?.intValue.map(Double.init)))
        }
        guard loaded.contains(where: { $0.phase == .issuing }) else {
            throw MeshError(.caCorrupt, "no issuing root in \(dir)/state.json")
        }
        let state = CAState(trustDomain: try TrustDomain(td), revision: doc["revision"]?.intValue ?? 0, roots: loaded)
        stored = Mutex((state, Set(loaded.map(\.id))))
    }

    /// `mesh-control init`: a fresh self-signed root (or an imported intermediate) as the issuing authority.
    public static func initialize(dataDir: String, trustDomain: TrustDomain, passphrase: [UInt8], now: Double,
                                  imported: (cert: Certificate, key: PrivateKey, chain: [Certificate], anchors: [Certificate])? = nil) throws {
        let dir = caDir(dataDir)
        try DurableFile.makeDirectory(dataDir)
        try DurableFile.makeDirectory(dir)
        if DurableFile.exists("\(dir)/state.json") {
            throw MeshError(.caExists, "\(dir) already holds a CA; refusing to overwrite it")
        }
        let root = try CAState.Root.first(trustDomain: trustDomain, now: now, imported: imported)
        try writeRootFiles(dir: dir, root, passphrase: passphrase)
        try persist(dir: dir, CAState(trustDomain: trustDomain, revision: 1, roots: [root]))
    }

    public func load() throws -> CAState { stored.withLock { $0.state } }

    public func compareAndSet(expected: Int, _ next: CAState) throws {
        try stored.withLock { (s) throws in
            guard s.state.revision == expected else {
                throw MeshError(.caConflict, "the CA state is at revision \(s.state.revision), not \(expected)")
            }
            for r in next.all where !s.rootsOnDisk.contains(r.id) {
                try Self.writeRootFiles(dir: dir, r, passphrase: passphrase)
            }
            try Self.persist(dir: dir, next)
            // Only the roots `state.json` names count as stored: after going back to an earlier state, a root
            // with a dropped id is a new root with its own files.
            s = (next, Set(next.all.map(\.id)))
        }
        observers.notify(next)
    }

    public func subscribe(_ onChange: @escaping @Sendable (CAState) -> Void) -> Subscription {
        observers.subscribe(onChange)
    }

    static func writeRootFiles(dir: String, _ r: CAState.Root, passphrase: [UInt8]) throws {
        try DurableFile.write("\(dir)/root-\(r.id).crt", r.certificate.pem(), mode: 0o644)
        try DurableFile.write("\(dir)/root-\(r.id).key", try r.key.encryptedPEM(passphrase: passphrase), mode: 0o600)
        if !r.chain.isEmpty { try DurableFile.write("\(dir)/root-\(r.id).chain", r.chain.flatMap { $0.pem() }, mode: 0o644) }
        if r.anchors.count != 1 || r.anchors[0].sha256Fingerprint != r.certificate.sha256Fingerprint {
            try DurableFile.write("\(dir)/root-\(r.id).anchors", r.anchors.flatMap { $0.pem() }, mode: 0o644)
        }
    }

    static func persist(dir: String, _ state: CAState) throws {
        let doc = JSONValue.object([
            ("trustDomain", .string(state.trustDomain.name)),
            ("revision", .int(state.revision)),
            ("roots", .array(state.all.map { r in
                .object([("id", .int(r.id)), ("phase", .string(r.phase.rawValue)), ("addedAt", .int(Int(r.addedAt))),
                         ("nextAt", r.nextAt.map { .int(Int($0)) } ?? .null),
                         ("sha256", .string(r.certificate.sha256Fingerprint))])
            })),
        ])
        try DurableFile.write("\(dir)/state.json", Array((doc.text + "\n").utf8), mode: 0o600)
        try DurableFile.write("\(DurableFile.directory(of: dir))/bundle.pem", state.bundlePEM, mode: 0o644)
    }
}
