import MeshHTTP1

/// How a request's body reaches the app: re-framed by us, never copied from the caller's framing fields.
enum RequestBodyFraming: Equatable {
    case none
    case length(Int)
    /// Re-encoded: every chunk as `size CRLF data CRLF`, extensions and trailers dropped, `0 CRLF CRLF` at the end.
    case chunked

    /// The framing the parser accepted for `head` (it already refused every ambiguous combination).
    init(_ head: HTTPRequestHead) {
        if head.headers.contains(.transferEncoding) {
            self = .chunked
        } else if let n = head.headers.contentLength {
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
    /// True for a field the app must not receive from the caller: hop-by-hop and framing fields, look-alikes of
    /// ours (`x-mesh-*`, `proxy-*`, `x-client-cert*`, `x-ssl-client*`, `x-forwarded-client-cert`,
    /// `x-client-verify`: see `HTTPFieldKind`), and fields named by `named`, the (lowercase) tokens of the
    /// request's `Connection` fields. `Upgrade` is kept (with `Connection: upgrade`) when `upgrading`.
    static func isStripped(_ headers: HTTPHeaders, _ i: Int, named: [String], upgrading: Bool) -> Bool {
        switch headers.kind(at: i) {
        case .upgrade: return !upgrading
        case .meshLookalike: return true
        case let kind where kind.isHopByHopOrFraming: return true
        default: return named.contains { headers.name(at: i, equalsLowercase: $0) }
        }
    }

    /// The tokens of every `Connection` field, lowercase.
    static func connectionTokens(_ headers: HTTPHeaders) -> [String] { ConnectionTokens.of(headers) }

    /// The head for the app, byte for byte: `METHOD SP target SP version CRLF`, the kept fields in the order
    /// received (every field named in `dropping` left out too: tokens kept from the app),
    /// `Connection: upgrade` when upgrading, our framing field, then `x-mesh-peer-identity`,
    /// `x-mesh-token-subject` (only with a verified subject that is safe in a field value), the verified claims
    /// its issuer hands on (`x-mesh-claim-<name>`, checked safe by `RequestGate.claimHeaders`) and
    /// `x-mesh-request-id`, and the empty line. Appended to `out` (the connection's queue toward the app: no
    /// array of its own per request).
    static func writeForwardedHead(_ head: HTTPRequestHead, target: String, upgrading: Bool, peer: String,
                                   subject: String?, requestID: String, dropping: [String] = [], claims: [ClaimHeader] = [],
                                   into out: inout [UInt8]) {
        out.reserveCapacity(out.count + 256 + head.headers.count * 48)
        @inline(__always) func put(_ s: String) { out.appendUTF8(s) }
        @inline(__always) func crlf() { out.append(13); out.append(10) }
        put(head.method); out.append(0x20); put(target); out.append(0x20); put(head.version.description); crlf()
        // Tokens naming fields dropped (or, for `upgrade` when upgrading, kept) anyway are left out.
        let named = head.headers.contains(.connection) ? ConnectionTokens.of(head.headers, skipping: \.isHopByHopOrFraming) : []
        let headers = head.headers
        headers.forEachLine(where: { i in
            !isStripped(headers, i, named: named, upgrading: upgrading) && !dropping.contains { headers.name(at: i, equalsLowercase: $0) }
        }) { out.append(contentsOf: $0) }
        if upgrading { put("Connection: upgrade\r\n") }
        switch RequestBodyFraming(head) {
        case .none: break
        case .length(let n): put("Content-Length: "); put(String(n)); crlf()
        case .chunked: put("Transfer-Encoding: chunked\r\n")
        }
        put("x-mesh-peer-identity: "); put(peer); crlf()
        if let subject, isSafeValue(subject) { put("x-mesh-token-subject: "); put(subject); crlf() }
        for c in claims { put("x-mesh-claim-"); put(c.name); put(": "); put(c.value); crlf() }
        put("x-mesh-request-id: "); put(requestID); crlf()
        crlf()
    }

    /// Visible ASCII, space and HTAB only (a subject with CR, LF, NUL or non-ASCII is not forwarded).
    static func isSafeValue(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 }
    }
}
