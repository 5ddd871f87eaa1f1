/// MeshHTTP: an HTTP/1.1 server on the event loop (plaintext or TLS), a small router, and a blocking client.
/// It replaces what a server framework would give us; the wire format lives in the pure `MeshHTTP1`.
import MeshCore
import MeshHTTP1
import MeshNet

/// A complete request, body included (bodies are bounded by `HTTPLimits`).
public struct HTTPRequest: Sendable {
    public let head: HTTPRequestHead
    public let body: [UInt8]
    /// Who connected (for "state changes only from loopback").
    public let peer: SocketAddress
    /// The caller's verified SPIFFE ID when the server runs mTLS and the caller presented a certificate.
    public let peerIdentity: SPIFFEID?
    /// Validity of the caller's certificate (seconds since the epoch), when it presented one.
    public let peerNotBefore: Double?
    public let peerNotAfter: Double?
    /// Serial (hex) of the caller's certificate, when it presented one (revocation, clone detection).
    public let peerSerial: String?
    /// Told if the connection ends before the request is answered (see `RequestAbandonment`).
    public let abandonment: RequestAbandonment

    public init(head: HTTPRequestHead, body: [UInt8], peer: SocketAddress, peerIdentity: SPIFFEID? = nil,
                peerNotBefore: Double? = nil, peerNotAfter: Double? = nil, peerSerial: String? = nil,
                abandonment: RequestAbandonment = RequestAbandonment()) {
        self.abandonment = abandonment
        self.head = head
        self.body = body
        self.peer = peer
        self.peerIdentity = peerIdentity
        self.peerNotBefore = peerNotBefore
        self.peerNotAfter = peerNotAfter
        self.peerSerial = peerSerial
    }

    public var method: String { head.method }
    public var path: String { head.path }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func text(_ s: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", contentType)]), body: Array(s.utf8))
    }

    public static func json(_ s: String, status: Int = 200) -> HTTPResponse {
        text(s, status: status, contentType: "application/json")
    }

    /// `{"error": code, "reason": reason}` with the given status. Protocol-level answers (404, 405, 408) only:
    /// an application error answers through `error(_:)`, whose status follows from its kind.
    public static func error(_ status: Int, code: String, reason: String) -> HTTPResponse {
        json("{\"error\":\(JSONText.quote(code)),\"reason\":\(JSONText.quote(reason))}\n", status: status)
    }

    /// The answer to an application error: status from the error's kind, body `{"error", "reason"}`.
    public static func error(_ e: MeshError) -> HTTPResponse {
        error(e.kind.httpStatus, code: e.code, reason: e.reason)
    }
}

/// Handlers run on the loop thread that owns the connection and must not block. A handler that needs to
/// wait (a long poll) keeps `respond` and calls it later, on the same loop (`EventLoop.execute`).
public typealias HTTPHandler = @Sendable (HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) -> Void

/// Exact-path routing by method. Unknown path: 404; known path, other method: 405 with `Allow`.
public final class Router: Sendable {
    private let routes: [String: [String: HTTPHandler]]

    public init(_ routes: [(method: String, path: String, handler: HTTPHandler)]) {
        var table: [String: [String: HTTPHandler]] = [:]
        for r in routes { table[r.path, default: [:]][r.method] = r.handler }
        self.routes = table
    }

    /// Adapts a synchronous handler.
    public static func sync(_ f: @escaping @Sendable (HTTPRequest) -> HTTPResponse) -> HTTPHandler {
        { req, respond in respond(f(req)) }
    }

    public func handle(_ req: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let byMethod = routes[req.path] else {
            respond(.error(404, code: "http.not-found", reason: "no resource at \(req.path)"))
            return
        }
        guard let h = byMethod[req.method] ?? (req.method == "HEAD" ? byMethod["GET"] : nil) else {
            var r = HTTPResponse.error(405, code: "http.method-not-allowed", reason: "\(req.method) is not allowed on \(req.path)")
            r.headers.add("Allow", byMethod.keys.sorted().joined(separator: ", "))
            respond(r)
            return
        }
        h(req, respond)
    }
}

/// Minimal JSON text helpers for handlers that build their answers by hand.
public enum JSONText {
    public static func quote(_ s: String) -> String { JSONValue.quoted(s) }

    public static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }
}
