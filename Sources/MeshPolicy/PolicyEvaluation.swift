import MeshCore

/// Evaluation order (ARCHITECTURE.md "Policy"): enforced deny rules, then enforced allow rules, then default deny.
/// A rule applies when `from` matches the caller, `to` holds the service, the port is one the rule covers on that
/// service, and `now < expires`. When several rules of the deciding kind apply, the first in rule order names
/// the verdict. Audit rules never change the enforced verdict; when at least one applies, the shadow verdict
/// is the same evaluation with audit rules counted as enforced.

/// An enforced verdict, and the shadow verdict when an audit rule applied.
public struct PolicyDecision: Sendable, Equatable {
    public let enforced: Verdict
    /// nil when no audit rule applies; otherwise the verdict if audit rules were enforced too (it may equal
    /// `enforced`). Report and count it; never enforce it.
    public let shadow: Verdict?

    public init(enforced: Verdict, shadow: Verdict? = nil) {
        self.enforced = enforced
        self.shadow = shadow
    }

    /// Nothing applies: `default-deny`, identity not allowed.
    public static let defaultDeny = PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .notAllowed))

    /// The rule name of a quarantine deny: above every allow, no shadow verdict (nothing else is evaluated).
    public static let quarantineRule = "quarantine"

    /// The peer (inbound) or the destination (egress) is quarantined.
    public static let quarantined = PolicyDecision(enforced: .deny(rule: quarantineRule, reason: .quarantined))

    /// `now` as used for expiry: NaN and ±infinity count as the far future, so every expiring rule has expired
    /// (fail closed) while rules without `expires` still apply.
    @inline(__always)
    static func clamp(_ now: Double) -> Double { now.isFinite ? now : .greatestFiniteMagnitude }

    /// Refuses a peer that cannot match any rule: no workload path (`no-identity`) or another trust domain
    /// (`foreign-trust-domain`). nil when the peer may be evaluated.
    static func screen(_ peer: SPIFFEID, in domain: TrustDomain) -> PolicyDecision? {
        if !peer.isWorkload {
            return PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .noIdentity))
        }
        if peer.trustDomain != domain {
            return PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .foreignTrustDomain))
        }
        return nil
    }
}

/// A rule's kind for evaluation.
enum RuleKind: UInt8, Sendable {
    case deny, allow, auditDeny, auditAllow

    init(_ action: PolicyAction, _ mode: PolicyMode) {
        switch (action, mode) {
        case (.deny, .enforce): self = .deny
        case (.allow, .enforce): self = .allow
        case (.deny, .audit): self = .auditDeny
        case (.allow, .audit): self = .auditAllow
        }
    }
}

/// Folds the rules that apply into a decision: keeps the first (lowest-numbered) rule of each kind.
struct DecisionAccumulator {
    private var first: (deny: Int, allow: Int, auditDeny: Int, auditAllow: Int) = (.max, .max, .max, .max)

    @inline(__always)
    mutating func add(_ rule: Int, _ kind: RuleKind) {
        switch kind {
        case .deny: first.deny = min(first.deny, rule)
        case .allow: first.allow = min(first.allow, rule)
        case .auditDeny: first.auditDeny = min(first.auditDeny, rule)
        case .auditAllow: first.auditAllow = min(first.auditAllow, rule)
        }
    }

    /// The rule that names the enforced verdict (the first deny, else the first allow), nil for default deny.
    var enforcedRule: Int? {
        first.deny != .max ? first.deny : first.allow != .max ? first.allow : nil
    }

    /// The decision; `name` gives a rule's name from its number.
    @inline(__always)
    func decision(_ name: (Int) -> String) -> PolicyDecision {
        let enforced = Self.verdict(deny: first.deny, allow: first.allow, name)
        guard first.auditDeny != .max || first.auditAllow != .max else { return PolicyDecision(enforced: enforced) }
        let shadow = Self.verdict(deny: min(first.deny, first.auditDeny), allow: min(first.allow, first.auditAllow), name)
        return PolicyDecision(enforced: enforced, shadow: shadow)
    }

    @inline(__always)
    private static func verdict(deny: Int, allow: Int, _ name: (Int) -> String) -> Verdict {
        if deny != .max { return .deny(rule: name(deny), reason: .notAllowed) }
        if allow != .max { return .allow(rule: name(allow)) }
        return .deny(rule: Verdict.defaultDenyRule, reason: .notAllowed)
    }
}

extension MeshPolicy {
    /// The reference evaluation: a scan over every rule. The data path uses `ServiceSlice`, which must agree
    /// with this; `explain` uses it to say why each rule did or did not apply.
    public func evaluate<Facts: PolicyFacts>(_ facts: Facts) -> PolicyDecision {
        if let request = facts.request { return evaluateRequest(request).decision }
        if let refused = PolicyDecision.screen(facts.connection.peer, in: trustDomain) { return refused }
        guard let target = service(facts.connection.destination) else { return .defaultDeny }
        var accumulator = DecisionAccumulator()
        for (index, rule) in rules.enumerated() where whyNot(rule: index, facts, at: target) == nil {
            accumulator.add(index, RuleKind(rule.action, rule.mode))
        }
        return accumulator.decision { rules[$0].name }
    }

    /// nil when rule `index` applies to the facts; otherwise why not, for `explain`. `service` is the facts'
    /// destination, looked up once by the caller.
    func whyNot<Facts: PolicyFacts>(rule index: Int, _ facts: Facts, at service: PolicyService) -> String? {
        let rule = rules[index]
        let resolved = self.resolved[index]
        let port = facts.connection.port
        if !resolved.toSet.contains(service.key) { return "to does not match" }
        if !resolved.fromMatches(facts.connection.peer) { return "from does not match" }
        let ports = PolicyDrafts.ports(of: rule, at: service)
        if !ports.contains(port) {
            return "port \(port) not in [\(ports.map(String.init).joined(separator: ", "))]"
        }
        if let expires = rule.expires, PolicyDecision.clamp(facts.connection.now) >= expires.seconds {
            return "expired at \(expires)"
        }
        return l7WhyNot(rule: rule, facts.request)
    }

    /// The identity of a service, for deciding as that service (`meshctl check --from frontend`).
    /// Code `policy.unknown-service`.
    public func identity(of key: ServiceKey) throws(MeshError) -> SPIFFEID {
        guard let found = service(key) else {
            throw MeshError(.policyUnknownService, "unknown service \(key.description.debugDescription)")
        }
        return found.identity
    }
}
