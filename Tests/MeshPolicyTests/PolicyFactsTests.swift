import MeshTestSupport
import MeshCore
import MeshPolicy
import Testing

/// Decisions on facts equal the decisions made before facts existed. The oracle below is the data-path
/// algorithm as `decideInbound(from:port:now:)` and `egress(to:port:now:)` ran it, written out again from the
/// slice's public tables: probe the port's exact identities, add every matching wildcard, keep the rules with
/// `now < expires` (a non-finite clock has every grant expired), and let the first deny, else the first allow,
/// name the verdict (audit rules only for the shadow).
@Suite struct PolicyFactsTests {
    typealias D = PolicyDoc
    static let defaultDeny = Verdict.deny(rule: Verdict.defaultDenyRule, reason: .notAllowed)
    /// The random policies' times, each expiry instant (2027-01-01, -02-01, -03-01) and its second before, and
    /// non-finite clocks.
    static let times = PolicyEvaluationTests.randomTimes
        + [1_798_761_600.0, 1_801_440_000, 1_803_859_200].flatMap { [$0 - 1, $0] } + [.nan, .infinity, -.infinity]

    static func oldInbound(_ slice: ServiceSlice, from peer: SPIFFEID, port: Int, now: Double) -> PolicyDecision {
        if !peer.isWorkload { return PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .noIdentity)) }
        if peer.trustDomain != slice.identity.trustDomain {
            return PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .foreignTrustDomain))
        }
        guard let table = slice.inbound[port] else { return PolicyDecision(enforced: defaultDeny) }
        var applying = table.identities[peer] ?? []
        for prefix in table.prefixes where prefix.pattern.matches(peer) { applying += prefix.rules }
        return fold(slice, applying, now: now)
    }

    static func oldEgress(_ slice: ServiceSlice, to destination: ServiceKey, port: Int, now: Double) -> Verdict {
        guard let list = slice.outbound[destination]?.ports[port] else { return defaultDeny }
        return fold(slice, list, now: now).enforced
    }

    static func fold(_ slice: ServiceSlice, _ rules: [Int], now: Double) -> PolicyDecision {
        let clock = now.isFinite ? now : .greatestFiniteMagnitude
        let live = rules.filter { rule in slice.rules[rule].expires.map { clock < $0.seconds } ?? true }.sorted()
        func first(_ action: PolicyAction, _ modes: Set<PolicyMode>) -> Int? {
            live.first { slice.rules[$0].action == action && modes.contains(slice.rules[$0].mode) }
        }
        func verdict(_ modes: Set<PolicyMode>) -> Verdict {
            if let deny = first(.deny, modes) { return .deny(rule: slice.rules[deny].name, reason: .notAllowed) }
            if let allow = first(.allow, modes) { return .allow(rule: slice.rules[allow].name) }
            return defaultDeny
        }
        let audited = live.contains { slice.rules[$0].mode == .audit }
        return PolicyDecision(enforced: verdict([.enforce]), shadow: audited ? verdict([.enforce, .audit]) : nil)
    }

    /// Every slice of random policies, for every caller, port and time (including non-finite clocks): the
    /// decision on `ConnectionFacts` is the old one, and so is the decision on `RequestFacts` wrapping them.
    @Test(arguments: 0..<6)
    func decisionsOnFactsEqualTheOldDecisions(seed: Int) throws {
        let policy = try PolicyEvaluationTests.randomPolicy(seed: seed)
        let compiled = policy.compile(version: 1)
        let peers = PolicyEvaluationTests.randomPeers(policy) + [D.id("spiffe://mesh.local"), D.id("spiffe://other.local/ns/a/sa/s0")]
        var allowed = 0
        for slice in compiled.slices.values {
            for peer in peers {
                for port in PolicyEvaluationTests.randomPorts {
                    for now in Self.times {
                        let old = Self.oldInbound(slice, from: peer, port: port, now: now)
                        let connection = facts(peer, to: slice.service, port: port, now: now)
                        let request = RequestFacts(connection: connection, method: "GET", path: "/v1/things",
                                                   headers: [.init(name: "accept", value: "*/*")],
                                                   token: .valid(issuer: "https://id.example", subject: "x", claims: .object([("sub", .string("x"))])))
                        #expect(slice.decideInbound(connection) == old, "\(peer) → \(slice.service):\(port) at \(now)")
                        #expect(slice.decideInbound(request) == old)
                        #expect(compiled.decide(connection) == old && compiled.decide(request) == old)
                        #expect(policy.evaluate(connection) == old && policy.evaluate(request) == old)
                        // Without L7 rules a request is explained as its connection, plus the request part.
                        let explainedRequest = try compiled.explain(request), explainedConnection = try compiled.explain(connection)
                        #expect(explainedRequest.decision == explainedConnection.decision && explainedRequest.rules == explainedConnection.rules)
                        #expect(explainedRequest.request?.decision.decision == old && explainedConnection.request == nil)
                        if old.enforced.isAllowed { allowed += 1 }
                    }
                }
            }
        }
        #expect(allowed > 0)
    }

    @Test(arguments: 0..<6)
    func egressOnFactsEqualsTheOldEgress(seed: Int) throws {
        let compiled = try PolicyEvaluationTests.randomPolicy(seed: seed).compile(version: 1)
        var allowed = 0
        for slice in compiled.slices.values {
            for destination in compiled.slices.keys {
                for port in PolicyEvaluationTests.randomPorts {
                    for now in Self.times {
                        let old = Self.oldEgress(slice, to: destination, port: port, now: now)
                        let connection = facts(slice.identity, to: destination, port: port, now: now)
                        #expect(slice.egress(connection) == old, "\(slice.service) → \(destination):\(port) at \(now)")
                        #expect(slice.egress(RequestFacts(connection: connection, method: "POST", path: "/")) == old)
                        if old.isAllowed { allowed += 1 }
                    }
                }
            }
        }
        #expect(allowed > 0)
    }

    /// A slice speaks only for its own service, and only egress of its own identity.
    @Test func aSliceDeniesFactsAboutOthers() throws {
        let compiled = try PolicySliceTests.compiled()
        let payments = try #require(compiled.slice(for: D.key("payments")))
        let frontend = try #require(compiled.slice(for: D.key("frontend")))
        let now = 1_700_000_000.0
        #expect(payments.decideInbound(facts(D.sa("frontend"), to: D.key("payments"), port: 8080, now: now)).enforced.isAllowed)
        #expect(payments.decideInbound(facts(D.sa("frontend"), to: D.key("ledger"), port: 8080, now: now)) == .defaultDeny)
        #expect(frontend.egress(facts(D.sa("frontend"), to: D.key("payments"), port: 8080, now: now)).isAllowed)
        #expect(frontend.egress(facts(D.sa("orders"), to: D.key("payments"), port: 8080, now: now)) == Self.defaultDeny)
    }

    /// The time is a field of the facts: the same facts an instant later decide differently when a grant expires.
    @Test func timeIsAFact() throws {
        let payments = try #require(try PolicySliceTests.compiled().slice(for: D.key("payments")))
        var cron = facts(D.sa("cron", ns: "batch"), to: D.key("payments"), port: 8080, now: 1_806_451_199)
        #expect(payments.decideInbound(cron).enforced == .allow(rule: "batch"))
        cron.now += 1
        #expect(payments.decideInbound(cron) == .defaultDeny)
    }

    @Test func identityOfAServiceForExplaining() throws {
        let policy = try PolicySliceTests.compiled().policy
        #expect(try policy.identity(of: D.key("frontend")) == D.sa("frontend"))
        expectMeshError("policy.unknown-service", reasonPrefix: "unknown service \"shop/nope\"") {
            _ = try policy.identity(of: D.key("nope"))
        }
    }
}
