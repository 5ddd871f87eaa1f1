import MeshCore

/// The reference evaluation of requests (a scan over every rule, as `evaluate` is for connections): the
/// slices' `decideRequest` must agree with it, and `explain` uses it to say why each rule did or did not apply.
extension MeshPolicy {
    public func evaluateRequest(_ facts: RequestFacts) -> RequestDecision {
        let c = facts.connection
        if let refused = PolicyDecision.screen(c.peer, in: trustDomain) { return RequestDecision(decision: refused, refusal: .forbidden) }
        guard let target = service(c.destination) else { return RequestDecision(decision: .defaultDeny, refusal: .forbidden) }
        var accumulator = RequestAccumulator()
        for (index, rule) in rules.enumerated() {
            let kind = RuleKind(rule.action, rule.mode)
            switch applies(rule: index, facts, at: target) {
            case .yes: accumulator.rules.add(index, kind)
            case .needsToken: if kind == .allow { accumulator.needsToken = min(accumulator.needsToken, index) }
            case .no: break
            }
        }
        let decision = accumulator.rules.decision { rules[$0].name }
        func route(_ index: Int) -> String? { rules[index].http?.paths.first { $0.matches(facts.path) }?.text }
        if let deciding = accumulator.rules.enforcedRule {
            return RequestDecision(decision: decision, refusal: decision.enforced.isAllowed ? nil : .forbidden, route: route(deciding))
        }
        if accumulator.needsToken != .max, let jwt = rules[accumulator.needsToken].jwt {
            return RequestDecision(decision: decision, refusal: .unauthenticated(issuers: jwt.issuers), route: route(accumulator.needsToken))
        }
        return RequestDecision(decision: decision, refusal: .forbidden)
    }

    enum Applies { case yes, no, needsToken }

    private func applies(rule index: Int, _ facts: RequestFacts, at target: PolicyService) -> Applies {
        let rule = rules[index]
        // Identity, port and expiry as for a connection.
        let r = self.resolved[index]
        guard r.toSet.contains(target.key), r.fromMatches(facts.connection.peer),
              PolicyDrafts.ports(of: rule, at: target).contains(facts.connection.port),
              rule.expires.map({ PolicyDecision.clamp(facts.connection.now) < $0.seconds }) ?? true else { return .no }
        guard let matcher = RequestMatcher(action: rule.action, http: rule.http, jwt: rule.jwt) else { return .yes }
        if matcher.httpMismatch(facts) != nil { return .no }
        switch matcher.jwt?.outcome(facts.token) ?? .met {
        case .met: return .yes
        case .missingToken: return .needsToken
        case .notMet: return .no
        }
    }

    /// The request part of `whyNot`: for connection facts, only an http-scoped deny rule is skipped (it decides
    /// requests, never a whole connection); for request facts, the first `http` or `jwt` condition not met.
    func l7WhyNot(rule: PolicyRule, _ request: RequestFacts?) -> String? {
        guard let request else {
            return rule.action == .deny && rule.http != nil ? "http deny: decides requests, not the connection" : nil
        }
        guard let matcher = RequestMatcher(action: rule.action, http: rule.http, jwt: rule.jwt) else { return nil }
        if let why = matcher.httpMismatch(request) { return why }
        guard let jwt = matcher.jwt else { return nil }
        switch jwt.outcome(request.token, explain: true) {
        case .met: return nil
        case .missingToken:
            let state: String
            if case .invalid(let code, let reason) = request.token { state = "token invalid: \(code): \(reason)" } else { state = "no token" }
            return "needs a valid token from \(jwt.issuers.joined(separator: ", ")) (\(state))"
        case .notMet(let reason): return reason
        }
    }
}

extension CompiledPolicy {
    /// The request decision the sidecar of `facts.destination` makes (403 default deny for an unknown service).
    public func decideRequest(_ facts: RequestFacts) -> RequestDecision {
        if let slice = slices[facts.connection.destination] { return slice.decideRequest(facts) }
        let d = PolicyDecision.screen(facts.connection.peer, in: policy.trustDomain) ?? .defaultDeny
        return RequestDecision(decision: d, refusal: .forbidden)
    }
}

/// The request part of a `PolicyExplanation`.
public struct RequestExplanation: Sendable, Equatable {
    public let method: String
    /// Normalised, as matched.
    public let path: String
    public let decision: RequestDecision
}
