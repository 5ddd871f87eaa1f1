#if canImport(Glibc)
import Glibc
#endif
internal import COpenSSL
internal import CMeshOpenSSLShims
import MeshCore
import MeshNet

/// One TLS connection over a non-blocking socket the caller owns (the stream never closes the fd); usually
/// held by a `Transport`, which owns both. Call order: `handshake()` until `.done`, then `verifyPeer`, then
/// `read`/`write` freely, `shutdownWrite` once. Every call reports what it is waiting for, so the caller can set
/// its epoll interest.
public final class TLSStream {
    let ssl: OpaquePointer
    public let context: TLSContext
    public private(set) var closeNotifySent = false

    public enum Step: Equatable {
        case done
        case wantRead
        case wantWrite
        case failed(PeerRejection, detail: String)
    }

    /// The same results as a plaintext socket's (`Transport` passes them through unchanged).
    public typealias ReadResult = TransportRead
    public typealias WriteResult = TransportWrite

    /// Binds a new SSL object to `fd`. For outbound streams, `resume` offers a session to resume.
    public init(context: TLSContext, fd: Int32, resume: TLSSession? = nil) throws {
        guard let ssl = SSL_new(context.ctx) else { throw OpenSSLError.error(.tlsSslNew, "SSL_new") }
        self.ssl = ssl
        self.context = context
        SSL_set_fd(ssl, fd)
        if context.role == .server {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let resume { SSL_set_session(ssl, resume.session) }
        }
    }

    deinit { SSL_free(ssl) }

    /// Advances the handshake.
    public func handshake() -> Step {
        let r = SSL_do_handshake(ssl)
        if r == 1 { return .done }
        let e = SSL_get_error(ssl, r)
        switch e {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default: return classifyHandshakeFailure(e)
        }
    }

    private func classifyHandshakeFailure(_ e: Int32) -> Step {
        let verify = SSL_get_verify_result(ssl)
        let err = ERR_peek_error()
        let reason = ERR_GET_REASON(err)
        let detail = OpenSSLError.drain()
        if verify != X509_V_OK {
            return .failed(SVIDValidator.rejection(forVerifyResult: verify), detail: detail)
        }
        switch reason {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: return .failed(.noCertificate, detail: detail)
        case SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST: return .failed(.plaintextHTTP, detail: detail)
        case SSL_R_WRONG_VERSION_NUMBER, SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_RECORD_LENGTH_MISMATCH:
            return .failed(.notTLS, detail: detail)
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_NO_PROTOCOLS_AVAILABLE:
            return .failed(.protocolVersion, detail: detail)
        default: break
        }
        if e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING {
            return .failed(.handshakeEOF, detail: detail)
        }
        return .failed(.handshakeFailed, detail: detail)
    }

    /// After the handshake: the peer's verified identity, or why it is refused. For outbound streams pass the
    /// identity the server must present (secure naming). On a stream of the insecure bootstrap context (no trust
    /// domain, chain unverified) it always refuses with `.unknownCA`.
    ///
    /// The leaf's validity period is checked against `now` on every call: a resumed session keeps the chain
    /// verification result of its first handshake, however long ago, so OpenSSL's check alone would let an
    /// expired certificate back in through resumption. Contexts that skip the time check on purpose
    /// (`apiServer`, `X509_V_FLAG_NO_CHECK_TIME`) skip it here too.
    public func verifyPeer(expecting expected: SPIFFEID? = nil,
                           now: Double = SystemClock().wallSeconds()) -> Result<SPIFFEID, PeerRejection> {
        guard let trustDomain = context.trustDomain else { return .failure(.unknownCA) }
        guard let leaf = SSL_get0_peer_certificate(ssl) else { return .failure(.noCertificate) }
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK { return .failure(SVIDValidator.rejection(forVerifyResult: verify)) }
        X509_up_ref(leaf)
        let cert = Certificate(owning: leaf)
        if context.checksValidityPeriod {
            if cert.notAfter <= now { return .failure(.expired) }
            if cert.notBefore > now { return .failure(.notYetValid) }
        }
        let result = SVIDValidator.validate(cert, role: context.peerRole, trustDomain: trustDomain)
        if case .success(let id) = result, let expected, id != expected { return .failure(.wrongServerIdentity) }
        return result
    }

    /// True when this connection resumed an earlier session.
    public var isResumed: Bool { SSL_session_reused(ssl) == 1 }

    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        var n = 0
        if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &n) == 1 { return .bytes(n) }
        let e = SSL_get_error(ssl, 0)
        switch e {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .eof
        default: return .failed(.tls(failureText(e)))
        }
    }

    /// Writes; on a want, the retry must pass the same bytes (we set ACCEPT_MOVING_WRITE_BUFFER, so the
    /// same bytes at a different address are fine).
    @inline(__always)
    public func write(_ buffer: UnsafeRawBufferPointer) -> WriteResult {
        var n = 0
        if SSL_write_ex(ssl, buffer.baseAddress, buffer.count, &n) == 1 { return .wrote(n) }
        let e = SSL_get_error(ssl, 0)
        switch e {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default: return .failed(.tls(failureText(e)))
        }
    }

    /// Bytes OpenSSL has decrypted and buffered but not yet returned.
    public var hasPending: Bool { SSL_has_pending(ssl) == 1 }

    /// Keep the record buffers between reads and writes (~34 KiB while the connection lives) instead of
    /// freeing and allocating ~17 KiB twice per request and response, as the context's `RELEASE_BUFFERS` does
    /// to keep idle connections small. For connections that carry one request after another (pooled hops,
    /// inbound `http` connections).
    public func keepRecordBuffers() {
        _ = CMeshOpenSSLShims_SSL_clear_mode(ssl, Int(SSL_MODE_RELEASE_BUFFERS))
    }

    /// Sends close_notify (our half is done). TLS 1.3 lets the peer keep sending after it.
    /// Returns `.wantWrite` when the socket is full: call again when writable.
    public func shutdownWrite() -> Step {
        let r = SSL_shutdown(ssl)
        if r >= 0 {
            closeNotifySent = true
            return .done
        }
        let e = SSL_get_error(ssl, r)
        if e == SSL_ERROR_WANT_WRITE { return .wantWrite }
        if e == SSL_ERROR_WANT_READ { closeNotifySent = true; return .done }
        return .failed(.handshakeFailed, detail: failureText(e))
    }

    /// The session to offer on the next connection to the same peer (TLS 1.3 tickets arrive after the
    /// handshake, so take it late: when the connection ends).
    public func takeSession() -> TLSSession? {
        guard let s = SSL_get1_session(ssl) else { return nil }
        if SSL_SESSION_is_resumable(s) != 1 {
            SSL_SESSION_free(s)
            return nil
        }
        return TLSSession(owning: s)
    }

    private func failureText(_ e: Int32) -> String {
        if e == SSL_ERROR_SYSCALL {
            let q = OpenSSLError.drain()
            let en = errno
            return en != 0 ? "syscall: \(String(cString: strerror(en))); \(q)" : "unexpected EOF; \(q)"
        }
        return OpenSSLError.drain()
    }
}
