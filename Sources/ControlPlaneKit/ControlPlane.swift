#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshNet
import MeshTLS

/// Settings of `mesh-control serve`, with their defaults.
public struct ControlSettings: Sendable {
    /// Lifetime of issued workload certificates (default 24 h; at least 10 s).
    public var certTTL: Double = 86_400
    /// How long a new root is distributed before it issues, and an old one is kept after it stops (default:
    /// `certTTL`, the longest leaf lifetime, so every sidecar renews once in between).
    public var rotationOverlap: Double?
    /// Issuances per identity per minute (default 30); beyond it 429.
    public var issuesPerMinute = 30
    /// How long after its certificate expired a sidecar may still renew with it (default: `certTTL`); later it
    /// needs a new join token. It proves possession of the key the CA certified, so this only bridges an
    /// outage of the control plane.
    public var renewalGrace: Double?
    public var grace: Double { renewalGrace ?? certTTL }
    public init() {}
    public var overlap: Double { rotationOverlap ?? certTTL }
}

/// The control plane's state and rules, independent of HTTP: who gets which certificate, tokens, rotation,
/// and the audit record of each. Every change is durable and audited before it is acknowledged.
public final class ControlPlane: Sendable {
    public let dataDir: String
    public let settings: ControlSettings
    public let ca: CAStore
    public let tokens: TokenStore
    public let audit: AuditLog
    /// The mesh configuration (services, segments, rules) and its distribution to sidecars.
    public let policy: PolicyStore
    public let distribution: PolicyDistribution
    public let clock: any Clock
    let adminTokenHash: String
    private let recentIssues = Mutex<[SPIFFEID: [Double]]>([:])

    /// The control plane's own workload identity (its HTTPS certificate carries it).
    public var identity: SPIFFEID { try! SPIFFEID.service(trustDomain: ca.trustDomain, namespace: "mesh-system", name: "mesh-control") }

    public init(dataDir: String, passphrase: [UInt8], settings: ControlSettings, clock: any Clock = SystemClock()) throws {
        self.dataDir = dataDir
        self.settings = settings
        self.clock = clock
        DurableFile.removeLeftovers(in: dataDir)  // never-acknowledged temp files of an interrupted write
        ca = try CAStore(dataDir: dataDir, passphrase: passphrase)
        tokens = try TokenStore(dataDir: dataDir)
        audit = try AuditLog(path: "\(dataDir)/audit.log")
        policy = try PolicyStore(dataDir: dataDir, audit: audit)
        distribution = PolicyDistribution(store: policy, clock: clock)
        let stored = try DurableFile.read("\(dataDir)/admin.token.sha256")
        adminTokenHash = String(decoding: stored, as: UTF8.self).trimming(" \n")
    }

    /// `mesh-control init`: CA, admin credential (`DIR/admin.token`, 0600, shown once), empty audit log.
    public static func initialize(dataDir: String, trustDomain: TrustDomain, passphrase: [UInt8], now: Double,
                                  imported: (cert: Certificate, key: PrivateKey, chain: [Certificate], anchors: [Certificate])?) throws -> String {
        try CAStore.initialize(dataDir: dataDir, trustDomain: trustDomain, passphrase: passphrase, now: now, imported: imported)
        guard let secret = Random.hex(32).map({ "mat_" + $0 }) else { throw MeshError("init.random", "no randomness available") }
        try DurableFile.write("\(dataDir)/admin.token", Array((secret + "\n").utf8), mode: 0o600)
        try DurableFile.write("\(dataDir)/admin.token.sha256", Array((SHA256.hex(Array(secret.utf8)) + "\n").utf8), mode: 0o600)
        let audit = try AuditLog(path: "\(dataDir)/audit.log")
        try audit.append(time: now, actor: "mesh-control init", action: "ca.init", [
            ("trustDomain", .string(trustDomain.name)), ("imported", .bool(imported != nil)),
            ("root", .string(CAStore(dataDir: dataDir, passphrase: passphrase).issuing.certificate.sha256Fingerprint)),
        ])
        return secret
    }

    // MARK: operator credential

    /// True when `bearer` is the admin token.
    public func isAdmin(_ bearer: String?) -> Bool {
        guard let bearer else { return false }
        return TokenStore.constantTimeEqual(SHA256.hex(Array(bearer.utf8)), adminTokenHash)
    }

    // MARK: tokens

    public func createToken(for identity: SPIFFEID, ttl: Double, actor: String) throws -> (secret: String, expiresAt: Double) {
        guard identity.trustDomain == ca.trustDomain else {
            throw MeshError("token.foreign-trust-domain", "\(identity) is not in trust domain \(ca.trustDomain)")
        }
        let now = clock.wallSeconds()
        let t = try tokens.create(identity: identity, ttl: ttl, now: now, createdBy: actor)
        try audit.append(time: now, actor: actor, action: "token.create",
                         [("identity", .string(identity.description)), ("expiresAt", .int(Int(t.expiresAt)))])
        return t
    }

    // MARK: issuance

    public struct Issued: Sendable {
        public let identity: SPIFFEID
        public let chain: [Certificate]
        public let bundle: [Certificate]
    }

    /// Signs `csr` for the identity proven by `token` (first time) or by the caller's current certificate
    /// (`peer`, renewal). The CSR's own subject and SANs are ignored: the CA decides the identity.
    public func issue(csrPEM: [UInt8], token: String?, peer: SPIFFEID?) throws -> Issued {
        let now = clock.wallSeconds()
        let csr = try CertificateSigningRequest(pem: csrPEM)
        let identity: SPIFFEID
        let via: String
        if let token {
            identity = try tokens.redeem(token, now: now) { id in try self.checkRate(id, now: now) }
            via = "token"
        } else if let peer {
            identity = peer
            via = "renewal"
            try checkRate(identity, now: now)
        } else {
            throw MeshError("issue.unauthenticated", "present a join token or your current certificate")
        }
        let chain = try ca.sign(.svid(identity, now: now, lifetime: settings.certTTL), for: csr)
        let asked = csr.requestedURIs.filter { $0 != identity.description }
        try audit.append(time: now, actor: via == "token" ? "join-token" : identity.description, action: "certificate.issue", [
            ("identity", .string(identity.description)), ("via", .string(via)), ("serial", .string(chain[0].serialHex)),
            ("notAfter", .int(Int(chain[0].notAfter))), ("root", .int(ca.issuing.id)),
            ("csrAskedFor", .array(asked.map { .string($0) })),
        ])
        return Issued(identity: identity, chain: chain, bundle: ca.bundle)
    }

    /// A renewing certificate must be valid now, or expired less than `settings.grace` ago.
    public func checkRenewalCredential(_ id: SPIFFEID, notBefore: Double, notAfter: Double) throws {
        let now = clock.wallSeconds()
        if notBefore > now + 60 {
            throw MeshError("issue.certificate-not-yet-valid", "\(id): the presented certificate is not valid yet")
        }
        if notAfter + settings.grace < now {
            throw MeshError("issue.certificate-expired", "\(id): the presented certificate expired \(Int(now - notAfter)) s ago, beyond the \(Int(settings.grace)) s grace; use a new join token")
        }
    }

    private func checkRate(_ id: SPIFFEID, now: Double) throws {
        let limit = settings.issuesPerMinute
        try recentIssues.withLock { (m) throws in
            var times = (m[id] ?? []).filter { now - $0 < 60 }
            if times.count >= limit {
                throw MeshError("issue.rate-limited", "\(id) was issued \(times.count) certificates in the last minute (limit \(limit))")
            }
            times.append(now)
            m[id] = times
        }
    }

    // MARK: CA rotation

    public func rotate(actor: String) throws -> CAStore.Root {
        let now = clock.wallSeconds()
        let root = try ca.rotate(now: now, overlap: settings.overlap)
        try audit.append(time: now, actor: actor, action: "ca.rotate", [
            ("newRoot", .int(root.id)), ("sha256", .string(root.certificate.sha256Fingerprint)),
            ("issuesAt", .int(Int(root.nextAt ?? now))),
        ])
        return root
    }

    /// Moves a rotation along its schedule; true when the issuing root changed (the caller renews its own
    /// serving certificate).
    @discardableResult
    public func tick() throws -> Bool {
        let now = clock.wallSeconds()
        let before = ca.issuing.id
        let changes = try ca.advance(now: now, retireAfter: settings.certTTL)
        for c in changes {
            try audit.append(time: now, actor: "mesh-control", action: "ca.schedule", [("change", .string(c))])
        }
        return ca.issuing.id != before
    }
}

