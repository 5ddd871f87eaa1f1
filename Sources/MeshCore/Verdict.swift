/// Why a connection was refused. The raw value is stable: it is logged, counted and used as a metric label.
public enum DenyReason: String, Sendable, CaseIterable {
    /// The peer's identity is valid but no rule allows it on this port.
    case notAllowed = "identity-not-allowed"
    /// The peer's identity belongs to a trust domain we do not trust.
    case foreignTrustDomain = "foreign-trust-domain"
    /// The peer presented no usable identity.
    case noIdentity = "no-identity"
    /// The listener has no policy at all (fail closed).
    case noPolicy = "no-policy"
    /// The peer's identity is quarantined by the control plane: denied above every allow.
    case quarantined = "identity-quarantined"
}

/// The outcome of an authorization decision. It always names what decided it: a rule, or `default-deny`.
public enum Verdict: Equatable, Sendable {
    case allow(rule: String)
    case deny(rule: String, reason: DenyReason)

    /// The rule name used when nothing matched.
    public static let defaultDenyRule = "default-deny"

    public var isAllowed: Bool { if case .allow = self { true } else { false } }

    /// The rule that decided, for logs and metrics.
    public var rule: String {
        switch self {
        case .allow(let rule), .deny(let rule, _): rule
        }
    }
}
