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

    /// `allowed by frontend-to-payments` / `denied by default-deny (identity-not-allowed)`, plus the shadow.
    public var summary: String {
        func text(_ verdict: Verdict) -> String {
            switch verdict {
            case .allow(let rule): "allowed by \(rule)"
            case .deny(let rule, let reason): "denied by \(rule) (\(reason.rawValue))"
            }
        }
        let shadow = decision.shadow.map { "; shadow: \(text($0))" } ?? ""
        return "\(from) → \(to):\(port): \(text(decision.enforced))\(shadow)"
    }

    public func json() -> JSONValue {
        func verdict(_ v: Verdict) -> JSONValue {
            var members: [(String, JSONValue)] = [("allowed", .bool(v.isAllowed)), ("rule", .string(v.rule))]
            if case .deny(_, let reason) = v { members.append(("reason", .string(reason.rawValue))) }
            return .object(members)
        }
        return .object([
            ("from", .string(from.description)), ("to", .string(to.description)), ("port", .int(port)),
            ("verdict", verdict(decision.enforced)), ("shadow", decision.shadow.map(verdict) ?? .null),
            ("rules", .array(rules.map {
                .object([("rule", .string($0.rule)), ("action", .string($0.action.rawValue)), ("mode", .string($0.mode.rawValue)),
                         ("status", .string($0.status.rawValue)), ("reason", .string($0.reason))])
            })),
        ])
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
        let decision = decide(facts)
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
        return PolicyExplanation(from: c.peer, to: c.destination, port: c.port, decision: decision, rules: lines)
    }
}
