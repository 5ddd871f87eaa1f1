/// The HTTP versions we speak. Anything else is refused while parsing (505 for other `HTTP/x.y`).
public enum HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    case http10, http11

    public var description: String { self == .http10 ? "HTTP/1.0" : "HTTP/1.1" }
}

/// A request line and its header fields.
public struct HTTPRequestHead: Sendable, Equatable {
    /// A token, case-sensitive (`GET`, not `get`).
    public var method: String
    /// Origin form (`/path?query`) or `*` (OPTIONS only), exactly as received.
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders

    public init(method: String, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders = HTTPHeaders()) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The target before `?`, not decoded.
    public var path: String {
        guard let q = target.utf8.firstIndex(of: ASCII.question) else { return target }
        return String(target[..<q])
    }

    /// The raw query after `?` (nil when there is no `?`).
    public var rawQuery: String? {
        guard let q = target.utf8.firstIndex(of: ASCII.question) else { return nil }
        return String(target[target.utf8.index(after: q)...])
    }

    /// Decoded `key=value` pairs of the query (`%XX` and `+` decoded; a key without `=` maps to ""; the first
    /// occurrence of a key wins; malformed `%` escapes are kept literally).
    public var query: [String: String] {
        var result: [String: String] = [:]
        for (key, value) in queryItems where result[key] == nil { result[key] = value }
        return result
    }

    /// Every decoded query pair, in order, duplicates kept.
    public var queryItems: [(String, String)] {
        guard let raw = rawQuery else { return [] }
        return raw.utf8.split(separator: UInt8(ascii: "&")).map { pair in
            if let eq = pair.firstIndex(of: UInt8(ascii: "=")) {
                return (QueryDecoding.decode(pair[..<eq]), QueryDecoding.decode(pair[pair.index(after: eq)...]))
            }
            return (QueryDecoding.decode(pair), "")
        }
    }

    /// Whether the connection persists after this request (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only
    /// with `Connection: keep-alive`).
    public var keepAlive: Bool { headers.keepAlive(version) }
}

/// A status line and its header fields.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders

    public init(status: Int, reason: String = "", version: HTTPVersion = .http11, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
    }

    /// What the `Connection` fields say. A response framed by the end of the connection (no Content-Length,
    /// not chunked) cannot be followed by another whatever this says: see `HTTPResponseParser.readsUntilClose`.
    public var keepAlive: Bool { headers.keepAlive(version) }
}

/// What a parser reports, in wire order: a head, zero or more non-empty body pieces, and an end.
public enum HTTPEvent<Head: Sendable & Equatable>: Sendable, Equatable {
    case head(Head)
    /// Body bytes at these offsets of the buffer given to the `feed` that returned this event (body bytes never
    /// span feeds, so nothing is copied): a caller that keeps them copies them out before its buffer is reused.
    case body(Range<Int>)
    case end
}

enum QueryDecoding {
    /// Percent-decodes `%XX` and turns `+` into a space; invalid UTF-8 is repaired with U+FFFD.
    static func decode(_ bytes: Substring.UTF8View) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == ASCII.plus {
                out.append(ASCII.sp)
            } else if b == ASCII.percent,
                      let h1 = bytes.index(i, offsetBy: 1, limitedBy: bytes.endIndex), h1 < bytes.endIndex,
                      let h2 = bytes.index(i, offsetBy: 2, limitedBy: bytes.endIndex), h2 < bytes.endIndex,
                      let hi = ASCII.hexValue(bytes[h1]), let lo = ASCII.hexValue(bytes[h2]) {
                out.append(UInt8(hi << 4 | lo))
                i = h2
            } else {
                out.append(b)
            }
            i = bytes.index(after: i)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
