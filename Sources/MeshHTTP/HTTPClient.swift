#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// A blocking HTTP/1.1 client with one deadline per request, plaintext or mTLS. For command-line tools and
/// for the sidecar's own calls to the control plane (on their own thread): never on an event loop.
public struct HTTPClient: Sendable {
    public let address: SocketAddress
    public let tls: TLSContext?
    /// For mTLS: the SPIFFE ID the server must present (secure naming).
    public let expectServer: SPIFFEID?
    public let timeoutMs: Int
    public let limits: HTTPLimits
    /// Skip checking the server (only for fetching a bundle whose fingerprint the caller checks itself).
    public let skipServerVerification: Bool

    public struct Response: Sendable {
        public let head: HTTPResponseHead
        public let body: [UInt8]
        public var status: Int { head.status }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public init(address: SocketAddress, tls: TLSContext? = nil, expectServer: SPIFFEID? = nil, timeoutMs: Int = 10_000,
                limits: HTTPLimits = HTTPLimits(), skipServerVerification: Bool = false) {
        self.skipServerVerification = skipServerVerification
        self.address = address
        self.tls = tls
        self.expectServer = expectServer
        self.timeoutMs = timeoutMs
        var l = limits
        l.maxBodyBytes = max(l.maxBodyBytes, 16 << 20)
        self.limits = l
    }

    /// One request on a new connection (`Connection: close`).
    public func send(method: String, path: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) throws -> Response {
        let deadline = SystemClock().monotonicMs() + Int64(timeoutMs)
        let (fd, _) = try Socket.connect(address)
        defer { close(fd) }
        try wait(fd, POLLOUT, deadline)
        let err = Socket.pendingError(fd)
        if err != 0 { throw MeshError("http.connect", "cannot connect to \(address): \(String(cString: strerror(err)))") }
        var stream: TLSStream?
        if let tls {
            let s = try TLSStream(context: tls, fd: fd)
            loop: while true {
                switch s.handshake() {
                case .done: break loop
                case .wantRead: try wait(fd, POLLIN, deadline)
                case .wantWrite: try wait(fd, POLLOUT, deadline)
                case .failed(let why, let detail): throw MeshError("http.tls", "TLS handshake with \(address) failed: \(why.rawValue) \(detail)")
                }
            }
            if !skipServerVerification, case .failure(let why) = s.verifyPeer(expecting: expectServer) {
                throw MeshError("http.tls", "server \(address) refused: \(why.rawValue)")
            }
            stream = s
        }
        var h = headers
        if h["Host"] == nil { h.add("Host", address.description) }
        if h["Connection"] == nil { h.add("Connection", "close") }
        let bytes = HTTPSerializer.request(method: method, target: path, headers: h, body: body)
        var off = 0
        while off < bytes.count {
            let n = try bytes.withUnsafeBytes { raw -> Int in
                let slice = UnsafeRawBufferPointer(rebasing: raw[off...])
                if let stream {
                    switch stream.write(slice) {
                    case .wrote(let k): return k
                    case .wantRead: try wait(fd, POLLIN, deadline); return 0
                    case .wantWrite: try wait(fd, POLLOUT, deadline); return 0
                    case .failed(let why): throw MeshError("http.write", why)
                    }
                }
                switch try Socket.write(fd, slice) {
                case .done(let k): return k
                case .wouldBlock: try wait(fd, POLLOUT, deadline); return 0
                }
            }
            off += n
        }
        var parser = HTTPResponseParser(limits: limits)
        parser.expect(requestMethod: method)
        var head: HTTPResponseHead?
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16_384)
        func take(_ events: [HTTPEvent<HTTPResponseHead>]) -> Bool {
            for e in events {
                switch e {
                case .head(let h): head = h
                case .body(let b): out += b
                case .end: return true
                }
            }
            return false
        }
        while true {
            var n = 0
            var eof = false
            try buf.withUnsafeMutableBytes { raw in
                if let stream {
                    switch stream.read(into: raw) {
                    case .bytes(let k): n = k
                    case .wantRead: try wait(fd, POLLIN, deadline)
                    case .wantWrite: try wait(fd, POLLOUT, deadline)
                    case .eof: eof = true
                    case .failed: eof = true
                    }
                } else {
                    switch try Socket.read(fd, raw) {
                    case .done(0): eof = true
                    case .done(let k): n = k
                    case .wouldBlock: try wait(fd, POLLIN, deadline)
                    }
                }
            }
            if eof {
                if take(try parser.finish()), let head { return Response(head: head, body: out) }
                throw MeshError("http.truncated", "\(address) closed the connection before a whole response")
            }
            if n > 0, take(try parser.feed(Array(buf[0..<n]))), let head { return Response(head: head, body: out) }
        }
    }

    private func wait(_ fd: Int32, _ events: Int32, _ deadline: Int64) throws {
        let left = deadline - SystemClock().monotonicMs()
        if left <= 0 { throw MeshError("http.timeout", "no answer from \(address) within \(timeoutMs) ms") }
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        _ = poll(&p, 1, Int32(min(left, 1000)))
    }
}
