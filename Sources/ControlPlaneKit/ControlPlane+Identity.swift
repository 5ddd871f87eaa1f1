import MeshCore
import MeshTLS

/// Join tokens and certificate issuance (bootstrap with a token, renewal with the current certificate).
extension ControlPlane {
    /// What a caller proves to get a certificate.
    public enum Credential: Sendable {
        /// A join token's secret (first time).
        case joinToken(String)
        /// The caller's current certificate, already verified by TLS (renewal); its validity is checked here, and
        /// its serial must be the identity's latest (the API always passes it; nil skips that check, for callers
        /// that hold no certificate object).
        case certificate(SPIFFEID, notBefore: Double, notAfter: Double, serial: String? = nil)
        case none
    }

    public struct Issued: Sendable {
        public let identity: SPIFFEID
        public let chain: [Certificate]
        public let bundle: [Certificate]
    }

    /// A single-use join token for `identity`, valid `ttl` seconds: validate → store durably → audit.
    public func createToken(for identity: SPIFFEID, ttl: Double, actor: String) throws -> (secret: String, expiresAt: Double) {
        guard (1...settings.maxTokenTTL).contains(ttl) else {
            throw MeshError(.tokenBadTtl, "ttlSeconds must be 1...\(Int(settings.maxTokenTTL))")
        }
        let ca = self.ca
        guard identity.trustDomain == ca.trustDomain else {
            throw MeshError(.tokenForeignTrustDomain, "\(identity) is not in trust domain \(ca.trustDomain)")
        }
        let parts = identity.path.split(separator: "/")
        guard !(parts.count >= 2 && parts[0] == "ns" && parts[1] == Self.systemNamespace) else {
            throw MeshError(.tokenReservedIdentity, "\(identity) is in \(Self.systemNamespace), the control plane's own namespace: no join token for it")
        }
        let now = now()
        let t = try tokens.create(identity: identity, ttl: ttl, now: now, createdBy: actor)
        try audit.record(time: now, actor: actor, action: "token.create",
                         [("identity", .string(identity.description)), ("expiresAt", .int(Int(t.expiresAt)))])
        return t
    }

    /// The control plane's own namespace: its identities are never handed out.
    public static let systemNamespace = "mesh-system"

    /// Signs `csrPEM` for the identity the credential proves. The CSR's own subject and SANs are ignored: the CA
    /// decides the identity. Order: read the CSR → check the credential (a token is consumed atomically, after
    /// the rate limit admitted it; a certificate must be valid or within the grace, not revoked, and the
    /// identity's latest) → sign → record it as the latest (durable) → audit. Issuances of different identities
    /// run in parallel (callers: `BlockingWork.runIssuance`); of one identity, the compare-and-set of its latest
    /// entry against the one checked lets at most one commit (the others: `identities.conflict`).
    public func issue(csrPEM: [UInt8], credential: Credential) throws -> Issued {
        try issuing.withShared { try issueShared(csrPEM: csrPEM, credential: credential) }
    }

    private func issueShared(csrPEM: [UInt8], credential: Credential) throws -> Issued {
        let now = now()
        let csr = try CertificateSigningRequest(pem: csrPEM)
        let identity: SPIFFEID
        let via: String
        let previous: IdentityRecords.Latest?
        switch credential {
        case .joinToken(let secret):
            identity = try tokens.redeem(secret, now: now) { id in try self.rateLimit.admit(id, now: now) }
            via = "token"
            previous = latestEntry(identity)
        case .certificate(let id, let notBefore, let notAfter, let serial):
            previous = latestEntry(id)
            try checkRenewal(id, notBefore: notBefore, notAfter: notAfter, now: now)
            try refuseIfRevoked(id, serial: serial, notBefore: notBefore, route: "renewal")
            try refuseIfQuarantined(id, now: now)
            if let serial { try refuseIfNotLatest(id, serial: serial, latest: previous, now: now) }
            try rateLimit.admit(id, now: now)
            identity = id
            via = "renewal"
        case .none:
            throw MeshError(.issueUnauthenticated, "present a join token or your current certificate")
        }
        let ca = self.ca
        var template = CertificateTemplate.svid(identity, now: now, lifetime: settings.certTTL)
        // A revoked identity re-admitted with a new token: its new certificate starts after the revocation, so the
        // deny list (certificates issued up to then) does not refuse it.
        if let revokedAt = denyList.identities[identity] { template.notBefore = max(template.notBefore, revokedAt + 1) }
        let chain = try ca.sign(template, for: csr)
        let asked = csr.requestedURIs.filter { $0 != identity.description }
        try recordIssued(identity, chain[0], previous: previous, overwrite: via == "token") {
            try audit.record(time: now, actor: via == "token" ? "join-token" : identity.description, action: "certificate.issue", [
                ("identity", .string(identity.description)), ("via", .string(via)), ("serial", .string(chain[0].serialHex)),
                ("notAfter", .int(Int(chain[0].notAfter))), ("root", .int(ca.issuing.id)),
                ("csrAskedFor", .array(asked.map { .string($0) })),
            ])
        }
        return Issued(identity: identity, chain: chain, bundle: ca.bundle)
    }

    /// A renewing certificate must be valid now (allowing `clockSkew`), or expired less than `grace` ago.
    private func checkRenewal(_ id: SPIFFEID, notBefore: Double, notAfter: Double, now: Double) throws {
        if notBefore > now + settings.clockSkew {
            throw MeshError(.issueCertificateNotYetValid, "\(id): the presented certificate is not valid yet")
        }
        if notAfter + settings.grace < now {
            throw MeshError(.issueCertificateExpired, "\(id): the presented certificate expired \(Int(now - notAfter)) s ago, beyond the \(Int(settings.grace)) s grace; use a new join token")
        }
    }
}
