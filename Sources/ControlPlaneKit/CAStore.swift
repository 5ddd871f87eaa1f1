#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshNet
import MeshTLS

/// The roots the control plane holds, and where each is in its life:
/// `staged` (in the bundle, not issuing yet) → `issuing` → `retiring` (in the bundle, no longer issuing) →
/// `retired` (out of the bundle). Rotation moves them along on a schedule so that no connection fails:
/// a new root is distributed for one overlap before it issues, and an old one stays trusted until every leaf
/// it signed has expired. Persisted in `DIR/ca/state.json`; keys encrypted at rest.
public final class CAStore: Sendable {
    public enum Phase: String, Sendable { case staged, issuing, retiring, retired }

    public struct Root: Sendable {
        public let id: Int
        public let certificate: Certificate
        /// Intermediates between `certificate` and a trust anchor (empty for a self-made root).
        public let chain: [Certificate]
        /// What goes in the trust bundle for this authority (the root itself, or the imported roots).
        public let anchors: [Certificate]
        let key: PrivateKey
        public var phase: Phase
        public var addedAt: Double
        /// When a staged root starts issuing, or a retiring one leaves the bundle.
        public var nextAt: Double?
    }

    let dir: String
    let passphrase: [UInt8]
    public let trustDomain: TrustDomain
    private let roots: Mutex<[Root]>

    /// The folder layout under the data directory.
    static func caDir(_ dataDir: String) -> String { "\(dataDir)/ca" }

    /// Loads `DIR/ca/state.json` and every key (decrypting with `passphrase`).
    public init(dataDir: String, passphrase: [UInt8]) throws {
        dir = Self.caDir(dataDir)
        self.passphrase = passphrase
        DurableFile.removeLeftovers(in: dir)
        let doc = try StrictJSON.parse(try DurableFile.read("\(dir)/state.json"))
        guard let td = doc["trustDomain"]?.stringValue, let list = doc["roots"]?.arrayValue else {
            throw MeshError("ca.corrupt", "\(dir)/state.json lacks trustDomain or roots")
        }
        trustDomain = try TrustDomain(td)
        var loaded: [Root] = []
        for r in list {
            guard let id = r["id"]?.intValue, let phase = r["phase"]?.stringValue.flatMap(Phase.init(rawValue:)) else {
                throw MeshError("ca.corrupt", "a root in \(dir)/state.json lacks id or phase")
            }
            let cert = try Certificate.parseChain(pem: try DurableFile.read("\(dir)/root-\(id).crt"), maxCount: 1)[0]
            let chain = DurableFile.exists("\(dir)/root-\(id).chain") ? try Certificate.parseChain(pem: try DurableFile.read("\(dir)/root-\(id).chain")) : []
            let anchors = DurableFile.exists("\(dir)/root-\(id).anchors") ? try Certificate.parseChain(pem: try DurableFile.read("\(dir)/root-\(id).anchors"), maxCount: 16) : [cert]
            let key = try PrivateKey(pem: try DurableFile.read("\(dir)/root-\(id).key"), passphrase: passphrase)
            loaded.append(Root(id: id, certificate: cert, chain: chain, anchors: anchors, key: key, phase: phase,
                               addedAt: Double(r["addedAt"]?.intValue ?? 0), nextAt: r["nextAt"]?.intValue.map(Double.init)))
        }
        guard loaded.contains(where: { $0.phase == .issuing }) else {
            throw MeshError("ca.corrupt", "no issuing root in \(dir)/state.json")
        }
        roots = Mutex(loaded)
    }

    /// `mesh-control init`: a fresh self-signed root (or an imported intermediate) as the issuing authority.
    public static func initialize(dataDir: String, trustDomain: TrustDomain, passphrase: [UInt8], now: Double,
                                  imported: (cert: Certificate, key: PrivateKey, chain: [Certificate], anchors: [Certificate])? = nil) throws {
        let dir = caDir(dataDir)
        try DurableFile.makeDirectory(dataDir)
        try DurableFile.makeDirectory(dir)
        if DurableFile.exists("\(dir)/state.json") {
            throw MeshError("ca.exists", "\(dir) already holds a CA; refusing to overwrite it")
        }
        let root: (Certificate, PrivateKey, [Certificate], [Certificate])
        if let imported {
            root = (imported.cert, imported.key, imported.chain, imported.anchors)
        } else {
            let ca = try CertificateAuthority.selfSignedRoot(trustDomain: trustDomain, now: now, lifetime: 10 * 365 * 86_400,
                                                             commonName: "\(trustDomain.name) root 1")
            root = (ca.certificate, ca.key, [], [ca.certificate])
        }
        try writeRootFiles(dir: dir, id: 1, cert: root.0, key: root.1, chain: root.2, anchors: root.3, passphrase: passphrase)
        let r = Root(id: 1, certificate: root.0, chain: root.2, anchors: root.3, key: root.1, phase: .issuing, addedAt: now, nextAt: nil)
        try persist(dir: dir, trustDomain: trustDomain, roots: [r])
    }

    // MARK: reading

    public var all: [Root] { roots.withLock { $0 } }

    /// The authority that signs now.
    public var issuing: Root { roots.withLock { $0.first { $0.phase == .issuing }! } }

    /// Every anchor peers must trust now (staged, issuing and retiring roots).
    public var bundle: [Certificate] {
        roots.withLock { list in list.filter { $0.phase != .retired }.flatMap(\.anchors) }
    }

    public var bundlePEM: [UInt8] { bundle.flatMap { $0.pem() } }

    /// Signs a leaf with the issuing authority; returns it with the chain up to (not including) the anchor.
    public func sign(_ template: CertificateTemplate, for csr: CertificateSigningRequest) throws -> [Certificate] {
        let r = issuing
        let leaf = try CertificateAuthority(certificate: r.certificate, key: r.key).issue(template, for: csr)
        return [leaf] + (r.chain.isEmpty && r.anchors.contains(where: { $0.sha256Fingerprint == r.certificate.sha256Fingerprint })
                         ? [] : [r.certificate] + r.chain)
    }

    /// Signs a leaf for a key we hold (the control plane's own serving certificate).
    public func sign(_ template: CertificateTemplate, for key: PrivateKey) throws -> [Certificate] {
        let r = issuing
        let leaf = try CertificateAuthority(certificate: r.certificate, key: r.key).issue(template, for: key)
        return [leaf] + (r.chain.isEmpty && r.anchors.contains(where: { $0.sha256Fingerprint == r.certificate.sha256Fingerprint })
                         ? [] : [r.certificate] + r.chain)
    }

    // MARK: rotation

    /// Starts a rotation: a new root joins the bundle now and starts issuing after `overlap` seconds.
    /// Refused while another rotation is under way.
    public func rotate(now: Double, overlap: Double) throws -> Root {
        try roots.withLock { (list) throws -> Root in
            if list.contains(where: { $0.phase == .staged || $0.phase == .retiring }) {
                throw MeshError("ca.rotation-in-progress", "a rotation is already under way; see `meshctl ca status`")
            }
            let id = (list.map(\.id).max() ?? 0) + 1
            let ca = try CertificateAuthority.selfSignedRoot(trustDomain: trustDomain, now: now, lifetime: 10 * 365 * 86_400,
                                                             commonName: "\(trustDomain.name) root \(id)")
            try Self.writeRootFiles(dir: dir, id: id, cert: ca.certificate, key: ca.key, chain: [], anchors: [ca.certificate], passphrase: passphrase)
            let root = Root(id: id, certificate: ca.certificate, chain: [], anchors: [ca.certificate], key: ca.key,
                            phase: .staged, addedAt: now, nextAt: now + overlap)
            var next = list
            next.append(root)
            try Self.persist(dir: dir, trustDomain: trustDomain, roots: next)
            list = next
            return root
        }
    }

    /// Moves the schedule along; returns what changed (for the audit log), empty when nothing did.
    public func advance(now: Double, retireAfter: Double) throws -> [String] {
        try roots.withLock { (list) throws -> [String] in
            var next = list
            var changes: [String] = []
            if let s = next.firstIndex(where: { $0.phase == .staged }), let at = next[s].nextAt, now >= at {
                for i in next.indices where next[i].phase == .issuing {
                    next[i].phase = .retiring
                    next[i].nextAt = now + retireAfter
                    changes.append("root \(next[i].id) stops issuing; retires at +\(Int(retireAfter)) s")
                }
                next[s].phase = .issuing
                next[s].nextAt = nil
                changes.append("root \(next[s].id) issues")
            }
            for i in next.indices where next[i].phase == .retiring {
                if let at = next[i].nextAt, now >= at {
                    next[i].phase = .retired
                    next[i].nextAt = nil
                    changes.append("root \(next[i].id) retired (out of the bundle)")
                }
            }
            if !changes.isEmpty {
                try Self.persist(dir: dir, trustDomain: trustDomain, roots: next)
                list = next
            }
            return changes
        }
    }

    // MARK: files

    static func writeRootFiles(dir: String, id: Int, cert: Certificate, key: PrivateKey, chain: [Certificate],
                               anchors: [Certificate], passphrase: [UInt8]) throws {
        try DurableFile.write("\(dir)/root-\(id).crt", cert.pem(), mode: 0o644)
        try DurableFile.write("\(dir)/root-\(id).key", try key.encryptedPEM(passphrase: passphrase), mode: 0o600)
        if !chain.isEmpty { try DurableFile.write("\(dir)/root-\(id).chain", chain.flatMap { $0.pem() }, mode: 0o644) }
        if anchors.count != 1 || anchors[0].sha256Fingerprint != cert.sha256Fingerprint {
            try DurableFile.write("\(dir)/root-\(id).anchors", anchors.flatMap { $0.pem() }, mode: 0o644)
        }
    }

    static func persist(dir: String, trustDomain: TrustDomain, roots: [Root]) throws {
        let doc = JSONValue.object([
            ("trustDomain", .string(trustDomain.name)),
            ("roots", .array(roots.map { r in
                .object([("id", .int(r.id)), ("phase", .string(r.phase.rawValue)), ("addedAt", .int(Int(r.addedAt))),
                         ("nextAt", r.nextAt.map { .int(Int($0)) } ?? .null),
                         ("sha256", .string(r.certificate.sha256Fingerprint))])
            })),
        ])
        try DurableFile.write("\(dir)/state.json", Array((doc.text + "\n").utf8), mode: 0o600)
        // A plain copy of the current bundle for operators and meshctl (`--data-dir`).
        try DurableFile.write("\(DurableFile.directory(of: dir))/bundle.pem",
                              roots.filter { $0.phase != .retired }.flatMap(\.anchors).flatMap { $0.pem() }, mode: 0o644)
    }
}
