import MeshHTTP
import MeshHTTP1

/// The heads a pooled hop carries, rewritten as a proxy must (RFC 9110 §7.6.1): `Connection`, every field it
/// names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding` and `Upgrade` are hop-by-hop
/// and dropped; framing is written by us from what the strict parser decided (never copied), so what we send
/// cannot be read two ways. Toward the remote sidecar a request carries no `Connection` field at all (but
/// `upgrade` for an upgrade): HTTP/1.1's default keeps the hop open whatever the app said, and the receiving
/// sidecar then has no field to parse and no tokens to look at on every request.
enum HopHeads {
    /// How a body is delimited on the wire we write.
    enum Body: Equatable { case none, length(Int), chunked, untilClose }

    /// The request line and fields for the hop (always HTTP/1.1; `Host` added for an HTTP/1.0 request that
    /// had none: only then is `defaultHost` built).
    static func request(_ h: HTTPRequestHead, body: Body, defaultHost: @autoclosure () -> String, extra: String? = nil,
                        into out: inout ByteQueue) {
        out.append(h.method); out.append(" "); out.append(h.target); out.append(" HTTP/1.1\r\n")
        fields(h.headers, into: &out)
        if !h.headers.contains(.host) { out.append("Host: "); out.append(defaultHost()); out.append("\r\n") }
        framing(body, into: &out)
        if let extra {
            out.append(extra)
            out.append("Connection: upgrade\r\n\r\n")
        } else {
            out.append("\r\n")
        }
    }

    /// The status line and fields for the app; `close` adds `Connection: close`, a keep-alive HTTP/1.0 client
    /// gets `Connection: keep-alive`.
    static func response(_ h: HTTPResponseHead, body: Body, close: Bool, http10: Bool, into out: inout ByteQueue) {
        out.append("HTTP/1.1 "); out.appendDecimal(h.status); out.append(" "); out.append(h.reason); out.append("\r\n")
        fields(h.headers, into: &out)
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

    /// Every end-to-end field, `name: value CRLF`, copied from the received head's lines (neighbouring lines in one
    /// piece, no `String` per field). The
    /// `Connection` tokens are only collected when the head has that field, and only those naming fields that
    /// are not dropped anyway (so the usual `keep-alive` or `close` gives none).
    private static func fields(_ headers: HTTPHeaders, into out: inout ByteQueue) {
        let named = headers.contains(.connection) ? ConnectionTokens.of(headers, skipping: \.isHopByHopOrFraming) : []
        headers.forEachLine(where: { !isHopByHop(headers, $0, named: named) }) { out.append($0) }
    }

    private static func framing(_ body: Body, into out: inout ByteQueue) {
        switch body {
        case .length(let n): out.append("Content-Length: "); out.appendDecimal(n); out.append("\r\n")
        case .chunked: out.append("Transfer-Encoding: chunked\r\n")
        case .none, .untilClose: break
        }
    }

    /// How the parser framed a request body (it already refused every ambiguous combination).
    static func requestBody(_ h: HTTPRequestHead) -> Body {
        if h.headers.contains(.transferEncoding) { return .chunked }
        if let n = h.headers.contentLength { return .length(n) }
        return .none
    }

    /// How the parser framed a response body to a request with `method` (see `Framing.response`).
    static func responseBody(_ h: HTTPResponseHead, method: String) -> Body {
        let cl = h.headers.contentLength
        if h.status < 200 || h.status == 204 || h.status == 304 { return .none }
        if method == "HEAD" { return cl.map { .length($0) } ?? .none }  // HEAD: the length of what GET would send
        if h.headers.contains(.transferEncoding) { return .chunked }
        if let cl { return .length(cl) }
        return .untilClose
    }

    /// The field names listed in `Connection` (lower-cased).
    static func connectionTokens(_ headers: HTTPHeaders) -> [String] { ConnectionTokens.of(headers) }

    /// Field `i` by the kind the parser recognised; a field named in `Connection` by its bytes (ASCII case
    /// ignored, no lower-cased copy).
    static func isHopByHop(_ headers: HTTPHeaders, _ i: Int, named: [String]) -> Bool {
        if headers.kind(at: i).isHopByHopOrFraming { return true }
        return named.contains { headers.name(at: i, equalsLowercase: $0) }
    }
}
