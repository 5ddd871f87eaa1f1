import MeshCore

/// Per-request decisions on `http` ports (issue 13). Order: a matching deny rule wins (`403`); else the first
/// enforced allow rule whose identity, port, `http` and `jwt` all match allows (its matched path pattern is the
/// route); else, when some enforced allow rule matched everything but its `jwt` requirement because the token
/// was absent or invalid, `401` naming that rule's issuers; else `403` `default-deny`. Audit rules give the
/// shadow verdict as for connections. Quarantine, revocation and foreign or missing identities refuse first.
extension ServiceSlice {
    /// What inbound `port` speaks (`tcp` unless the mesh declares it `http`).
    public func inboundProtocol(port: Int) -> PortProtocol { portProtocols[port] ?? .tcp }

    /// Decides one request: the connection's facts (peer, port, time) plus method, normalised path, headers
    /// and the token evidence. A rule with an `http` match applies only to requests it matches; a rule with a
    /// `jwt` requirement only when the token is valid, from one of its issuers, with the required claims.
    public func decideRequest(_ facts: RequestFacts) -> RequestDecision {
        let c = facts.connection
        if let refused = PolicyDecision.screen(c.peer, in: identity.trustDomain) {
            return RequestDecision(decision: refused, refusal: .forbidden)
        }
        if !revoked.quarantined.isEmpty, revoked.quarantines(c.peer) {
            return RequestDecision(decision: .quarantined, refusal: .forbidden)
        }
        guard c.destination == service, let table = inbound[c.port] else {
            return RequestDecision(decision: .defaultDeny, refusal: .forbidden)
        }
        let now = PolicyDecision.clamp(c.now)
        var accumulator = RequestAccumulator()
        let methodBit = RequestMatcher.bit(facts.method)
        var path = facts.path
        path.withUTF8 { bytes in requestTable.withView { view in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: PathPrefixes.maxSegments + 1) { storage in
            let prefixes = PathPrefixes(bytes, storage: storage)
            if let list = table.identities[c.peer] { scan(list, facts, methodBit, bytes, prefixes, view, now, &accumulator) }
            if !table.prefixes.isEmpty {
                var peerPath = c.peer.path
                peerPath.withUTF8 { peer in
                    for (index, prefix) in table.prefixPaths.enumerated() where Self.starts(peer, with: prefix) {
                        scan(table.prefixes[index].rules, facts, methodBit, bytes, prefixes, view, now, &accumulator)
                    }
                }
            }
        } } }
        return finish(accumulator, facts)
    }

    @inline(__always)
    private func scan(_ list: [Int], _ facts: RequestFacts, _ methodBit: UInt16, _ path: UnsafeBufferPointer<UInt8>,
                      _ prefixes: PathPrefixes, _ view: RequestTable.View, _ now: Double, _ accumulator: inout RequestAccumulator) {
        for rule in list where now < deadlines[rule] {
            let flags = view.flags[rule]
            if flags == 0 {
                accumulator.rules.add(rule, kinds[rule])
                continue
            }
            if flags & RequestTable.slowPath == 0 {
                if view.fastMatch(rule, methodBit: methodBit, path: path, prefixes: prefixes) { accumulator.rules.add(rule, kinds[rule]) }
                continue
            }
            guard let matcher = matchers[rule], matcher.matchHTTP(facts, methodBit: methodBit, path: path) != nil else { continue }
            switch matcher.jwt?.outcome(facts.token) ?? .met {
            case .met: accumulator.rules.add(rule, kinds[rule])
            case .missingToken: if kinds[rule] == .allow { accumulator.needsToken = min(accumulator.needsToken, rule) }
            case .notMet: break
            }
        }
    }

    private func finish(_ accumulator: RequestAccumulator, _ facts: RequestFacts) -> RequestDecision {
        let decision = accumulator.rules.decision { rules[$0].name }
        if let deciding = accumulator.rules.enforcedRule {
            return RequestDecision(decision: decision, refusal: decision.enforced.isAllowed ? nil : .forbidden,
                                   route: matchers[deciding]?.route(facts.path))
        }
        if accumulator.needsToken != .max, let jwt = rules[accumulator.needsToken].jwt {
            return RequestDecision(decision: decision, refusal: .unauthenticated(issuers: jwt.issuers),
                                   route: matchers[accumulator.needsToken]?.route(facts.path))
        }
        return RequestDecision(decision: decision, refusal: .forbidden)
    }
}
