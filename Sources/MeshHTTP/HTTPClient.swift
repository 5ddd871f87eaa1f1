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
        let connection = try HTTPConnection(connecting: address, tls: tls, expectServer: expectServer,
                                            skipServerVerification: skipServerVerification, timeoutMs: timeoutMs, limits: limits)
        defer { connection.close() }
        var h = headers
        if h["Connection"] == nil { h.add("Connection", "close") }
        let left = Int(max(1, deadline - SystemClock().monotonicMs()))
        return try connection.send(method: method, path: path, headers: h, body: body, timeoutMs: left)
    }
}
