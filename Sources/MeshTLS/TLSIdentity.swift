import MeshCore

/// The material a sidecar proves itself with and trusts others by: its certificate chain and key, and the
/// trust bundle. Immutable; a reload builds a new one and swaps it whole.
public struct TLSIdentity: Sendable {
    public let chain: [Certificate]
    public let key: PrivateKey
    public let trustBundle: [Certificate]
    public let trustDomain: TrustDomain
    /// Our own SPIFFE ID, from our leaf (validated as an SVID when loaded).
    public let spiffeID: SPIFFEID

    public var leaf: Certificate { chain[0] }
    /// The leaf's expiry (seconds since the epoch), read once: every new connection checks it, and reading it
    /// from the certificate parses an ASN.1 time each time.
    public let leafNotAfter: Double

    public init(chain: [Certificate], key: PrivateKey, trustBundle: [Certificate], trustDomain: TrustDomain) throws {
        guard let leaf = chain.first else { throw MeshError(.tlsNoCertificate, "certificate chain is empty") }
        guard !trustBundle.isEmpty else { throw MeshError(.tlsEmptyBundle, "trust bundle has no certificate") }
        // We are a TLS server inbound and a TLS client outbound: our leaf must pass as both.
        var id: SPIFFEID?
        for role in [PeerRole.server, .client] {
            switch SVIDValidator.validate(leaf, role: role, trustDomain: trustDomain) {
            case .success(let got): id = got
            case .failure(let why):
                throw MeshError(.tlsBadOwnCertificate, "our own certificate is not a valid X.509-SVID for \(trustDomain): \(why.rawValue)")
            }
        }
        spiffeID = id!
        leafNotAfter = leaf.notAfter
        self.chain = chain
        self.key = key
        self.trustBundle = trustBundle
        self.trustDomain = trustDomain
    }

    /// For tests that need a peer with a broken certificate: no SVID check on our own leaf.
    init(unchecked chain: [Certificate], key: PrivateKey, trustBundle: [Certificate], trustDomain: TrustDomain,
         spiffeID: SPIFFEID) {
        self.chain = chain
        self.key = key
        self.trustBundle = trustBundle
        self.trustDomain = trustDomain
        self.spiffeID = spiffeID
        leafNotAfter = chain.first?.notAfter ?? 0
    }

    /// Loads PEM texts (as read from the configured files).
    public init(certificatePEM: [UInt8], keyPEM: [UInt8], bundlePEM: [UInt8], trustDomain: TrustDomain) throws {
        try self.init(chain: Certificate.parseChain(pem: certificatePEM),
                      key: PrivateKey(pem: keyPEM),
                      trustBundle: Certificate.parseChain(pem: bundlePEM, maxCount: 64, maxBytes: 1 << 20),
                      trustDomain: trustDomain)
    }
}
