import MeshHTTP
import MeshHTTP1

/// The heads a pooled hop carries, rewritten as a proxy must (RFC 9110 §7.6.1): `Connection`, every field it
/// names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding` and `Upgrade` are hop-by-hop
/// and dropped; framing is written by us from what the strict parser decided (never copied), so what we send
/// cannot be read two ways. Toward the remote sidecar we always ask for `Connection: keep-alive`.
enum HopHeads {
    /// How a body is delimited on the wire we write.
    enum Body: Equatable { case none, length(Int), chunked, untilClose }

    /// The request line and fields for the hop (always HTTP/1.1; `Host` added for an HTTP/1.0 request that
    /// had none).
    static func request(_ h: HTTPRequestHead, body: Body, defaultHost: String, extra: String? = nil, into out: inout ByteQueue) {
        out.append("\(h.method) \(h.target) HTTP/1.1\r\n")
        let named = connectionTokens(h.headers)
        for (name, value) in h.headers where !isHopByHop(name, named: named) { out.append("\(name): \(value)\r\n") }
        if !h.headers.contains("Host") { out.append("Host: \(defaultHost)\r\n") }
        framing(body, into: &out)
        if let extra {
            out.append(extra)
            out.append("Connection: upgrade\r\n\r\n")
        } else {
            out.append("Connection: keep-alive\r\n\r\n")
        }
    }

    /// The status line and fields for the app; `close` adds `Connection: close`, a keep-alive HTTP/1.0 client
    /// gets `Connection: keep-alive`.
    static func response(_ h: HTTPResponseHead, body: Body, close: Bool, http10: Bool, into out: inout ByteQueue) {
        out.append("HTTP/1.1 \(h.status) \(h.reason)\r\n")
        let named = connectionTokens(h.headers)
        for (name, value) in h.headers where !isHopByHop(name, named: named) { out.append("\(name): \(value)\r\n") }
        framing(body, into: &out)
        if close { out.append("Connection: close\r\n") } else if http10 { out.append("Connection: keep-alive\r\n") }
        out.append("\r\n")
    }

    /// A JSON error answer of our own (`{"error": code, "reason": ...}`).
    static func error(status: Int, reason phrase: String, code: String, why: String, close: Bool, into out: inout ByteQueue) {
        let body = "{\"error\":\(JSONText.quote(code)),\"reason\":\(JSONText.quote(why))}\n"
        out.append("HTTP/1.1 \(status) \(phrase)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n")
        out.append(close ? "Connection: close\r\n\r\n" : "\r\n")
        out.append(body)
    }

    private static func framing(_ body: Body, into out: inout ByteQueue) {
        switch body {
        case .length(let n): out.append("Content-Length: \(n)\r\n")
        case .chunked: out.append("Transfer-Encoding: chunked\r\n")
        case .none, .untilClose: break
        }
    }

    /// How the parser framed a request body (it already refused every ambiguous combination).
    static func requestBody(_ h: HTTPRequestHead) -> Body {
        if h.headers.contains("Transfer-Encoding") { return .chunked }
        if let v = h.headers["Content-Length"], let n = Int(v) { return .length(n) }
        return .none
    }

    /// How the parser framed a response body to a request with `method` (see `Framing.response`).
    static func responseBody(_ h: HTTPResponseHead, method: String) -> Body {
        let cl = h.headers["Content-Length"].flatMap { Int($0) }
        if h.status < 200 || h.status == 204 || h.status == 304 { return .none }
        if method == "HEAD" { return cl.map { .length($0) } ?? .none }  // HEAD: the length of what GET would send
        if h.headers.contains("Transfer-Encoding") { return .chunked }
        if let cl { return .length(cl) }
        return .untilClose
    }

    static let hopByHop: [String] = ["connection", "keep-alive", "proxy-connection", "te", "trailer",
                                     "transfer-encoding", "upgrade", "content-length"]

    /// The field names listed in `Connection` (lower-cased).
    static func connectionTokens(_ headers: HTTPHeaders) -> [String] {
        headers.values("Connection").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingSpaces.lowercased() }.filter { !$0.isEmpty }
    }

    static func isHopByHop(_ name: String, named: [String]) -> Bool {
        let lower = name.lowercased()
        return hopByHop.contains(lower) || named.contains(lower)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
