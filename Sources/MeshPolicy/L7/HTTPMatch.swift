import MeshCore

/// A rule's `http` match: which requests on an `http` port the rule is about. Every present list must match
/// (methods: one of them; paths: one of them; headers: all conditions); an absent list matches everything.
/// ```json
/// "http": {"methods": ["GET", "POST"], "paths": ["/v1/payments", "/v1/payments/*/status", "/v1/reports/**"],
///          "headers": [{"name": "x-tenant", "equals": "acme"}, {"name": "x-debug", "absent": true}]}
/// ```
public struct HTTPMatch: Sendable, Equatable {
    /// Upper-case method tokens, compared exactly (`GET` does not imply `HEAD`); empty: any method.
    public let methods: [String]
    /// Path patterns (`PathPattern`); empty: any path.
    public let paths: [PathPattern]
    /// Header conditions, all of which must hold.
    public let headers: [HeaderCondition]

    public init(methods: [String] = [], paths: [PathPattern] = [], headers: [HeaderCondition] = []) {
        self.methods = methods
        self.paths = paths
        self.headers = headers
    }

    /// Longest method token accepted in a rule.
    public static let maxMethodBytes = 32
}

/// One `http.headers` entry. Names are lower-case tokens (requests carry names lower-cased). When a request
/// repeats the header, ambiguity never helps the caller: on an allow rule `equals` needs every field line of
/// that name to equal the value, on a deny rule one equal line is enough; `present`/`absent` count any line.
public struct HeaderCondition: Sendable, Hashable {
    public enum Test: Sendable, Hashable {
        case equals(String)
        case present
        case absent
    }

    public let name: String
    public let test: Test

    public init(name: String, test: Test) {
        self.name = name
        self.test = test
    }

    /// True when the condition holds for `headers`; `strict` (allow rules) for the every-line reading of `equals`.
    @inline(__always)
    func holds(_ headers: [RequestFacts.Header], strict: Bool) -> Bool {
        var seen = false
        var anyEqual = false
        var allEqual = true
        for h in headers where h.name == name {
            seen = true
            if case .equals(let value) = test {
                if h.value == value { anyEqual = true } else { allEqual = false }
            }
        }
        switch test {
        case .present: return seen
        case .absent: return !seen
        case .equals: return seen && (strict ? allEqual : anyEqual)
        }
    }
}

extension HTTPMatch {
    /// Reads `{"methods", "paths", "headers"}` (at least one present, none empty). Codes
    /// `policy.bad-http-match`, `policy.bad-path-pattern`, `policy.too-many-entries`, `policy.duplicate-entry`.
    static func parse(_ node: JSONNode, limits: PolicyLimits) throws(MeshError) -> HTTPMatch {
        let o = try node.object(fields: ["methods", "paths", "headers"])
        let methods = try PolicyFields.list(o.optional("methods"), limits: limits) { n throws(MeshError) in
            let text = try n.string()
            guard isMethod(text) else {
                throw n.error(.policyBadHttpMatch, "\(text.debugDescription) is not an upper-case method token (A-Z, 0-9, -, _; at most \(maxMethodBytes) bytes)")
            }
            return text
        }
        let paths = try PolicyFields.list(o.optional("paths"), limits: limits) { n throws(MeshError) in
            let text = try n.string()
            return try PolicyFields.rethrow(at: n) { try PathPattern(parsing: text) }
        }
        var headerNames = Set<String>()
        let headers = try PolicyFields.list(o.optional("headers"), limits: limits) { n throws(MeshError) in
            let h = try header(n)
            guard headerNames.insert(h.name).inserted else {
                throw n.error(.policyDuplicateEntry, "header \(h.name.debugDescription) has a condition already")
            }
            return h
        }
        for key in ["methods", "paths", "headers"] {
            if let n = o.optional(key), n.value.arrayValue?.isEmpty == true {
                throw n.error(.policyBadHttpMatch, "\(key) is empty; leave it out to match any")
            }
        }
        if o.optional("methods") == nil && o.optional("paths") == nil && o.optional("headers") == nil {
            throw node.error(.policyBadHttpMatch, "an http match needs at least one of methods, paths, headers")
        }
        return HTTPMatch(methods: methods, paths: paths, headers: headers)
    }

    private static func header(_ node: JSONNode) throws(MeshError) -> HeaderCondition {
        let o = try node.object(fields: ["name", "equals", "present", "absent"])
        let nameNode = try o.required("name")
        let name = try nameNode.string()
        guard !name.isEmpty, name.utf8.count <= 256,
              name.utf8.allSatisfy({ isTokenByte($0) && !($0 >= 0x41 && $0 <= 0x5A) }) else {
            throw nameNode.error(.policyBadHttpMatch, "\(name.debugDescription) is not a lower-case header name token")
        }
        var tests: [HeaderCondition.Test] = []
        if let n = o.optional("equals") { tests.append(.equals(try n.string())) }
        for (key, test) in [("present", HeaderCondition.Test.present), ("absent", .absent)] {
            if let n = o.optional(key) {
                guard try n.bool() else { throw n.error(.policyBadHttpMatch, "\(key) may only be true") }
                tests.append(test)
            }
        }
        guard tests.count == 1 else {
            throw node.error(.policyBadHttpMatch, "a header condition needs exactly one of equals, present, absent")
        }
        return HeaderCondition(name: name, test: tests[0])
    }

    static func isMethod(_ text: String) -> Bool {
        guard let first = text.utf8.first, first >= 0x41 && first <= 0x5A, text.utf8.count <= maxMethodBytes else { return false }
        return text.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F }
    }

    /// RFC 9110 tchar.
    static func isTokenByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = []
        if !methods.isEmpty { members.append(("methods", .array(methods.map { .string($0) }))) }
        if !paths.isEmpty { members.append(("paths", .array(paths.map { .string($0.text) }))) }
        if !headers.isEmpty {
            members.append(("headers", .array(headers.map { h in
                switch h.test {
                case .equals(let v): .object([("name", .string(h.name)), ("equals", .string(v))])
                case .present: .object([("name", .string(h.name)), ("present", .bool(true))])
                case .absent: .object([("name", .string(h.name)), ("absent", .bool(true))])
                }
            })))
        }
        return .object(members)
    }
}
