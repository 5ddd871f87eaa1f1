import MeshCore
import MeshTLS

/// The roots the control plane holds, and where each is in its life:
/// `staged` (in the bundle, not issuing yet) → `issuing` → `retiring` (in the bundle, no longer issuing) →
/// `retired` (out of the bundle). Rotation moves them along on a schedule so that no connection fails:
/// a new root is distributed for one overlap before it issues, and an old one stays trusted until every leaf
/// it signed has expired. A value: changes are new states, committed through a `CAStateRepository`.
public struct CAState: Sendable {
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

    public let trustDomain: TrustDomain
    /// Increases by one with every committed change; the compare-and-set token.
    public let revision: Int
    public let all: [Root]

    init(trustDomain: TrustDomain, revision: Int, roots: [Root]) {
        self.trustDomain = trustDomain
        self.revision = revision
        all = roots
    }

    /// The authority that signs now (a loaded state always has one).
    public var issuing: Root { all.first { $0.phase == .issuing }! }

    /// Every anchor peers must trust now (staged, issuing and retiring roots).
    public var bundle: [Certificate] { all.filter { $0.phase != .retired }.flatMap(\.anchors) }

    public var bundlePEM: [UInt8] { bundle.flatMap { $0.pem() } }

    /// Signs a leaf with the issuing authority; returns it with the chain up to (not including) the anchor.
    public func sign(_ template: CertificateTemplate, for csr: CertificateSigningRequest) throws -> [Certificate] {
        let r = issuing
        return [try CertificateAuthority(certificate: r.certificate, key: r.key).issue(template, for: csr)] + Self.sentChain(r)
    }

    /// Signs a leaf for a key we hold (the control plane's own serving certificate).
    public func sign(_ template: CertificateTemplate, for key: PrivateKey) throws -> [Certificate] {
        let r = issuing
        return [try CertificateAuthority(certificate: r.certificate, key: r.key).issue(template, for: key)] + Self.sentChain(r)
    }

    /// A self-made root is the anchor itself and is not sent; an intermediate is sent with its chain.
    private static func sentChain(_ r: Root) -> [Certificate] {
        r.chain.isEmpty && r.anchors.contains(where: { $0.sha256Fingerprint == r.certificate.sha256Fingerprint })
            ? [] : [r.certificate] + r.chain
    }

    // MARK: changes (each returns the next state; nothing is stored here)

    /// Starts a rotation: a new root (fresh key) joins the bundle now and issues after `overlap` seconds.
    /// Refused while another rotation is under way.
    public func rotated(now: Double, overlap: Double) throws -> (state: CAState, root: Root) {
        if all.contains(where: { $0.phase == .staged || $0.phase == .retiring }) {
            throw MeshError(.caRotationInProgress, "a rotation is already under way; see `meshctl ca status`")
        }
        let id = (all.map(\.id).max() ?? 0) + 1
        let ca = try CertificateAuthority.selfSignedRoot(trustDomain: trustDomain, now: now, lifetime: 10 * 365 * 86_400,
                                                         commonName: "\(trustDomain.name) root \(id)")
        let root = Root(id: id, certificate: ca.certificate, chain: [], anchors: [ca.certificate], key: ca.key,
                        phase: .staged, addedAt: now, nextAt: now + overlap)
        return (CAState(trustDomain: trustDomain, revision: revision + 1, roots: all + [root]), root)
    }

    /// Moves the schedule along; `nil` when nothing is due, else the next state and what changed (for the audit).
    public func advanced(now: Double, retireAfter: Double) -> (state: CAState, changes: [String])? {
        var next = all
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
        return changes.isEmpty ? nil : (CAState(trustDomain: trustDomain, revision: revision + 1, roots: next), changes)
    }
}

extension CAState.Root {
    /// The first issuing root of a new control plane (`mesh-control init`, either store): a fresh self-signed
    /// root valid ten years, or an imported intermediate with its chain and anchors.
    static func first(trustDomain: TrustDomain, now: Double,
                      imported: (cert: Certificate, key: PrivateKey, chain: [Certificate], anchors: [Certificate])?) throws -> CAState.Root {
        if let imported {
            return CAState.Root(id: 1, certificate: imported.cert, chain: imported.chain, anchors: imported.anchors, key: imported.key,
                                phase: .issuing, addedAt: now, nextAt: nil)
        }
        let ca = try CertificateAuthority.selfSignedRoot(trustDomain: trustDomain, now: now, lifetime: 10 * 365 * 86_400,
                                                         commonName: "\(trustDomain.name) root 1")
        return CAState.Root(id: 1, certificate: ca.certificate, chain: [], anchors: [ca.certificate], key: ca.key,
                            phase: .issuing, addedAt: now, nextAt: nil)
    }
}
