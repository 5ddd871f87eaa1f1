import MeshCore
import MeshHTTP1

/// One `http.paths` entry, compiled for matching without allocation. Matching is on the normalised path
/// (`PathNormalizer`), byte for byte, case-sensitive, query excluded:
/// - a pattern without wildcards matches exactly that path (`/v1/payments` is not `/v1/payments/`);
/// - a `*` segment matches exactly one non-empty segment (`/v1/payments/*/status`);
/// - a final `/**` matches zero or more segments on a segment boundary (`/v1/reports/**` matches `/v1/reports`,
///   `/v1/reports/` and `/v1/reports/a/b`, never `/v1/reportsX`); `/**` alone matches every path.
/// `;` is an ordinary path character: `/admin;x` is one segment and never matches `/admin`. A pattern must be
/// its own normal form (so it can match a normalised path at all), and `*` may not appear inside a segment.
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let text: String
    /// Segments after the leading `/` (before a final `/**`); nil marks `*`.
    let segments: [[UInt8]?]
    /// True when the pattern ends with `/**`.
    let tail: Bool

    public var description: String { text }
    public static func == (a: PathPattern, b: PathPattern) -> Bool { a.text == b.text }
    public func hash(into h: inout Hasher) { h.combine(text) }

    /// Code `policy.bad-path-pattern`.
    public init(parsing text: String) throws(MeshError) {
        let bytes = Array(text.utf8)
        guard bytes.first == UInt8(ascii: "/") else {
            throw MeshError(.policyBadPathPattern, "\(text.debugDescription) does not start with /")
        }
        do {
            let normal = try PathNormalizer.normalize(text)
            guard normal.query == nil, normal.path == text else {
                let shown = normal.query == nil ? normal.path.debugDescription : "a path with a query"
                throw MeshError(.policyBadPathPattern, "\(text.debugDescription) is not a normalised path (its normal form is \(shown))")
            }
        } catch let e as HTTPParseError {
            throw MeshError(.policyBadPathPattern, "\(text.debugDescription) is refused as a path: \(e.code): \(e.reason)")
        } catch let e as MeshError {
            throw e
        } catch {
            throw MeshError(.policyBadPathPattern, "\(text.debugDescription): \(error)")
        }
        var parts = bytes.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
        var tail = false
        if parts.last == Array("**".utf8) {
            tail = true
            parts.removeLast()
            if parts == [[]] { parts = [] }  // `/**`
        }
        var segments: [[UInt8]?] = []
        for part in parts {
            if part == [UInt8(ascii: "*")] {
                segments.append(nil)
            } else if part.contains(UInt8(ascii: "*")) {
                throw MeshError(.policyBadPathPattern,
                                "\(text.debugDescription): * stands alone as a segment (one segment), ** only as the last one")
            } else {
                segments.append(part)
            }
        }
        self.text = text
        self.segments = segments
        self.tail = tail
    }

    /// True when the normalised `path` (starting with `/`) matches.
    @inline(__always)
    func matches(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/")
        var pos = 0
        for segment in segments {
            guard pos < path.count, path[pos] == slash else { return false }
            let start = pos + 1
            var end = start
            while end < path.count && path[end] != slash { end += 1 }
            if let literal = segment {
                guard end - start == literal.count else { return false }
                var i = 0
                while i < literal.count {
                    if literal[i] != path[start + i] { return false }
                    i += 1
                }
            } else if end == start {
                return false
            }
            pos = end
        }
        if tail { return pos == path.count || path[pos] == slash }
        return pos == path.count
    }

    /// `matches` for a `String` (tests, `meshctl check`).
    public func matches(_ path: String) -> Bool {
        var p = path
        return p.withUTF8 { matches($0) }
    }
}
