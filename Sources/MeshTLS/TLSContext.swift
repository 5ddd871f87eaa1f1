internal import COpenSSL
import CMeshShims
import MeshCore

/// A configured OpenSSL SSL_CTX for one role. TLS 1.3 only, mutual authentication always required.
/// Shared by every loop: after `init` it is only read (OpenSSL allows that across threads).
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is fully configured in init and never mutated afterwards; SSL objects created
    // from it on different threads is supported by OpenSSL. The session cache inside it has its own lock.
    let ctx: OpaquePointer
    public let role: PeerRole
    public let identity: TLSIdentity
    public let resumption: ResumptionMode

    /// `role` is the role of the *peer*: `.client` builds our server context (inbound), `.server` our client
    /// context (outbound).
    public convenience init(peerRole role: PeerRole, identity: TLSIdentity, resumption: ResumptionMode = .stateful,
                sessionCacheSize: Int = 20_000, sessionLifetimeSeconds: Int = 300) throws {
        try self.init(peerRole: role, identity: identity, resumption: resumption, sessionCacheSize: sessionCacheSize,
                      sessionLifetimeSeconds: sessionLifetimeSeconds, presentCertificate: true)
    }

    /// `presentCertificate: false` exists for tests of a client that shows no certificate.
    init(peerRole role: PeerRole, identity: TLSIdentity, resumption: ResumptionMode,
         sessionCacheSize: Int, sessionLifetimeSeconds: Int, presentCertificate: Bool) throws {
        guard let ctx = SSL_CTX_new(role == .client ? TLS_server_method() : TLS_client_method()) else {
            throw OpenSSLError.error("tls.context", "SSL_CTX_new")
        }
        self.ctx = ctx
        self.role = role
        // If anything below throws, deinit frees ctx.
        self.identity = identity
        self.resumption = resumption
        _ = CMeshShims_SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)
        var options = CMeshShims_SSL_OP_NO_RENEGOTIATION | CMeshShims_SSL_OP_NO_COMPRESSION
        if resumption != .tickets { options |= CMeshShims_SSL_OP_NO_TICKET }
        SSL_CTX_set_options(ctx, options)
        _ = CMeshShims_SSL_CTX_set_mode(ctx, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))

        // Our identity.
        if presentCertificate { try Self.useIdentity(ctx, identity) }

        // Whom we trust, and how hard we check: chain to the bundle, proper purpose, bounded depth.
        guard let store = X509_STORE_new() else { throw OpenSSLError.error("tls.context", "X509_STORE_new") }
        for root in identity.trustBundle { X509_STORE_add_cert(store, root.x509) }
        SSL_CTX_set_cert_store(ctx, store)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        SSL_CTX_set_verify_depth(ctx, 4)
        let param = SSL_CTX_get0_param(ctx)
        X509_VERIFY_PARAM_set_purpose(param, role == .client ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER)

        if role == .client {
            let sid: [UInt8] = Array("mesh-sidecar".utf8)
            SSL_CTX_set_session_id_context(ctx, sid, UInt32(sid.count))
            switch resumption {
            case .off:
                _ = CMeshShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
                SSL_CTX_set_num_tickets(ctx, 0)
            case .tickets:
                _ = CMeshShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
                SSL_CTX_set_num_tickets(ctx, 1)
            case .stateful:
                _ = CMeshShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_SERVER))
                _ = CMeshShims_SSL_CTX_sess_set_cache_size(ctx, sessionCacheSize)
                SSL_CTX_set_num_tickets(ctx, 1)
            }
            SSL_CTX_set_timeout(ctx, Int(sessionLifetimeSeconds))
        } else {
            // We keep sessions ourselves (per upstream, per loop): OpenSSL's client cache stays off.
            _ = CMeshShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
        }
    }

    deinit { SSL_CTX_free(ctx) }

    private static func useIdentity(_ ctx: OpaquePointer, _ identity: TLSIdentity) throws {
        guard SSL_CTX_use_certificate(ctx, identity.leaf.x509) == 1 else {
            throw OpenSSLError.error("tls.context", "cannot use our certificate")
        }
        for intermediate in identity.chain.dropFirst() {
            _ = CMeshShims_SSL_CTX_add1_chain_cert(ctx, intermediate.x509)
        }
        guard SSL_CTX_use_PrivateKey(ctx, identity.key.pkey) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw OpenSSLError.error("tls.key-mismatch", "the private key does not match our certificate")
        }
    }
}

/// A resumable TLS session, owned; handed to the next connection to the same upstream.
public final class TLSSession {
    let session: OpaquePointer
    init(owning s: OpaquePointer) { session = s }
    deinit { SSL_SESSION_free(session) }
}
