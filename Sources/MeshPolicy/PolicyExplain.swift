import MeshCore

/// `meshctl check --from frontend --to payments --port 8080`: the decision the destination's sidecar makes, and
/// for every rule whether it applied and why not.

/// What one rule contributed to a decision.
public struct RuleExplanation: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// The rule named the enforced verdict.
        case decided
        /// The rule applies, but another one named the verdict.
        case matched
        /// An audit rule that applies: it counts only for the shadow verdict.
        case audit
        /// The rule does not apply (see `reason`).
        case skipped
    }

    public let rule: String
    public let action: PolicyAction
    public let mode: PolicyMode
    public let status: Status
    /// `decides`, `matches, but deny rule x decides`, `audit only`, `from does not match`, `to does not match`,
    /// `port 9090 not in [8080]`, `expired at 2026-12-31T00:00:00Z`.
    public let reason: String
}

public struct PolicyExplanation: Sendable, Equatable {
    public let from: SPIFFEID
    public let to: ServiceKey
    public let port: Int
    public let decision: PolicyDecision
    /// Every rule of the policy, in rule order.
    public let rules: [RuleExplanation]
    /// For a request: its method and normalised path, and the request decision (refusal, route).
    public internal(set) var request: RequestExplanation? = nil

    /// `allowed by frontend-to-payments` / `denied by default-deny (identity-not-allowed)`, plus the shadow.
    public var summary: String {
        func text(_ verdict: Verdict) -> String {
            switch verdict {
            case .allow(let rule): "allowed by \(rule)"
            case .deny(let rule, let reason): "denied by \(rule) (\(reason.rawValue))"
            }
        }
        let shadow = decision.shadow.map { "; shadow: \(text($0))" } ?? ""
        guard let request else { return "\(from) → \(to):\(port): \(text(decision.enforced))\(shadow)" }
        var verdict = text(decision.enforced)
        if case .unauthenticated(let issuers)? = request.decision.refusal {
            verdict = "401 unauthenticated (a valid token from \(issuers.joined(separator: ", ")) is needed)"
        } else if !decision.enforced.isAllowed {
            verdict = "403 " + verdict
        }
        let route = request.decision.route.map { " (route \($0))" } ?? ""
        return "\(from) → \(to):\(port) \(request.method) \(request.path): \(verdict)\(route)\(shadow)"
    }

    public func json() -> JSONValue {
        func verdict(_ v: Verdict) -> JSONValue {
            var members: [(String, JSONValue)] = [("allowed", .bool(v.isAllowed)), ("rule", .string(v.rule))]
            if case .deny(_, let reason) = v { members.append(("reason", .string(reason.rawValue))) }
            return .object(members)
        }
        var requestJSON: [(String, JSONValue)] = []
        if let request {
            var refusal: JSONValue = .null
            switch request.decision.refusal {
            case .forbidden?: refusal = .object([("status", .int(403))])
            case .unauthenticated(let issuers)?:
                refusal = .object([("status", .int(401)), ("issuers", .array(issuers.map { .string($0) }))])
            case nil: break
            }
            requestJSON = [("request", .object([("method", .string(request.method)), ("path", .string(request.path)),
                                                ("status", .int(request.decision.status)), ("refusal", refusal),
                                                ("route", .optional(request.decision.route))]))]
        }
        return .object([
            ("from", .string(from.description)), ("to", .string(to.description)), ("port", .int(port)),
            ("verdict", verdict(decision.enforced)), ("shadow", decision.shadow.map(verdict) ?? .null),
            ("rules", .array(rules.map {
                .object([("rule", .string($0.rule)), ("action", .string($0.action.rawValue)), ("mode", .string($0.mode.rawValue)),
                         ("status", .string($0.status.rawValue)), ("reason", .string($0.reason))])
            })),
        ] + requestJSON)
    }
}

extension CompiledPolicy {
    /// Explains the decision on `facts` (the caller's identity, the destination, port and time). Code
    /// `policy.unknown-service` when the destination is not a service. To explain for a caller service, take
    /// its identity with `policy.identity(of:)`.
    public func explain<Facts: PolicyFacts>(_ facts: Facts) throws(MeshError) -> PolicyExplanation {
        let c = facts.connection
        guard let target = policy.service(c.destination) else {
            throw MeshError(.policyUnknownService, "unknown service \(c.destination.description.debugDescription)")
        }
        let requestDecision = facts.request.map { decideRequest($0) }
        let decision = requestDecision?.decision ?? decide(facts)
        let screened = PolicyDecision.screen(c.peer, in: policy.trustDomain) != nil
        var lines: [RuleExplanation] = []
        for (index, rule) in policy.rules.enumerated() {
            let whyNot = screened ? "from does not match" : policy.whyNot(rule: index, facts, at: target)
            let status: RuleExplanation.Status
            let reason: String
            if let whyNot {
                (status, reason) = (.skipped, whyNot)
            } else if rule.mode == .audit {
                let shadowRule = decision.shadow?.rule == rule.name
                (status, reason) = (.audit, shadowRule ? "audit only (names the shadow verdict)" : "audit only")
            } else if decision.enforced.rule == rule.name {
                (status, reason) = (.decided, "decides")
            } else {
                let winner = decision.enforced
                (status, reason) = (.matched, "matches, but \(winner.isAllowed ? "allow" : "deny") rule \(winner.rule) decides")
            }
            lines.append(RuleExplanation(rule: rule.name, action: rule.action, mode: rule.mode, status: status, reason: reason))
        }
        var explanation = PolicyExplanation(from: c.peer, to: c.destination, port: c.port, decision: decision, rules: lines)
        if let r = facts.request, let requestDecision { explanation.request = RequestExplanation(method: r.method, path: r.path, decision: requestDecision) }
        return explanation
    }
}
