import MeshCore

/// A rule's request conditions compiled for the data path: the method list, path patterns pre-split into
/// segments, header conditions and the token requirement. Matching allocates nothing: strings are compared in
/// place and the path is read through one `withUTF8` per decision.
struct RequestMatcher: Sendable {
    let methods: [String]
    let paths: [PathPattern]
    let headers: [HeaderCondition]
    /// Allow rules read repeated headers strictly (`HeaderCondition`).
    let strictHeaders: Bool
    let jwt: JWTRequirement?

    /// nil for a rule without `http` and `jwt`.
    init?(rule: SliceRule) { self.init(action: rule.action, http: rule.http, jwt: rule.jwt) }

    init?(action: PolicyAction, http: HTTPMatch?, jwt: JWTRequirement?) {
        guard http != nil || jwt != nil else { return nil }
        methods = http?.methods ?? []
        paths = http?.paths ?? []
        headers = http?.headers ?? []
        strictHeaders = action == .allow
        self.jwt = jwt
    }

    /// The index of the first matching path pattern (-1 when the rule lists none), nil when the method, path or
    /// a header condition does not match.
    @inline(__always)
    func matchHTTP(_ request: RequestFacts, path: UnsafeBufferPointer<UInt8>) -> Int? {
        if !methods.isEmpty && !methods.contains(request.method) { return nil }
        var route = -1
        if !paths.isEmpty {
            var i = 0
            while i < paths.count {
                if paths[i].matches(path) { route = i; break }
                i += 1
            }
            if route < 0 { return nil }
        }
        for condition in headers where !condition.holds(request.headers, strict: strictHeaders) { return nil }
        return route
    }

    /// Why the http part does not match, for `explain` (nil when it matches).
    func httpMismatch(_ request: RequestFacts) -> String? {
        if !methods.isEmpty && !methods.contains(request.method) {
            return "method \(request.method) not in [\(methods.joined(separator: ", "))]"
        }
        if !paths.isEmpty && !paths.contains(where: { $0.matches(request.path) }) {
            return "path \(request.path) matches none of [\(paths.map(\.text).joined(separator: ", "))]"
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
    func route(_ path: String) -> String? { paths.first { $0.matches(path) }?.text }
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
