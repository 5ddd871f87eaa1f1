internal import COpenSSL
internal import CMeshOpenSSLShims
import MeshCore

/// Our side of a TLS connection: `.server` for the inbound side (we accept), `.client` for the outbound side (we
/// dial). Named after us, not the peer, so a call site reads as what it builds.
public enum TLSRole: Sendable {
    case server
    case client

    /// The role the peer plays: it decides the EKU and purpose its certificate must carry.
    public var peer: PeerRole { self == .server ? .client : .server }
}

/// A configured OpenSSL SSL_CTX for one role. TLS 1.3 only. Mesh contexts (`init(role:identity:…)`) always
/// require mutual authentication; the API and bootstrap contexts (`TLSContext+Modes.swift`) relax it.
/// Shared by every loop: after `init` it is only read (OpenSSL allows that across threads).
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is fully configured in init and never mutated afterwards; SSL objects created
    // from it on different threads is supported by OpenSSL. The session cache inside it has its own lock.
    let ctx: OpaquePointer
    /// Our role; `peerRole` is the other side's.
    public let role: TLSRole
    public var peerRole: PeerRole { role.peer }
    /// What we present, if anything (nil for the client contexts that present no certificate).
    let ownIdentity: TLSIdentity?
    /// The trust domain a peer's SVID must belong to; nil for the insecure bootstrap context, which trusts nothing
    /// (its `verifyPeer` always refuses).
    let trustDomain: TrustDomain?
    public let resumption: ResumptionMode

    /// How the peer's certificate is checked.
    enum PeerTrust {
        /// Chain to `bundle` (purpose and depth checked by OpenSSL), then the SVID rules in `verifyPeer`.
        case bundle([Certificate], TrustDomain, ClientCertificatePolicy)
        /// Nothing is verified: for fetching a bundle whose fingerprint the caller checks itself.
        case nothing
    }

    /// The identity this context was built with. Every mesh context (`init(role:identity:…)`) and every
    /// `server(identity:clientCertificates:)` context has one; the certificate-less client contexts
    /// (`client(trusting:trustDomain:)`, `insecureClientForBootstrap()`) do not, and asking them is a programming
    /// error that traps.
    public var identity: TLSIdentity {
        guard let ownIdentity else { preconditionFailure("this TLSContext presents no identity") }
        return ownIdentity
    }

    /// `role` is our own: `.server` builds the inbound context, `.client` the outbound one.
    public convenience init(role: TLSRole, identity: TLSIdentity, resumption: ResumptionMode = .stateful,
                sessionCacheSize: Int = 20_000, sessionLifetimeSeconds: Int = 300) throws {
        try self.init(role: role, identity: identity, resumption: resumption, sessionCacheSize: sessionCacheSize,
                      sessionLifetimeSeconds: sessionLifetimeSeconds, presentCertificate: true)
    }

    /// `presentCertificate: false` exists for tests of a client that shows no certificate.
    convenience init(role: TLSRole, identity: TLSIdentity, resumption: ResumptionMode,
                     sessionCacheSize: Int, sessionLifetimeSeconds: Int, presentCertificate: Bool) throws {
        try self.init(role: role, identity: identity, presentCertificate: presentCertificate,
                      trust: .bundle(identity.trustBundle, identity.trustDomain, .required), resumption: resumption,
                      sessionCacheSize: sessionCacheSize, sessionLifetimeSeconds: sessionLifetimeSeconds)
    }

    /// Every context is built here. `identity` is presented when `presentCertificate` (it must then be non-nil).
    init(role: TLSRole, identity: TLSIdentity?, presentCertificate: Bool, trust: PeerTrust,
         resumption: ResumptionMode, sessionCacheSize: Int, sessionLifetimeSeconds: Int) throws {
        guard let ctx = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw OpenSSLError.error(.tlsContext, "SSL_CTX_new")
        }
        self.ctx = ctx
        self.role = role
        // If anything below throws, deinit frees ctx.
        self.ownIdentity = identity
        if case .bundle(_, let domain, _) = trust { self.trustDomain = domain } else { self.trustDomain = nil }
        self.resumption = resumption
        _ = CMeshOpenSSLShims_SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)
        var options = CMeshOpenSSLShims_SSL_OP_NO_RENEGOTIATION | CMeshOpenSSLShims_SSL_OP_NO_COMPRESSION
        if resumption != .tickets { options |= CMeshOpenSSLShims_SSL_OP_NO_TICKET }
        SSL_CTX_set_options(ctx, options)
        // NO_AUTO_CHAIN: send our leaf (and configured intermediates) only. Without it OpenSSL appends the root
        // from the trust store, and every peer decodes one more certificate per handshake for nothing (the
        // peer has the root already) — measured at ~0.5 ms of CPU per connection pair on OpenSSL 3.0.
        _ = CMeshOpenSSLShims_SSL_CTX_set_mode(ctx, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                                                 | SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN))
        // Read-ahead: one read(2) takes a record's header and body (and whatever follows) instead of two reads
        // per record. Callers must then drain while `hasPending` (buffered bytes are invisible to epoll).
        CMeshOpenSSLShims_SSL_CTX_set_read_ahead(ctx, 1)

        // Our identity.
        if presentCertificate, let identity { try Self.useIdentity(ctx, identity) }

        // Whom we trust, and how hard we check: chain to the bundle, proper purpose, bounded depth.
        guard let store = X509_STORE_new() else { throw OpenSSLError.error(.tlsContext, "X509_STORE_new") }
        SSL_CTX_set_cert_store(ctx, store)
        switch trust {
        case .bundle(let bundle, _, let clientCertificates):
            for root in bundle { X509_STORE_add_cert(store, root.x509) }
            // A server with `.optional` still asks for a certificate and verifies one that is sent.
            let mustSend = role == .client || clientCertificates == .required
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (mustSend ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), nil)
        case .nothing:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        SSL_CTX_set_verify_depth(ctx, 4)
        let param = SSL_CTX_get0_param(ctx)
        X509_VERIFY_PARAM_set_purpose(param, role == .server ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER)

        if role == .server {
            let sid: [UInt8] = Array("mesh-sidecar".utf8)
            SSL_CTX_set_session_id_context(ctx, sid, UInt32(sid.count))
            switch resumption {
            case .off:
                _ = CMeshOpenSSLShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
                SSL_CTX_set_num_tickets(ctx, 0)
            case .tickets:
                _ = CMeshOpenSSLShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
                SSL_CTX_set_num_tickets(ctx, 1)
            case .stateful:
                _ = CMeshOpenSSLShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_SERVER))
                _ = CMeshOpenSSLShims_SSL_CTX_sess_set_cache_size(ctx, sessionCacheSize)
                SSL_CTX_set_num_tickets(ctx, 1)
            }
            SSL_CTX_set_timeout(ctx, Int(sessionLifetimeSeconds))
            // Every ticket (stateless or stateful, also those issued on resumption) is capped at the client
            // certificate's remaining life.
            _ = SSL_CTX_set_session_ticket_cb(ctx, capSessionAtPeerCertificate, nil, nil)
        } else {
            // We keep sessions ourselves (per upstream, per loop): OpenSSL's client cache stays off.
            _ = CMeshOpenSSLShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
        }
    }

    deinit { SSL_CTX_free(ctx) }

    /// False only for contexts built not to check certificate times (`apiServer`): the caller decides then.
    var checksValidityPeriod: Bool {
        X509_VERIFY_PARAM_get_flags(SSL_CTX_get0_param(ctx)) & UInt(X509_V_FLAG_NO_CHECK_TIME) == 0
    }

    private static func useIdentity(_ ctx: OpaquePointer, _ identity: TLSIdentity) throws {
        guard SSL_CTX_use_certificate(ctx, identity.leaf.x509) == 1 else {
            throw OpenSSLError.error(.tlsContext, "cannot use our certificate")
        }
        for intermediate in identity.chain.dropFirst() {
            _ = CMeshOpenSSLShims_SSL_CTX_add1_chain_cert(ctx, intermediate.x509)
        }
        guard SSL_CTX_use_PrivateKey(ctx, identity.key.pkey) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw OpenSSLError.error(.tlsKeyMismatch, "the private key does not match our certificate")
        }
    }
}

/// A resumable TLS session, owned; handed to the next connection to the same upstream.
public final class TLSSession {
    let session: OpaquePointer
    /// When the session may no longer be offered (seconds since the epoch).
    public let expiresAt: Double

    /// Capped at the peer certificate's `notAfter`: a session must not outlive the certificate it vouches for.
    init(owning s: OpaquePointer) {
        session = s
        let start = Double(SSL_SESSION_get_time(s))
        var end = start + Double(SSL_SESSION_get_timeout(s))
        let hint = SSL_SESSION_get_ticket_lifetime_hint(s)
        if hint > 0 { end = min(end, start + Double(hint)) }
        if let peer = SSL_SESSION_get0_peer(s) { end = min(end, Certificate.seconds(X509_get0_notAfter(peer))) }
        expiresAt = end
    }

    deinit { SSL_SESSION_free(session) }

    /// How long the server granted the session for (TLS 1.3: its ticket lifetime; else the session timeout).
    public var lifetimeSeconds: Int {
        let hint = SSL_SESSION_get_ticket_lifetime_hint(session)
        return hint > 0 ? Int(hint) : Int(SSL_SESSION_get_timeout(session))
    }

    /// May the session still be offered at `now`?
    public func isUsable(now: Double) -> Bool { now < expiresAt }
}

/// OpenSSL calls this before it issues a TLS 1.3 ticket (full or resumed handshake, both resumption modes): the
/// session being ticketed may live at most until the peer's certificate expires. TLS 1.3 refreshes the
/// session's time with each ticket, so without this a chain of resumptions would outlive the certificate.
private let capSessionAtPeerCertificate: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { ssl, _ in
    guard let ssl, let session = SSL_get_session(ssl), let peer = SSL_SESSION_get0_peer(session) else { return 1 }
    let now = Double(time(nil))
    let remaining = Certificate.seconds(X509_get0_notAfter(peer)) - now
    let granted = Double(SSL_SESSION_get_timeout(session))
    // At least 1 s: a stateless ticket with a lifetime of 0 fails the whole handshake (OpenSSL 3), and an API
    // server lets expired client certificates in on purpose (renewal grace). Every use of a resumed session
    // checks the certificate's validity again (`verifyPeer`, or the API for `apiServer`).
    if remaining < granted { _ = SSL_SESSION_set_timeout(session, max(1, Int(remaining))) }
    return 1
}
