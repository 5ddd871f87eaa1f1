import MeshCore
import MeshPolicy
import Testing

/// One evaluation case: a policy (the rules, on `PolicyDoc`'s services and segments), a connection and the
/// expected enforced and shadow verdicts.
struct EvaluationCase: Sendable, CustomTestStringConvertible {
    let name: String
    let rules: [String]
    let from: String
    let to: String
    let port: Int
    let now: Double
    let enforced: Verdict
    let shadow: Verdict?
    var testDescription: String { name }

    init(_ name: String, _ rules: [String], from: String = "spiffe://mesh.local/ns/shop/sa/frontend", to: String = "payments",
         port: Int = 8080, now: Double = 1_700_000_000, _ enforced: Verdict, shadow: Verdict? = nil) {
        self.name = name
        self.rules = rules
        self.from = from
        self.to = to
        self.port = port
        self.now = now
        self.enforced = enforced
        self.shadow = shadow
    }
}

@Suite struct PolicyEvaluationTests {
    typealias D = PolicyDoc
    static let defaultDeny = Verdict.deny(rule: "default-deny", reason: .notAllowed)
    static func deny(_ rule: String) -> Verdict { .deny(rule: rule, reason: .notAllowed) }
    static let expires = #""expires": "2026-12-31T00:00:00Z""#
    static let expiry = 1_798_675_200.0
    static let batch = #"{"identities": ["spiffe://mesh.local/ns/batch/sa/*"]}"#

    static let cases: [EvaluationCase] = [
        EvaluationCase("default deny when no rule matches", [D.rule("a")], from: "spiffe://mesh.local/ns/shop/sa/orders", defaultDeny),
        EvaluationCase("default deny with no rules at all", [], defaultDeny),
        EvaluationCase("an allow rule names itself", [D.rule("a")], .allow(rule: "a")),
        EvaluationCase("deny beats allow, even listed after it", [D.rule("a"), D.rule("d", "deny")], deny("d")),
        EvaluationCase("the first matching allow names the verdict", [D.rule("a1"), D.rule("a2")], .allow(rule: "a1")),
        EvaluationCase("the first matching deny names the verdict", [D.rule("d1", "deny"), D.rule("d2", "deny")], deny("d1")),
        EvaluationCase("a port the rule does not list", [D.rule("a", "allow", #""ports": [8080]"#)], port: 9090, defaultDeny),
        EvaluationCase("no ports means every port of the service", [D.rule("a")], port: 9090, .allow(rule: "a")),
        EvaluationCase("a port the service does not have", [D.rule("a")], port: 7070, defaultDeny),
        EvaluationCase("a deny on another port leaves this one", [D.rule("a"), D.rule("d", "deny", #""ports": [9090]"#)], .allow(rule: "a")),
        EvaluationCase("a grant one second before it expires", [D.rule("a", "allow", expires)], now: expiry - 1, .allow(rule: "a")),
        EvaluationCase("a grant at exactly its expiry", [D.rule("a", "allow", expires)], now: expiry, defaultDeny),
        EvaluationCase("a grant after its expiry", [D.rule("a", "allow", expires)], now: expiry + 86_400, defaultDeny),
        EvaluationCase("a NaN clock has every grant expired", [D.rule("e", "allow", expires), D.rule("b")], now: .nan, .allow(rule: "b")),
        EvaluationCase("an infinite clock has every grant expired", [D.rule("e", "allow", expires)], now: .infinity, defaultDeny),
        EvaluationCase("an expired deny stops denying", [D.rule("a"), D.rule("d", "deny", expires)], now: expiry, .allow(rule: "a")),
        EvaluationCase("an audit allow gives only a shadow verdict", [D.rule("x", "allow", #""mode": "audit""#)], defaultDeny, shadow: .allow(rule: "x")),
        EvaluationCase("an audit deny does not deny", [D.rule("a"), D.rule("x", "deny", #""mode": "audit""#)], .allow(rule: "a"), shadow: deny("x")),
        EvaluationCase("an enforced deny outranks an audit allow in the shadow too",
                       [D.rule("d", "deny"), D.rule("x", "allow", #""mode": "audit""#)], deny("d"), shadow: deny("d")),
        EvaluationCase("an audit rule that does not match gives no shadow",
                       [D.rule("a"), D.rule("x", "deny", from: #"{"services": ["shop/orders"]}"#, #""mode": "audit""#)], .allow(rule: "a")),
        EvaluationCase("an expired audit rule gives no shadow", [D.rule("x", "allow", #""mode": "audit", \#(expires)"#)], now: expiry, defaultDeny),
        EvaluationCase("a wildcard identity", [D.rule("w", from: batch)], from: "spiffe://mesh.local/ns/batch/sa/cron", .allow(rule: "w")),
        EvaluationCase("a wildcard stops at its segment", [D.rule("w", from: batch)], from: "spiffe://mesh.local/ns/batch2/sa/cron", defaultDeny),
        EvaluationCase("a wildcard deny beats an exact allow",
                       [D.rule("a"), D.rule("d", "deny", from: #"{"identities": ["spiffe://mesh.local/ns/shop/sa/*"]}"#)], deny("d")),
        EvaluationCase("an exact identity that is no service", [D.rule("e", from: #"{"identities": ["spiffe://mesh.local/ns/ops/sa/probe"]}"#)],
                       from: "spiffe://mesh.local/ns/ops/sa/probe", .allow(rule: "e")),
        EvaluationCase("segments by selector and by listing",
                       [D.rule("s", from: #"{"segments": ["web"]}"#, to: #"{"segments": ["pci"]}"#)], to: "ledger", .allow(rule: "s")),
        EvaluationCase("a segment does not include others",
                       [D.rule("s", from: #"{"segments": ["web"]}"#, to: #"{"segments": ["pci"]}"#)], to: "orders", defaultDeny),
        EvaluationCase("another trust domain", [D.rule("w", from: #"{"identities": ["spiffe://mesh.local/*"]}"#)],
                       from: "spiffe://other.local/ns/shop/sa/frontend", .deny(rule: "default-deny", reason: .foreignTrustDomain)),
        EvaluationCase("a trust-domain ID is no workload", [D.rule("a")], from: "spiffe://mesh.local", .deny(rule: "default-deny", reason: .noIdentity)),
        EvaluationCase("an unknown destination", [D.rule("a")], to: "nope", defaultDeny),
    ]

    @Test(arguments: cases)
    func decides(_ c: EvaluationCase) throws {
        let policy = try D.load(rules: c.rules)
        let peer = D.id(c.from)
        let expected = PolicyDecision(enforced: c.enforced, shadow: c.shadow)
        let compiled = policy.compile(version: 1)
        #expect(compiled.decide(facts(peer, to: D.key(c.to), port: c.port, now: c.now)) == expected)
        #expect(policy.evaluate(facts(peer, to: D.key(c.to), port: c.port, now: c.now)) == expected)
    }

    /// Slices must agree with the reference scan on every caller, destination, port and time of random policies.
    @Test(arguments: 0..<6)
    func slicesAgreeWithTheReference(seed: Int) throws {
        let policy = try Self.randomPolicy(seed: seed)
        let compiled = policy.compile(version: 1)
        let peers = Self.randomPeers(policy)
        var allowed = 0
        for peer in peers {
            for target in policy.services {
                for port in Self.randomPorts {
                    for now in Self.randomTimes {
                        let decision = compiled.decide(facts(peer, to: target.key, port: port, now: now))
                        #expect(decision == policy.evaluate(facts(peer, to: target.key, port: port, now: now)))
                        if decision.enforced.isAllowed { allowed += 1 }
                        guard let caller = policy.services.first(where: { $0.identity == peer }) else { continue }
                        let egress = compiled.slice(for: caller.key)!.egress(facts(caller.identity, to: target.key, port: port, now: now))
                        // Egress agrees on the outcome; it names a deny rule only where some allow rule reaches the port.
                        #expect(egress.isAllowed == decision.enforced.isAllowed, "egress \(caller.key) → \(target.key):\(port)")
                        if egress.isAllowed || egress.rule != Verdict.defaultDenyRule { #expect(egress == decision.enforced) }
                    }
                }
            }
        }
        #expect(allowed > 0)
    }

    /// A random policy of 8 services (ports 80 and 8000 or 8001), 3 segments and 40 rules: allow and deny,
    /// enforced and audit, some on port 80 only, some expiring in early 2027.
    static func randomPolicy(seed: Int) throws -> MeshPolicy {
        var random = SplitMix(seed: UInt64(seed))
        let names = (0..<8).map { "s\($0)" }
        let services = names.enumerated().map { i, name in
            #"{"namespace": "\#(i % 2 == 0 ? "a" : "b")", "name": "\#(name)", "labels": {"g": "\#(i % 3)"}, "ports": [80, \#(8000 + i % 2)]}"#
        }
        let segments = #"[{"name": "g0", "selector": {"g": "0"}}, {"name": "g1", "selector": {"g": "1"}}, {"name": "two", "services": ["a/s0", "b/s1"]}]"#
        func pick<T>(_ items: [T]) -> [T] { items.filter { _ in random.next() % 3 == 0 } }
        var rules: [String] = []
        for r in 0..<40 {
            var from: [String] = []
            let segs = pick(["g0", "g1", "two"])
            let svcs = pick(names.enumerated().map { "\($0 % 2 == 0 ? "a" : "b")/\($1)" })
            let ids = pick(["spiffe://mesh.local/ns/a/sa/*", "spiffe://mesh.local/ns/b/sa/s3", "spiffe://mesh.local/ns/x/sa/y", "spiffe://mesh.local/*"])
            if !segs.isEmpty { from.append(#""segments": [\#(segs.map { "\"\($0)\"" }.joined(separator: ", "))]"#) }
            if !svcs.isEmpty || (segs.isEmpty && ids.isEmpty) {
                from.append(#""services": [\#((svcs.isEmpty ? ["a/s0"] : svcs).map { "\"\($0)\"" }.joined(separator: ", "))]"#)
            }
            if !ids.isEmpty { from.append(#""identities": [\#(ids.map { "\"\($0)\"" }.joined(separator: ", "))]"#) }
            let to = random.next() % 2 == 0 ? #"{"segments": ["g\#(random.next() % 2)"]}"# : #"{"services": ["b/s\#(2 * (random.next() % 4) + 1)"]}"#
            var extra = [#""mode": "\#(random.next() % 4 == 0 ? "audit" : "enforce")""#]
            if random.next() % 2 == 0 { extra.append(#""ports": [80]"#) }
            if random.next() % 3 == 0 { extra.append(#""expires": "2027-0\#(1 + random.next() % 3)-01T00:00:00Z""#) }
            rules.append(D.rule("r\(r)", random.next() % 3 == 0 ? "deny" : "allow", from: "{\(from.joined(separator: ", "))}",
                                to: to, extra.joined(separator: ", ")))
        }
        return try MeshPolicy.load(files: D.files([("m.json", D.single(rules: rules, services: "[\(services.joined(separator: ", "))]", segments: segments))]))
    }

    /// Every service's identity, plus an identity that no service has and one that only a wildcard reaches.
    static func randomPeers(_ policy: MeshPolicy) -> [SPIFFEID] {
        policy.services.map(\.identity) + ["spiffe://mesh.local/ns/x/sa/y", "spiffe://mesh.local/ns/a/sa/zz"].map(D.id)
    }

    static let randomPorts = [80, 8000, 8001, 9]
    static let randomTimes = [1_700_000_000.0, 1_801_008_000, 1_803_686_400, 1_900_000_000]  // before, 2027-01-27, 2027-02-27 (between expiries), after
}

/// A small deterministic generator for table-driven random policies.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int(truncatingIfNeeded: (z ^ (z >> 31)) >> 1)
    }
}
