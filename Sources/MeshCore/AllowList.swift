/// The identities allowed to connect to one inbound listener. Default deny: an identity not listed is refused.
/// A decision is one hash probe.
public struct AllowList: Sendable, Equatable {
    /// The listener (port) this list guards; part of every rule name.
    public let listener: String
    public let trustDomain: TrustDomain
    /// Allowed identity → the name of the rule that allows it.
    private let rules: [SPIFFEID: String]

    /// Builds the list; rule names are `<listener>/allow/<index>` in the order given.
    public init(listener: String, trustDomain: TrustDomain, allowed: [SPIFFEID]) {
        self.listener = listener
        self.trustDomain = trustDomain
        var rules: [SPIFFEID: String] = [:]
        for (index, id) in allowed.enumerated() where rules[id] == nil {
            rules[id] = "\(listener)/allow/\(index)"
        }
        self.rules = rules
    }

    public var allowedIdentities: [SPIFFEID] { rules.keys.sorted { $0.description < $1.description } }

    /// Decides for a verified peer identity (nil when the peer presented none).
    public func evaluate(_ peer: SPIFFEID?) -> Verdict {
        guard let peer, peer.isWorkload else {
            return .deny(rule: Verdict.defaultDenyRule, reason: .noIdentity)
        }
        guard peer.trustDomain == trustDomain else {
            return .deny(rule: Verdict.defaultDenyRule, reason: .foreignTrustDomain)
        }
        if let rule = rules[peer] { return .allow(rule: rule) }
        return .deny(rule: Verdict.defaultDenyRule, reason: .notAllowed)
    }
}
