internal import COpenSSL
internal import CMeshOpenSSLShims
import MeshCore

/// A client context for an ordinary (non-mesh) TLS server such as etcd: the server's chain must reach one of
/// `trust` and its certificate must name `serverName` (an IP SAN for an address, else a DNS SAN) — OpenSSL checks
/// both during the handshake, so a wrong server fails it. SPIFFE rules do not apply: callers must not use
/// `TLSStream.verifyPeer`. With a client certificate and key, they are presented (etcd `--client-cert-auth`).
/// One context per server name (the name lives in the context's verify parameters). Connections made with it
/// pass `skipServerVerification: true` to `HTTPConnection`: the handshake itself has verified the server.
extension TLSContext {
    public static func pkiClient(trust: [Certificate], clientChain: [Certificate] = [], clientKey: PrivateKey? = nil,
                                 serverName: String) throws -> TLSContext {
        guard !trust.isEmpty else { throw MeshError(.tlsEmptyBundle, "trust bundle has no certificate") }
        // The trust domain is never consulted: verifyPeer (SVID rules) is not used with this context.
        let c = try TLSContext(role: .client, identity: nil, presentCertificate: false,
                               trust: .bundle(trust, PKIPlaceholderDomain.value, .required),
                               resumption: .off, sessionCacheSize: 0, sessionLifetimeSeconds: 0)
        if let leaf = clientChain.first, let clientKey {
            guard SSL_CTX_use_certificate(c.ctx, leaf.x509) == 1 else {
                throw OpenSSLError.error(.tlsContext, "cannot use the client certificate")
            }
            for intermediate in clientChain.dropFirst() { _ = CMeshOpenSSLShims_SSL_CTX_add1_chain_cert(c.ctx, intermediate.x509) }
            guard SSL_CTX_use_PrivateKey(c.ctx, clientKey.pkey) == 1, SSL_CTX_check_private_key(c.ctx) == 1 else {
                throw OpenSSLError.error(.tlsKeyMismatch, "the client key does not match the client certificate")
            }
        }
        let param = SSL_CTX_get0_param(c.ctx)
        if X509_VERIFY_PARAM_set1_ip_asc(param, serverName) != 1 {
            guard X509_VERIFY_PARAM_set1_host(param, serverName, serverName.utf8.count) == 1 else {
                throw OpenSSLError.error(.tlsContext, "bad server name \(serverName)")
            }
        }
        return c
    }
}

/// A placeholder trust domain for contexts that never apply SVID rules.
enum PKIPlaceholderDomain {
    static let value = try! TrustDomain("pki.invalid")
}
