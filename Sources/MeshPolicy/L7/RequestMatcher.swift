import MeshCore

/// A rule's request conditions compiled for the data path: methods as a bit mask (other tokens in a short list),
/// path patterns flattened into one byte buffer and one segment table, header conditions and the token
/// requirement. A class, so a rule's matcher is one reference in the slice (no copy of its arrays per decision);
/// matching allocates nothing and reads the path through the one `withUTF8` of `decideRequest`.
final class RequestMatcher: Sendable {
    /// Bit of each common method; 0 = any method.
    let methodMask: UInt16
    /// Methods without a bit (compared as strings).
    let otherMethods: [String]
    /// Literal bytes of every path pattern, back to back.
    let pathBytes: [UInt8]
    /// Per pattern: segment count, tail flag (1 for a final `/**`), then (offset, length) per segment, length -1
    /// for `*`. Empty when the rule lists no paths.
    let pathTable: [Int32]
    let patterns: [PathPattern]
    let headers: [HeaderCondition]
    /// Allow rules read repeated headers strictly (`HeaderCondition`).
    let strictHeaders: Bool
    let jwt: JWTRequirement?
    /// The rule's method list, for `explain`.
    let methods: [String]

    static let commonMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]
    /// Bit for methods outside `commonMethods`.
    static let otherBit: UInt16 = 1 << 15

    /// The method's bit (`otherBit` for the rest); computed once per request.
    @inline(__always)
    static func bit(_ method: String) -> UInt16 {
        switch method {
        case "GET": 1
        case "POST": 1 << 2
        case "PUT": 1 << 3
        case "DELETE": 1 << 4
        case "PATCH": 1 << 5
        case "HEAD": 1 << 1
        case "OPTIONS": 1 << 6
        case "TRACE": 1 << 7
        case "CONNECT": 1 << 8
        default: otherBit
        }
    }

    convenience init?(rule: SliceRule) { self.init(action: rule.action, http: rule.http, jwt: rule.jwt) }

    /// nil for a rule without `http` and `jwt` (it matches every request).
    init?(action: PolicyAction, http: HTTPMatch?, jwt: JWTRequirement?) {
        guard http != nil || jwt != nil else { return nil }
        methods = http?.methods ?? []
        var mask: UInt16 = 0
        var others: [String] = []
        for m in methods {
            if Self.commonMethods.contains(m) { mask |= Self.bit(m) } else {
                mask |= Self.otherBit
                others.append(m)
            }
        }
        methodMask = mask
        otherMethods = others
        patterns = http?.paths ?? []
        var bytes: [UInt8] = []
        var table: [Int32] = []
        for p in patterns {
            table.append(Int32(p.segments.count))
            table.append(p.tail ? 1 : 0)
            for s in p.segments {
                table.append(Int32(bytes.count))
                if let s { table.append(Int32(s.count)); bytes += s } else { table.append(-1) }
            }
        }
        pathBytes = bytes
        pathTable = table
        headers = http?.headers ?? []
        strictHeaders = action == .allow
        self.jwt = jwt
    }

    /// The index of the first matching path pattern (-1 when the rule lists none), nil when the method, path or
    /// a header condition does not match. `methodBit` is `bit(request.method)`.
    @inline(__always)
    func matchHTTP(_ request: RequestFacts, methodBit: UInt16, path: UnsafeBufferPointer<UInt8>) -> Int? {
        if methodMask != 0 {
            if methodMask & methodBit == 0 { return nil }
            if methodBit == Self.otherBit && !otherMethods.contains(request.method) { return nil }
        }
        var route = -1
        if !pathTable.isEmpty {
            route = pathBytes.withUnsafeBufferPointer { b in pathTable.withUnsafeBufferPointer { t in Self.firstMatch(t, b, path) } }
            if route < 0 { return nil }
        }
        if !headers.isEmpty {
            for condition in headers where !condition.holds(request.headers, strict: strictHeaders) { return nil }
        }
        return route
    }

    /// The index of the first pattern of `table` that matches `path`, -1 when none does.
    @inline(__always)
    static func firstMatch(_ table: UnsafeBufferPointer<Int32>, _ bytes: UnsafeBufferPointer<UInt8>,
                           _ path: UnsafeBufferPointer<UInt8>) -> Int {
        var at = 0
        var index = 0
        while at < table.count {
            let count = Int(table[at])
            let segments = UnsafeBufferPointer(rebasing: table[(at + 2)..<(at + 2 + 2 * count)])
            if matches(segments: segments, count: count, tail: table[at + 1] == 1, bytes, path) { return index }
            at += 2 + 2 * count
            index += 1
        }
        return -1
    }

    /// True when one pattern ((offset, length or -1 for `*`) per segment, literal bytes in `bytes`) matches `path`.
    @inline(__always)
    static func matches(segments: UnsafeBufferPointer<Int32>, count: Int, tail: Bool, _ bytes: UnsafeBufferPointer<UInt8>,
                        _ path: UnsafeBufferPointer<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/")
        var pos = 0
        var k = 0
        while k < count {
            let offset = Int(segments[2 * k]), length = Int(segments[2 * k + 1])
            k += 1
            guard pos < path.count, path[pos] == slash else { return false }
            let start = pos + 1
            var end = start
            while end < path.count && path[end] != slash { end += 1 }
            if length < 0 {
                if end == start { return false }
            } else {
                if end - start != length { return false }
                var i = 0
                while i < length && bytes[offset + i] == path[start + i] { i += 1 }
                if i != length { return false }
            }
            pos = end
        }
        return tail ? (pos == path.count || path[pos] == slash) : pos == path.count
    }

    /// Why the http part does not match, for `explain` (nil when it matches).
    func httpMismatch(_ request: RequestFacts) -> String? {
        if !methods.isEmpty && !methods.contains(request.method) {
            return "method \(request.method) not in [\(methods.joined(separator: ", "))]"
        }
        if !patterns.isEmpty && !patterns.contains(where: { $0.matches(request.path) }) {
            return "path \(request.path) matches none of [\(patterns.map(\.text).joined(separator: ", "))]"
        }
        for condition in headers where !condition.holds(request.headers, strict: strictHeaders) {
            switch condition.test {
            case .equals(let v):
                return "header \(condition.name) is not \(v.debugDescription)\(strictHeaders ? " (on every line)" : "")"
            case .present: return "header \(condition.name) is absent"
            case .absent: return "header \(condition.name) is present"
            }
        }
        return nil
    }

    /// The matched path pattern's text, nil when the rule lists no paths or none matches.
    func route(_ path: String) -> String? { patterns.first { $0.matches(path) }?.text }
}

/// Folds the rules that apply to a request: the kinds as for connections, plus the first enforced allow rule
/// that matched everything but its token requirement because the token was missing or invalid.
struct RequestAccumulator {
    var rules = DecisionAccumulator()
    var needsToken = Int.max
}

enum L7Compiler {
    /// The issuers the inbound rules of a slice name in `jwt` (least privilege: a sidecar learns only the
    /// issuers it must verify), in the mesh's order.
    static func issuers(for rules: [SliceRule], inbound: [Int: InboundPort], policy: MeshPolicy) -> [SliceIssuer] {
        var used = Set<Int>()
        for table in inbound.values {
            for list in table.identities.values { used.formUnion(list) }
            for prefix in table.prefixes { used.formUnion(prefix.rules) }
        }
        var names = Set<String>()
        for index in used { names.formUnion(rules[index].jwt?.issuers ?? []) }
        return policy.issuers.filter { names.contains($0.issuer) }
    }
}
