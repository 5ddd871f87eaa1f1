/// How a message's body is delimited, decided once from its head (RFC 9112 §6), strictly: any head a
/// smuggler could make two parsers read differently is refused rather than interpreted.
enum BodyFraming: Equatable, Sendable {
    /// No body: the message ends with its head.
    case none
    /// Exactly this many bytes (more than zero).
    case length(Int)
    case chunked
    /// Until the connection closes (responses only).
    case untilClose
}

enum Framing {
    /// What `Content-Length` and `Transfer-Encoding` say, after the checks every message gets, in this order:
    /// both present; two Content-Lengths; two Transfer-Encodings; Transfer-Encoding in HTTP/1.0;
    /// Transfer-Encoding other than `chunked`; Content-Length syntax and overflow.
    static func fields(_ headers: HTTPHeaders, version: HTTPVersion) throws(HTTPParseError) -> (length: Int?, chunked: Bool) {
        let (lengths, encodings, length, encoding) = headers.framingFields()
        if lengths > 0 && encodings > 0 { throw .clAndTE }
        if lengths > 1 { throw .duplicateContentLength }
        if encodings > 1 { throw .duplicateTransferEncoding }
        if let encoding {
            if version == .http10 { throw .transferEncodingInHTTP10 }
            let chunked = headers.valueBytes(at: encoding) { ASCII.equalsIgnoringCase($0, "chunked".utf8) }
            guard chunked else { throw .unsupportedTransferEncoding }
            return (nil, true)
        }
        guard let length else { return (nil, false) }
        let parsed = headers.valueBytes(at: length) { v in Result { () throws(HTTPParseError) -> Int in try contentLength(v) } }
        return (try parsed.get(), false)
    }

    /// `1*DIGIT`, no sign, no inner spaces, no list; overflow refused.
    static func contentLength(_ value: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        guard !value.isEmpty else { throw .badContentLength }
        var n = 0
        for b in value {
            guard ASCII.isDigit(b) else { throw .badContentLength }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(b - 0x30))
            if o1 || o2 { throw .contentLengthOverflow }
            n = sum
        }
        return n
    }

    /// A request: chunked, a length within `maxBodyBytes` (413 beyond, before any body byte is read), or no
    /// body. Then Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, made of host[:port] characters.
    static func request(_ head: HTTPRequestHead, limits: HTTPLimits) throws(HTTPParseError) -> BodyFraming {
        let (length, chunked) = try fields(head.headers, version: head.version)
        let framing: BodyFraming
        if chunked {
            framing = .chunked
        } else if let length, length > 0 {
            guard length <= limits.maxBodyBytes else { throw .bodyTooLarge(limits.maxBodyBytes) }
            framing = .length(length)
        } else {
            framing = .none
        }
        switch head.headers.hostFields() {
        case (0, _): if head.version == .http11 { throw .missingHost }
        case (1, let i?): if !head.headers.valueBytes(at: i, { $0.allSatisfy(isHostByte) }) { throw .badHost }
        default: throw .duplicateHost
        }
        return framing
    }

    /// A response to a request with `requestMethod`: none for 1xx, 204, 304 and HEAD (their length fields are
    /// still checked); otherwise chunked, a length within `maxBodyBytes`, or until the connection closes.
    static func response(_ head: HTTPResponseHead, requestMethod: String, limits: HTTPLimits) throws(HTTPParseError) -> BodyFraming {
        let (length, chunked) = try fields(head.headers, version: head.version)
        if head.status < 200 || head.status == 204 || head.status == 304 || requestMethod == "HEAD" { return .none }
        if chunked { return .chunked }
        guard let length else { return .untilClose }
        guard length <= limits.maxBodyBytes else { throw .bodyTooLarge(limits.maxBodyBytes) }
        return length == 0 ? .none : .length(length)
    }

    /// uri-host [":" port]: unreserved, sub-delims, ":", "%", "[" and "]" (IP literals).
    private static func isHostByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true  // DIGIT ALPHA
        case 0x2D, 0x2E, 0x5F, 0x7E: true  // - . _ ~
        case 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D: true  // ! $ & ' ( ) * + , ; =
        case 0x3A, 0x25, 0x5B, 0x5D: true  // : % [ ]
        default: false
        }
    }
}
