internal import COpenSSL
internal import CMeshOpenSSLShims
import MeshCore

/// Whether our server asks a client for a certificate it must send (`required`, the mesh) or may leave out
/// (`optional`, an HTTPS API whose callers authenticate some other way, e.g. a join token).
public enum ClientCertificatePolicy: Sendable {
    case required
    case optional
}

/// The contexts beyond the mesh's two (inbound and outbound mTLS): an HTTPS API server, and clients that present
/// no certificate. All are TLS 1.3 only, like the mesh's.
extension TLSContext {
    /// Our server context for an HTTPS API: presents `identity`; with `.optional`, a client may connect without a
    /// certificate (then `TLSStream.verifyPeer()` returns `.failure(.noCertificate)` and the caller decides), but a
    /// client that does present one must pass the same chain + SVID checks as always (a bad one fails the handshake).
    public static func server(identity: TLSIdentity, clientCertificates: ClientCertificatePolicy) throws -> TLSContext {
        try TLSContext(role: .server, identity: identity, presentCertificate: true,
                       trust: .bundle(identity.trustBundle, identity.trustDomain, clientCertificates),
                       resumption: .stateful, sessionCacheSize: 20_000, sessionLifetimeSeconds: 300)
    }

    /// A client context that presents no certificate and trusts `trustBundle` (for meshctl and for a sidecar
    /// bootstrapping with a join token). `verifyPeer(expecting:)` works as usual (server purpose, SVID rules).
    public static func client(trusting trustBundle: [Certificate], trustDomain: TrustDomain) throws -> TLSContext {
        guard !trustBundle.isEmpty else { throw MeshError(.tlsEmptyBundle, "trust bundle has no certificate") }
        return try TLSContext(role: .client, identity: nil, presentCertificate: false,
                              trust: .bundle(trustBundle, trustDomain, .required),
                              resumption: .off, sessionCacheSize: 0, sessionLifetimeSeconds: 0)
    }

    /// A client context that trusts NOTHING (for fetching a bundle and checking its fingerprint ourselves): the chain
    /// is not verified by OpenSSL; `TLSStream.peerChain()` gives what the server sent. `verifyPeer` on its streams
    /// always fails (`.unknownCA`): nothing about the peer is known until the caller has checked the fingerprint.
    public static func insecureClientForBootstrap() throws -> TLSContext {
        try TLSContext(role: .client, identity: nil, presentCertificate: false, trust: .nothing,
                       resumption: .off, sessionCacheSize: 0, sessionLifetimeSeconds: 0)
    }
}

extension TLSStream {
    /// The certificates the peer sent (leaf first), for bootstrap-by-fingerprint. Empty before the handshake or
    /// when the peer sent none; after a resumed handshake OpenSSL may know only the leaf.
    public func peerChain() -> [Certificate] {
        guard let leaf = SSL_get0_peer_certificate(ssl) else { return [] }
        X509_up_ref(leaf)
        var out = [Certificate(owning: leaf)]
        // On the client side the stack starts with the leaf; on the server side it holds only what follows it.
        guard let stack = SSL_get_peer_cert_chain(ssl) else { return out }
        for i in 0..<CMeshOpenSSLShims_sk_X509_num(stack) {
            guard let x = CMeshOpenSSLShims_sk_X509_value(stack, i) else { continue }
            if i == 0 && X509_cmp(x, leaf) == 0 { continue }
            X509_up_ref(x)
            out.append(Certificate(owning: x))
        }
        return out
    }
}

extension TLSContext {
    /// The control plane's API server: like `server(identity:clientCertificates: .optional)`, but OpenSSL does
    /// not check the validity period of client certificates (chain, purpose and SVID rules still apply). The
    /// caller decides what an expired certificate may still do — the control plane lets a sidecar whose
    /// certificate expired within a grace period renew it, and nothing else.
    ///
    /// Resumption: stateless TLS 1.3 session tickets (`.tickets`), each good for `sessionLifetimeSeconds`
    /// (default 300) and never past the client certificate's expiry. Stateless, because 10,000 sidecars would
    /// otherwise need 10,000 cached sessions, and a stateful session is dropped from the cache whenever its
    /// connection ends without close_notify (how most keep-alive connections end). The ticket keys belong to
    /// this context: a renewed serving certificate comes with a new context, so no ticket outlives it.
    public static func apiServer(identity: TLSIdentity, sessionLifetimeSeconds: Int = 300) throws -> TLSContext {
        let c = try TLSContext(role: .server, identity: identity, presentCertificate: true,
                               trust: .bundle(identity.trustBundle, identity.trustDomain, .optional), resumption: .tickets,
                               sessionCacheSize: 0, sessionLifetimeSeconds: sessionLifetimeSeconds)
        X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(c.ctx), UInt(X509_V_FLAG_NO_CHECK_TIME))
        return c
    }
}
