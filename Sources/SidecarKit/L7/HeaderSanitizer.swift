import MeshHTTP1

/// How a request's body reaches the app: re-framed by us, never copied from the caller's framing fields.
enum RequestBodyFraming: Equatable {
    case none
    case length(Int)
    /// Re-encoded: every chunk as `size CRLF data CRLF`, extensions and trailers dropped, `0 CRLF CRLF` at the end.
    case chunked

    /// The framing the parser accepted for `head` (it already refused every ambiguous combination).
    init(_ head: HTTPRequestHead) {
        if head.headers.contains("Transfer-Encoding") {
            self = .chunked
        } else if let v = head.headers["Content-Length"], let n = Int(v) {
            self = .length(n)
        } else {
            self = .none
        }
    }
}

/// What the app receives in place of the caller's head: the authorized (normalised) target, the caller's fields
/// minus hop-by-hop ones and minus anything that could pass for ours, then our identity fields. The caller
/// cannot forge `x-mesh-*` or a forwarded client certificate: every such field is dropped before ours are added.
enum HeaderSanitizer {
    /// Hop-by-hop fields (RFC 9110 §7.6.1) and the framing fields we rewrite.
    private static let hopByHop: Set<String> = ["connection", "keep-alive", "te", "trailer", "upgrade",
                                                "transfer-encoding", "content-length"]

    /// True for a field the app must not receive from the caller. `named` are the (lowercase) tokens of the
    /// request's `Connection` fields; `Upgrade` is kept (with `Connection: upgrade`) when `upgrading`.
    static func isStripped(_ name: String, named: [String], upgrading: Bool) -> Bool {
        let n = name.lowercased()
        if upgrading && n == "upgrade" { return false }
        if hopByHop.contains(n) || named.contains(n) { return true }
        return n.hasPrefix("proxy-") || n.hasPrefix("x-mesh-") || n == "x-forwarded-client-cert"
            || n.hasPrefix("x-client-cert") || n.hasPrefix("x-ssl-client") || n == "x-client-verify"
    }

    /// The tokens of every `Connection` field, lowercase.
    static func connectionTokens(_ headers: HTTPHeaders) -> [String] {
        headers.values("Connection").flatMap { $0.split(separator: ",") }
            .map { String($0.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()).lowercased() }
            .filter { !$0.isEmpty }
    }

    /// The head for the app, byte for byte: `METHOD SP target SP version CRLF`, the kept fields in the order
    /// received, `Connection: upgrade` when upgrading, our framing field, then `x-mesh-peer-identity`,
    /// `x-mesh-token-subject` (only with a verified subject that is safe in a field value) and
    /// `x-mesh-request-id`, and the empty line.
    static func forwardedHead(_ head: HTTPRequestHead, target: String, upgrading: Bool, peer: String,
                              subject: String?, requestID: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + head.headers.count * 48)
        func line(_ s: String) { out.append(contentsOf: s.utf8); out.append(13); out.append(10) }
        line("\(head.method) \(target) \(head.version)")
        let named = connectionTokens(head.headers)
        for (name, value) in head.headers where !isStripped(name, named: named, upgrading: upgrading) {
            line("\(name): \(value)")
        }
        if upgrading { line("Connection: upgrade") }
        switch RequestBodyFraming(head) {
        case .none: break
        case .length(let n): line("Content-Length: \(n)")
        case .chunked: line("Transfer-Encoding: chunked")
        }
        line("x-mesh-peer-identity: \(peer)")
        if let subject, isSafeValue(subject) { line("x-mesh-token-subject: \(subject)") }
        line("x-mesh-request-id: \(requestID)")
        out.append(13); out.append(10)
        return out
    }

    /// Visible ASCII, space and HTAB only (a subject with CR, LF, NUL or non-ASCII is not forwarded).
    static func isSafeValue(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 }
    }
}
