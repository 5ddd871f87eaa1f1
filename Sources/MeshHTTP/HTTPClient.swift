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
        var transport = Transport(plain: fd)
        defer { transport.close() }
        try wait(fd, POLLOUT, deadline)
        let err = Socket.pendingError(fd)
        if err != 0 { throw MeshError(.httpConnect, "cannot connect to \(address): \(String(cString: strerror(err)))") }
        if let tls {
            try transport.startTLS(tls)
            let s = transport.tls!
            loop: while true {
                switch s.handshake() {
                case .done: break loop
                case .wantRead: try wait(fd, POLLIN, deadline)
                case .wantWrite: try wait(fd, POLLOUT, deadline)
                case .failed(let why, let detail): throw MeshError(.httpTls, "TLS handshake with \(address) failed: \(why.rawValue) \(detail)")
                }
            }
            if !skipServerVerification, case .failure(let why) = s.verifyPeer(expecting: expectServer) {
                throw MeshError(.httpTls, "server \(address) refused: \(why.rawValue)")
            }
        }
        var h = headers
        if h["Host"] == nil { h.add("Host", address.description) }
        if h["Connection"] == nil { h.add("Connection", "close") }
        let bytes = HTTPSerializer.request(method: method, target: path, headers: h, body: body)
        var off = 0
        while off < bytes.count {
            let result = bytes.withUnsafeBytes { transport.write(UnsafeRawBufferPointer(rebasing: $0[off...])) }
            switch result {
            case .wrote(let k): off += k
            case .wantRead: try wait(fd, POLLIN, deadline)
            case .wantWrite: try wait(fd, POLLOUT, deadline)
            case .failed(.socket(let e)): throw e
            case .failed(.tls(let why)): throw MeshError(.httpWrite, why)
            }
        }
        return try readResponse(transport, method: method, deadline: deadline)
    }

    /// Reads until the response is complete; its body is copied once, out of the read buffer.
    private func readResponse(_ transport: Transport, method: String, deadline: Int64) throws -> Response {
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
                let input = UnsafeRawBufferPointer(rebasing: buf[0..<n])
                if take(try parser.feed(input), input), let head { return Response(head: head, body: out) }
            case .wantRead: try wait(transport.fd, POLLIN, deadline)
            case .wantWrite: try wait(transport.fd, POLLOUT, deadline)
            case .failed(.socket(let e)):
                throw e
            case .eof, .failed(.tls):
                if take(try parser.finish(), UnsafeRawBufferPointer(start: nil, count: 0)), let head {
                    return Response(head: head, body: out)
                }
                throw MeshError(.httpTruncated, "\(address) closed the connection before a whole response")
            }
        }
    }

    private func wait(_ fd: Int32, _ events: Int32, _ deadline: Int64) throws {
        let left = deadline - SystemClock().monotonicMs()
        if left <= 0 { throw MeshError(.httpTimeout, "no answer from \(address) within \(timeoutMs) ms") }
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        _ = poll(&p, 1, Int32(min(left, 1000)))
    }
}
