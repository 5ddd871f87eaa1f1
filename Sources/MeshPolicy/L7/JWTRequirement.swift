import MeshCore

/// An allow rule's end-user requirement: a valid token from one of `issuers` whose claims meet every condition.
/// ```json
/// "jwt": {"issuers": ["https://id.example.com"],
///         "claims": [{"name": "scope", "contains": "payments:write"}, {"name": "tenant", "equals": "acme"}]}
/// ```
/// Only allow rules carry one (a deny that needs a token would be lifted by sending none).
public struct JWTRequirement: Sendable, Equatable {
    /// `iss` values, each defined in `issuers`.
    public let issuers: [String]
    public let claims: [ClaimCondition]

    public init(issuers: [String], claims: [ClaimCondition] = []) {
        self.issuers = issuers
        self.claims = claims
    }

    /// How a request's token meets the requirement.
    public enum Outcome: Sendable, Equatable {
        case met
        /// No token, or one that failed verification: answered `401` when nothing else allows the request.
        case missingToken
        /// A valid token that does not qualify (`reason`): answered `403`.
        case notMet(String)
    }

    /// Allocation-free on `met` and `missingToken`; `notMet` builds its reason only when `explain` asks.
    @inline(__always)
    func outcome(_ token: TokenEvidence, explain: Bool = false) -> Outcome {
        switch token {
        case .absent, .invalid: return .missingToken
        case .valid(let issuer, _, let payload):
            guard issuers.contains(issuer) else {
                return .notMet(explain ? "token issuer \(issuer.debugDescription) is not one of \(issuers)" : "")
            }
            for claim in claims where !claim.holds(payload) {
                return .notMet(explain ? "claim \(claim.description) not met" : "")
            }
            return .met
        }
    }
}

/// One claim condition on a top-level claim (the name is taken literally: `a.b` is a claim named `a.b`, and
/// names like `https://example.com/roles` work as written).
/// - `equals`: the claim is that string, number (compared as a number) or boolean;
/// - `contains`: the claim is an array holding that string, or a string whose space-separated words include it
///   (the OAuth `scope` form).
public struct ClaimCondition: Sendable, Hashable, CustomStringConvertible {
    public enum Test: Sendable, Hashable {
        case equalsString(String)
        case equalsNumber(Double)
        case equalsBool(Bool)
        case contains(String)
    }

    public let name: String
    public let test: Test

    public init(name: String, test: Test) {
        self.name = name
        self.test = test
    }

    public var description: String {
        switch test {
        case .equalsString(let s): "\(name) equals \(s.debugDescription)"
        case .equalsNumber(let n): "\(name) equals \(ThrottleList.text(n))"
        case .equalsBool(let b): "\(name) equals \(b)"
        case .contains(let s): "\(name) contains \(s.debugDescription)"
        }
    }

    func holds(_ payload: JSONValue) -> Bool {
        guard case .object(let members) = payload, let value = members.first(where: { $0.0 == name })?.1 else { return false }
        switch (test, value) {
        case (.equalsString(let want), .string(let have)): return want == have
        case (.equalsNumber(let want), .number(let text)): return Double(text) == want
        case (.equalsBool(let want), .bool(let have)): return want == have
        case (.contains(let want), .array(let items)): return items.contains(.string(want))
        case (.contains(let want), .string(let words)):
            return words.utf8.split(separator: UInt8(ascii: " ")).contains { $0.elementsEqual(want.utf8) }
        default: return false
        }
    }

    public var json: JSONValue {
        switch test {
        case .equalsString(let s): .object([("name", .string(name)), ("equals", .string(s))])
        case .equalsNumber(let n): .object([("name", .string(name)), ("equals", .number(ThrottleList.text(n)))])
        case .equalsBool(let b): .object([("name", .string(name)), ("equals", .bool(b))])
        case .contains(let s): .object([("name", .string(name)), ("contains", .string(s))])
        }
    }
}

extension JWTRequirement {
    /// Reads `{"issuers": [...], "claims": [...]}`. Code `policy.bad-jwt-requirement` (and the list codes);
    /// issuer names are checked against `issuers` when the bundle is validated.
    static func parse(_ node: JSONNode, limits: PolicyLimits) throws(MeshError) -> JWTRequirement {
        let o = try node.object(fields: ["issuers", "claims"])
        let issuersNode = try o.required("issuers")
        let issuers = try PolicyFields.list(issuersNode, limits: limits) { n throws(MeshError) in try n.string() }
        if issuers.isEmpty { throw issuersNode.error(.policyBadJwtRequirement, "name at least one issuer") }
        let claims = try PolicyFields.list(o.optional("claims"), limits: limits) { n throws(MeshError) in try claim(n) }
        return JWTRequirement(issuers: issuers, claims: claims)
    }

    private static func claim(_ node: JSONNode) throws(MeshError) -> ClaimCondition {
        let o = try node.object(fields: ["name", "equals", "contains"])
        let nameNode = try o.required("name")
        let name = try nameNode.string()
        guard !name.isEmpty, name.utf8.count <= 256 else {
            throw nameNode.error(.policyBadJwtRequirement, "a claim name is 1-256 bytes")
        }
        switch (o.optional("equals"), o.optional("contains")) {
        case (let e?, nil):
            switch e.value {
            case .string(let s): return ClaimCondition(name: name, test: .equalsString(s))
            case .bool(let b): return ClaimCondition(name: name, test: .equalsBool(b))
            case .number(let text):
                guard let n = Double(text), n.isFinite else { throw e.error(.policyBadJwtRequirement, "\(text) is not a finite number") }
                return ClaimCondition(name: name, test: .equalsNumber(n))
            default: throw e.error(.policyBadJwtRequirement, "equals takes a string, number or boolean")
            }
        case (nil, let c?):
            return ClaimCondition(name: name, test: .contains(try c.string()))
        default:
            throw node.error(.policyBadJwtRequirement, "a claim condition needs exactly one of equals, contains")
        }
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("issuers", .array(issuers.map { .string($0) }))]
        if !claims.isEmpty { members.append(("claims", .array(claims.map(\.json)))) }
        return .object(members)
    }
}
