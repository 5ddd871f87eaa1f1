/// Request-target path normalisation for per-request authorization (issue 13): the path a rule is matched
/// against must be the path the app receives, byte for byte, so there is one canonical spelling of each path
/// and everything that could be read two ways (`%2F`, `\`, `..` above the root, bad escapes, NUL, fragments)
/// is refused instead of guessed. Pure: bytes in, a `NormalizedTarget` or an `HTTPParseError` out.

/// What `PathNormalizer` may accept beyond the strict default.
public struct PathNormalizerOptions: Sendable, Equatable {
    /// Longest request-target (path and query, as sent) accepted; longer is `http.path-too-long` (414).
    /// Default 8192, the same order as the request line limit.
    public var maxBytes: Int
    /// Keep `%2F` (encoded `/`) as `%2F` inside its segment instead of refusing it. Off by default: an app or
    /// framework that decodes it would see a different path (more segments) than the one authorized.
    public var keepEncodedSlash: Bool
    /// Keep `%5C` (encoded `\`) as `%5C` instead of refusing it. Off by default: some servers treat `\` as `/`.
    public var keepEncodedBackslash: Bool

    public init(maxBytes: Int = 8192, keepEncodedSlash: Bool = false, keepEncodedBackslash: Bool = false) {
        self.maxBytes = maxBytes
        self.keepEncodedSlash = keepEncodedSlash
        self.keepEncodedBackslash = keepEncodedBackslash
    }
}

/// A normalised origin-form target: the path to match and to forward, and the query exactly as sent.
public struct NormalizedTarget: Sendable, Equatable, CustomStringConvertible {
    /// Starts with `/`; no empty, `.` or `..` segments; unreserved characters never escaped; other escapes in
    /// upper-case hex. Normalising it again gives it back unchanged.
    public let path: String
    /// The bytes after the first `?`, untouched (nil when there was no `?`; "" for a bare `?`).
    public let query: String?

    public init(path: String, query: String?) {
        self.path = path
        self.query = query
    }

    /// The request-target to forward: `path` then `?query` when there was one.
    public var target: String { query.map { path + "?" + $0 } ?? path }
    public var description: String { target }
}

/// Normalises origin-form request-targets (RFC 9112 3.2.1, RFC 3986 6.2.2 and 5.2.4).
public enum PathNormalizer {
    /// Normalise `target` (path and optional `?query`, as on the request line).
    ///
    /// Steps, in one pass: escapes of unreserved characters (ALPHA DIGIT `-` `.` `_` `~`) are decoded, every
    /// other escape is kept with upper-case hex; `//` runs are merged; `.` segments are dropped and `..` removes
    /// the segment before it. Refused (status 400 unless said): not starting with `/`
    /// (`http.path-not-origin-form`), longer than `maxBytes` (414 `http.path-too-long`), a `#`
    /// (`http.path-fragment`), a raw or escaped NUL (`http.path-nul`), `%` not followed by two hex digits
    /// (`http.path-bad-escape`), `%2F`/`%5C` unless allowed (`http.path-encoded-slash`/`-backslash`), a byte
    /// outside RFC 3986 `pchar` (`http.path-bad-char`), escapes that are not valid UTF-8 such as overlong forms
    /// (`http.path-bad-utf8`), and `..` above the root (`http.path-escapes-root`).
    public static func normalize(_ target: String, options: PathNormalizerOptions = .init()) throws(HTTPParseError)
        -> NormalizedTarget {
        var t = target
        return try t.withUTF8 { b in
            Result { () throws(HTTPParseError) -> NormalizedTarget in try normalize(bytes: b, options: options) }
        }.get()
    }

    /// Normalise the bytes of a request-target; see `normalize(_:options:)`.
    public static func normalize(_ target: [UInt8], options: PathNormalizerOptions = .init()) throws(HTTPParseError)
        -> NormalizedTarget {
        try target.withUnsafeBufferPointer { b in
            Result { () throws(HTTPParseError) -> NormalizedTarget in try normalize(bytes: b, options: options) }
        }.get()
    }

    static func normalize(bytes t: UnsafeBufferPointer<UInt8>, options: PathNormalizerOptions) throws(HTTPParseError)
        -> NormalizedTarget {
        guard t.count <= options.maxBytes else { throw .pathTooLong(options.maxBytes) }
        guard t.first == ASCII.slash else { throw .pathNotOriginForm }
        var end = t.count
        var query: String? = nil
        for i in 0..<t.count where t[i] == ASCII.question || t[i] == 0x23 {
            if t[i] == 0x23 { throw .pathFragment }
            end = i
            break
        }
        if end < t.count {
            for i in (end + 1)..<t.count {
                let c = t[i]
                if c == 0 { throw .pathNul }
                if c == 0x23 { throw .pathFragment }
                guard ASCII.isVisible(c) else { throw .pathBadChar(c) }
            }
            query = String(decoding: UnsafeBufferPointer(rebasing: t[(end + 1)...]), as: UTF8.self)
        }

        // The output is never longer than the input path (decoding and merging only shrink it).
        var out: [UInt8] = []
        out.reserveCapacity(end + 1)
        var utf8 = UTF8Check()
        var i = 0
        while i < end {
            // At a '/': skip the run of them, then read one segment into `out` after a '/'.
            while i < end && t[i] == ASCII.slash { i += 1 }
            if i == end { break }
            let segStart = out.count
            out.append(ASCII.slash)
            while i < end && t[i] != ASCII.slash {
                let c = t[i]
                if c == ASCII.percent {
                    guard i + 2 < end, let hi = ASCII.hexValue(t[i + 1]), let lo = ASCII.hexValue(t[i + 2]) else {
                        throw .pathBadEscape
                    }
                    let v = UInt8(hi << 4 | lo)
                    try utf8.feed(v)
                    if v == 0 { throw .pathNul }
                    if v == ASCII.slash && !options.keepEncodedSlash { throw .pathEncodedSlash }
                    if v == 0x5C && !options.keepEncodedBackslash { throw .pathEncodedBackslash }
                    if isUnreserved(v) {
                        out.append(v)
                    } else {
                        out.append(ASCII.percent)
                        out.append(upperHex(v >> 4))
                        out.append(upperHex(v & 0x0F))
                    }
                    i += 3
                } else {
                    if c == 0 { throw .pathNul }
                    guard isPchar(c) else { throw .pathBadChar(c) }
                    try utf8.feed(c)
                    out.append(c)
                    i += 1
                }
            }
            try utf8.feed(ASCII.slash)  // a sequence may not run across a '/'
            // RFC 3986 5.2.4 on the segment just written (decoded, so `%2E%2E` is `..` too).
            let n = out.count - segStart
            if n == 2 && out[segStart + 1] == 0x2E {
                out.removeLast(2)
            } else if n == 3 && out[segStart + 1] == 0x2E && out[segStart + 2] == 0x2E {
                // Refused, not clamped to "/" as 5.2.4 would: a client asking for `/../admin` did not mean
                // `/admin`, and a path that differs from what the client meant is what traversal attacks rely on.
                out.removeLast(3)
                guard let previous = out.lastIndex(of: ASCII.slash) else { throw .pathEscapesRoot }
                out.removeSubrange(previous...)
            }
        }
        try utf8.finish()
        // A trailing '/' (or a final `.`/`..`, which names the folder) stays; "/" for an empty result.
        let last = t[end - 1]
        let endsInFolder = last == ASCII.slash || endsWithDotSegment(t, end)
        if out.isEmpty || endsInFolder { out.append(ASCII.slash) }
        return NormalizedTarget(path: String(decoding: out, as: UTF8.self), query: query)
    }

    /// Whether the path ends with a `.` or `..` segment, raw or escaped (`%2e`).
    private static func endsWithDotSegment(_ t: UnsafeBufferPointer<UInt8>, _ end: Int) -> Bool {
        var i = end
        var dots = 0
        while i > 0 {
            if t[i - 1] == 0x2E { dots += 1; i -= 1; continue }
            if i >= 3 && t[i - 3] == ASCII.percent && t[i - 2] == 0x32 && ASCII.lower(t[i - 1]) == 0x65 {
                dots += 1; i -= 3; continue
            }
            break
        }
        return (dots == 1 || dots == 2) && i > 0 && t[i - 1] == ASCII.slash
    }

    /// unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
    @inline(__always) static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: true
        default: false
        }
    }

    /// pchar without pct-encoded: unreserved / sub-delims ("!$&'()*+,;=") / ":" / "@".
    @inline(__always) static func isPchar(_ b: UInt8) -> Bool {
        switch b {
        case 0x21, 0x24, 0x26...0x2C, 0x3B, 0x3D, 0x3A, 0x40: true
        default: isUnreserved(b)
        }
    }

    @inline(__always) static func upperHex(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }
}

/// UTF-8 well-formedness (RFC 3629) of the decoded path bytes: escaped non-ASCII must form whole, shortest-form
/// scalars, so `%C0%AE` (an overlong `.`) or a lone surrogate never reaches an app that might decode it loosely.
struct UTF8Check {
    private var remaining = 0
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF

    mutating func feed(_ b: UInt8) throws(HTTPParseError) {
        if remaining > 0 {
            guard b >= low && b <= high else { throw .pathBadUTF8 }
            remaining -= 1
            low = 0x80
            high = 0xBF
            return
        }
        switch b {
        case 0x00...0x7F: return
        case 0xC2...0xDF: remaining = 1
        case 0xE0: remaining = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF: remaining = 2
        case 0xED: remaining = 2; high = 0x9F
        case 0xF0: remaining = 3; low = 0x90
        case 0xF1...0xF3: remaining = 3
        case 0xF4: remaining = 3; high = 0x8F
        default: throw .pathBadUTF8
        }
    }

    func finish() throws(HTTPParseError) {
        if remaining > 0 { throw .pathBadUTF8 }
    }
}

/// Refusals of `PathNormalizer`; each code is declared in `MeshCore` (`ErrorCodes+Path.swift`).
extension HTTPParseError {
    static func pathTooLong(_ limit: Int) -> Self {
        .init(status: 414, code: "http.path-too-long", reason: "request-target longer than \(limit) bytes")
    }
    static let pathNotOriginForm = Self(status: 400, code: "http.path-not-origin-form",
                                        reason: "request-target does not start with '/'")
    static let pathFragment = Self(status: 400, code: "http.path-fragment", reason: "'#' (a fragment) in the request-target")
    static let pathNul = Self(status: 400, code: "http.path-nul", reason: "NUL (raw or %00) in the request-target")
    static let pathBadEscape = Self(status: 400, code: "http.path-bad-escape", reason: "'%' not followed by two hex digits")
    static let pathEncodedSlash = Self(status: 400, code: "http.path-encoded-slash", reason: "encoded '/' (%2F) in the path")
    static let pathEncodedBackslash = Self(status: 400, code: "http.path-encoded-backslash",
                                           reason: "encoded '\\' (%5C) in the path")
    static let pathBadUTF8 = Self(status: 400, code: "http.path-bad-utf8", reason: "escaped bytes are not valid UTF-8")
    static let pathEscapesRoot = Self(status: 400, code: "http.path-escapes-root", reason: "'..' climbs above '/'")
    static func pathBadChar(_ b: UInt8) -> Self {
        .init(status: 400, code: "http.path-bad-char", reason: "byte 0x\(String(b, radix: 16)) not allowed unescaped")
    }
}
