#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// One blocking HTTP/1.1 client connection, plaintext or mTLS, that can carry several requests in turn
/// (keep-alive). The server is checked once, at connect (secure naming, as `HTTPClient` does); later requests
/// ride on that proof. A connection stops being reusable as soon as the server says `Connection: close`, an
/// answer is delimited by the end of the stream, or anything fails; the owner then closes it and dials again.
///
/// Not thread-safe: one owner (or one caller at a time, as `ControlChannel` serves them). Never on an event loop.
public final class HTTPConnection {
    public let address: SocketAddress
    /// Caps of an answer (a `send` may pass its own).
    public let limits: HTTPLimits
    let clock: any Clock
    private var transport: Transport
    private var open = true
    /// When the connection was made and last finished an exchange (monotonic ms): for max-age and max-idle.
    public let openedAtMs: Int64
    public private(set) var lastUsedMs: Int64
    /// Exchanges completed on this connection.
    public private(set) var requests = 0
    /// False once the server said `Connection: close`, an answer ran to the end of the stream, or a call failed.
    public private(set) var reusable = true
    /// Set by the last `send`: whether any byte of the answer had arrived (a failure before that on a reused
    /// connection is the stale keep-alive case, safe to retry on a new connection).
    public private(set) var answerStarted = false

    /// Connects (and, with `tls`, handshakes and checks the server) within `timeoutMs`. `resume` offers a
    /// session of an earlier connection to the same server; the server is checked all the same (a resumed
    /// session carries the certificate it was made with: name and validity are checked against it now).
    public init(connecting address: SocketAddress, tls: TLSContext?, resume: TLSSession? = nil, expectServer: SPIFFEID? = nil,
                skipServerVerification: Bool = false, timeoutMs: Int, limits: HTTPLimits = HTTPLimits(),
                clock: any Clock = SystemClock()) throws {
        self.address = address
        self.limits = limits
        self.clock = clock
        let deadline = clock.monotonicMs() + Int64(timeoutMs)
        let (fd, _) = try Socket.connect(address)
        transport = Transport(plain: fd)
        openedAtMs = clock.monotonicMs()
        lastUsedMs = openedAtMs
        do {
            try wait(POLLOUT, deadline, timeoutMs)
            let err = Socket.pendingError(fd)
            if err != 0 { throw MeshError(.httpConnect, "cannot connect to \(address): \(String(cString: strerror(err)))") }
            if let tls {
                try transport.startTLS(tls, resume: resume)
                let s = transport.tls!
                loop: while true {
                    switch s.handshake() {
                    case .done: break loop
                    case .wantRead: try wait(POLLIN, deadline, timeoutMs)
                    case .wantWrite: try wait(POLLOUT, deadline, timeoutMs)
                    case .failed(let why, let detail):
                        throw MeshError(.httpTls, "TLS handshake with \(address) failed: \(why.rawValue) \(detail)")
                    }
                }
                if !skipServerVerification, case .failure(let why) = s.verifyPeer(expecting: expectServer) {
                    throw MeshError(.httpTls, "server \(address) refused: \(why.rawValue)")
                }
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// The SHA-256 fingerprint of the server's certificate (TLS only).
    public var serverLeafFingerprint: String? { transport.tls?.peerChain().first?.sha256Fingerprint }

    /// Whether the TLS handshake resumed the offered session.
    public var resumed: Bool { transport.tls?.isResumed ?? false }

    /// The session to offer on the next connection (TLS 1.3 tickets arrive after the handshake: take it after
    /// an exchange, not right after connecting).
    public func takeSession() -> TLSSession? { open ? transport.tls?.takeSession() : nil }

    public func close() {
        guard open else { return }
        open = false
        reusable = false
        // close_notify first (best effort, never waits): OpenSSL marks the session of a TLS connection freed
        // without it as not resumable, and the session may already be kept for the next connection.
        _ = transport.tls?.shutdownWrite()
        transport.close()
    }

    /// Whether another request may go out now: reusable, younger than `maxAgeMs`, used within `maxIdleMs`, and
    /// the server has not closed it or sent anything unasked meanwhile (checked without waiting).
    public func canCarry(maxAgeMs: Int64, maxIdleMs: Int64) -> Bool {
        guard open, reusable else { return false }
        let now = clock.monotonicMs()
        if now - openedAtMs >= maxAgeMs || now - lastUsedMs >= maxIdleMs { return false }
        var p = pollfd(fd: transport.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) > 0 || transport.hasBufferedInput else { return true }
        // Readable: a close (FIN, close_notify) or stray bytes end it; TLS records that carry no data (a session
        // ticket) are consumed here and leave it usable.
        var scratch: (UInt64, UInt64) = (0, 0)
        let r = withUnsafeMutableBytes(of: &scratch) { transport.read(into: $0) }
        if case .wantRead = r { return true }
        reusable = false
        return false
    }

    /// One exchange within `timeoutMs`. `headers` get a `Host` when missing; no `Connection` header is added
    /// (HTTP/1.1 keeps the connection), so add `Connection: close` for a one-shot request.
    public func send(method: String, path: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
                     timeoutMs: Int, limits: HTTPLimits? = nil) throws -> HTTPClient.Response {
        precondition(open, "send on a closed HTTPConnection")
        answerStarted = false
        let deadline = clock.monotonicMs() + Int64(timeoutMs)
        var h = headers
        if h["Host"] == nil { h.add("Host", address.description) }
        do {
            try write(HTTPSerializer.request(method: method, target: path, headers: h, body: body), deadline, timeoutMs)
            let response = try readResponse(method: method, limits: limits ?? self.limits, deadline: deadline, timeoutMs: timeoutMs)
            requests += 1
            lastUsedMs = clock.monotonicMs()
            if !response.head.keepAlive || h["Connection"]?.lowercased() == "close" { reusable = false }
            return response
        } catch {
            reusable = false
            throw error
        }
    }

    private func write(_ bytes: [UInt8], _ deadline: Int64, _ timeoutMs: Int) throws {
        var off = 0
        while off < bytes.count {
            let result = bytes.withUnsafeBytes { transport.write(UnsafeRawBufferPointer(rebasing: $0[off...])) }
            switch result {
            case .wrote(let k): off += k
            case .wantRead: try wait(POLLIN, deadline, timeoutMs)
            case .wantWrite: try wait(POLLOUT, deadline, timeoutMs)
            case .failed(.socket(let e)): throw e
            case .failed(.tls(let why)): throw MeshError(.httpWrite, why)
            }
        }
    }

    /// Reads until the answer is complete; its body is copied once, out of the read buffer. An answer that ends
    /// with the stream (no framing) leaves the connection unusable.
    private func readResponse(method: String, limits: HTTPLimits, deadline: Int64, timeoutMs: Int) throws -> HTTPClient.Response {
        var parser = HTTPResponseParser(limits: limits)
        parser.expect(requestMethod: method)
        var head: HTTPResponseHead?
        var out: [UInt8] = []
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
        defer { buf.deallocate() }
        func take(_ events: [HTTPEvent<HTTPResponseHead>], _ input: UnsafeRawBufferPointer) -> Bool {
            for e in events {
                switch e {
                case .head(let h): head = h
                case .body(let r): out.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[r]))
                case .end: return true
                }
            }
            return false
        }
        while true {
            switch transport.read(into: buf) {
            case .bytes(let n):
                answerStarted = true
                let input = UnsafeRawBufferPointer(rebasing: buf[0..<n])
                if take(try parser.feed(input), input), let head {
                    if transport.hasBufferedInput { reusable = false }  // bytes past the answer: out of step
                    return HTTPClient.Response(head: head, body: out)
                }
            case .wantRead: try wait(POLLIN, deadline, timeoutMs)
            case .wantWrite: try wait(POLLOUT, deadline, timeoutMs)
            case .failed(.socket(let e)):
                throw e
            case .eof, .failed(.tls):
                reusable = false
                if take(try parser.finish(), UnsafeRawBufferPointer(start: nil, count: 0)), let head {
                    return HTTPClient.Response(head: head, body: out)
                }
                throw MeshError(.httpTruncated, "\(address) closed the connection before a whole response")
            }
        }
    }

    private func wait(_ events: Int32, _ deadline: Int64, _ timeoutMs: Int) throws {
        let left = deadline - clock.monotonicMs()
        if left <= 0 { throw MeshError(.httpTimeout, "no answer from \(address) within \(timeoutMs) ms") }
        var p = pollfd(fd: transport.fd, events: Int16(events), revents: 0)
        _ = poll(&p, 1, Int32(min(left, 1000)))
    }
}
