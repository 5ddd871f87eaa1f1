/// Writes whole messages. It never emits a byte that would make our own parser (or any strict one) read the
/// message differently: framing fields are always ours, and fields that could split a message are dropped.
///
/// - Caller fields named `Content-Length` or `Transfer-Encoding` are dropped; the serializer writes the length
///   of the body it is given.
/// - Fields whose name is not a token, or whose value holds CR, LF, NUL or another control character (HTAB
///   aside), are dropped. CR, LF and other control characters in a reason phrase become spaces.
/// - Target bytes outside visible ASCII are percent-encoded. The method must be a token (a programming error
///   otherwise: methods come from constants or from our parser).
public enum HTTPSerializer {
    /// A response. Adds Content-Length (except for 1xx, 204 and 304, which get no body either) and, when
    /// `keepAlive` is false, `Connection: close` in place of any caller Connection field. For a HEAD request
    /// pass the headers only; the Content-Length written is then 0. `status` must have three digits.
    public static func response(status: Int, reason: String? = nil, headers: HTTPHeaders = HTTPHeaders(),
                                body: [UInt8] = [], keepAlive: Bool = true) -> [UInt8] {
        precondition((100...999).contains(status), "HTTP status must have three digits")
        let bodyless = status < 200 || status == 204 || status == 304
        var out: [UInt8] = []
        out.reserveCapacity(64 + headers.count * 32 + (bodyless ? 0 : body.count))
        append("HTTP/1.1 \(status) ", to: &out)
        for b in (reason ?? reasonPhrase(status)).utf8 { out.append(b < 0x20 && b != ASCII.htab || b == 0x7F ? ASCII.sp : b) }
        crlf(&out)
        for i in 0..<headers.count where !isFraming(headers.kind(at: i)) && (keepAlive || headers.kind(at: i) != .connection) {
            let (name, value) = (headers.name(at: i), headers.value(at: i))
            if isSafe(name, value) { field(name, value, to: &out) }
        }
        if !bodyless { field("Content-Length", String(body.count), to: &out) }
        if !keepAlive { field("Connection", "close", to: &out) }
        crlf(&out)
        if !bodyless { out.append(contentsOf: body) }
        return out
    }

    /// An HTTP/1.1 request. Adds Content-Length when the body is non-empty or the method is POST, PUT or
    /// PATCH. The caller supplies Host (an HTTP/1.1 request without one is refused by servers).
    public static func request(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(),
                               body: [UInt8] = []) -> [UInt8] {
        precondition(ASCII.isToken(method.utf8), "HTTP method must be a token")
        var out: [UInt8] = []
        out.reserveCapacity(64 + target.utf8.count + headers.count * 32 + body.count)
        append(method, to: &out)
        out.append(ASCII.sp)
        for b in target.utf8 {
            if ASCII.isVisible(b) {
                out.append(b)
            } else {
                out.append(ASCII.percent)
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0x0F))
            }
        }
        append(" HTTP/1.1", to: &out)
        crlf(&out)
        for i in 0..<headers.count where !isFraming(headers.kind(at: i)) {
            let (name, value) = (headers.name(at: i), headers.value(at: i))
            if isSafe(name, value) { field(name, value, to: &out) }
        }
        if !body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" {
            field("Content-Length", String(body.count), to: &out)
        }
        crlf(&out)
        out.append(contentsOf: body)
        return out
    }

    /// We write the framing ourselves, from the body we were given.
    private static func isFraming(_ kind: HTTPFieldKind) -> Bool { kind == .contentLength || kind == .transferEncoding }

    /// A token name and a value without control characters other than HTAB.
    static func isSafe(_ name: String, _ value: String) -> Bool {
        ASCII.isToken(name.utf8) && value.utf8.allSatisfy { ($0 >= 0x20 || $0 == ASCII.htab) && $0 != 0x7F }
    }

    private static func field(_ name: String, _ value: String, to out: inout [UInt8]) {
        append(name, to: &out)
        out.append(ASCII.colon)
        out.append(ASCII.sp)
        append(value, to: &out)
        crlf(&out)
    }

    @inline(__always) private static func append(_ s: String, to out: inout [UInt8]) { out.appendUTF8(s) }
    @inline(__always) private static func crlf(_ out: inout [UInt8]) {
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }
    private static func hexDigit(_ n: UInt8) -> UInt8 { n < 10 ? 0x30 + n : 0x41 + n - 10 }
}
