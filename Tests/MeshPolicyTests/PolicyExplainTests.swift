import MeshCore
import MeshPolicy
import Testing
import MeshTestSupport

@Suite struct PolicyExplainTests {
    typealias D = PolicyDoc
    static let now = 1_700_000_000.0

    /// (rule, status, reason) for every rule of `PolicySliceTests.compiled()`.
    static func reasons(from: SPIFFEID, to: String, port: Int, now: Double = now) throws -> [String] {
        let explanation = try PolicySliceTests.compiled().explain(facts(from, to: D.key(to), port: port, now: now))
        return explanation.rules.map { "\($0.rule): \($0.status.rawValue): \($0.reason)" }
    }

    @Test func explainsEveryRule() throws {
        #expect(try Self.reasons(from: D.sa("frontend"), to: "payments", port: 8080) == [
            "web-no-pci-admin: skipped: port 8080 not in [9090]",
            "frontend-to-payments: decided: decides",
            "orders-to-payments: skipped: from does not match",
            "payments-to-ledger: skipped: to does not match",
            "orders-to-ledger: skipped: to does not match",
            "batch: skipped: from does not match",
            "ledger-audit: skipped: from does not match",
        ])
        let admin = try Self.reasons(from: D.sa("frontend"), to: "payments", port: 9090)
        #expect(admin[0] == "web-no-pci-admin: decided: decides")
        #expect(admin[1] == "frontend-to-payments: skipped: port 9090 not in [8080]")
        let batch = try Self.reasons(from: D.sa("cron", ns: "batch"), to: "ledger", port: 8080, now: 1_806_451_200)
        #expect(batch[5] == "batch: skipped: expired at 2027-03-31T00:00:00Z")
        let audit = try Self.reasons(from: D.sa("ledger"), to: "payments", port: 8080)
        #expect(audit[6] == "ledger-audit: audit: audit only (names the shadow verdict)")
    }

    @Test func namesTheRuleThatOutranksAMatch() throws {
        let policy = try D.load(rules: [D.rule("a"), D.rule("d", "deny", #""ports": [9090]"#)]).compile(version: 1)
        let frontend = try policy.policy.identity(of: D.key("frontend"))
        let explanation = try policy.explain(facts(frontend, to: D.key("payments"), port: 9090, now: Self.now))
        #expect(explanation.rules.map(\.reason) == ["matches, but deny rule d decides", "decides"])
        #expect(explanation.summary
            == "spiffe://mesh.local/ns/shop/sa/frontend → shop/payments:9090: denied by d (identity-not-allowed)")
        #expect(explanation.json()["verdict"] == .object([("allowed", .bool(false)), ("rule", .string("d")),
                                                           ("reason", .string("identity-not-allowed"))]))
        #expect(explanation.json()["rules"]?.arrayValue?.count == 2)
    }

    @Test func explainsAForeignCaller() throws {
        let policy = try PolicySliceTests.compiled()
        let explanation = try policy.explain(facts(D.id("spiffe://other.local/ns/shop/sa/frontend"), to: D.key("payments"),
                                             port: 8080, now: Self.now))
        #expect(explanation.decision.enforced == .deny(rule: "default-deny", reason: .foreignTrustDomain))
        #expect(explanation.rules.allSatisfy { $0.reason == "from does not match" })
    }

    @Test func refusesUnknownServices() throws {
        let policy = try PolicySliceTests.compiled()
        expectMeshError("policy.unknown-service") {
            _ = try policy.explain(facts(try policy.policy.identity(of: D.key("nope")), to: D.key("payments"), port: 8080,
                                         now: Self.now))
        }
        expectMeshError("policy.unknown-service") {
            _ = try policy.explain(facts(D.sa("frontend"), to: D.key("nope"), port: 8080, now: Self.now))
        }
    }

    static let smallServices = """
    [{"namespace": "shop", "name": "frontend", "labels": {"tier": "web"}, "ports": [8080], "address": "127.0.0.1:15443"},
     {"namespace": "shop", "name": "orders", "labels": {"tier": "backend"}, "ports": [8080, 8081]},
     {"namespace": "shop", "name": "payments", "labels": {"tier": "backend", "pci": "true"}, "ports": [8080, 9090], "address": "127.0.0.1:15444"}]
    """

    @Test func diffsTwoPolicies() throws {
        let old = try D.load(rules: [D.rule("a", "allow", #""ports": [8080]"#), D.rule("b")])
        let new = try MeshPolicy.load(files: D.files([("m.json", D.single(
            rules: [D.rule("a", "allow", #""ports": [8080, 9090], "mode": "audit""#), D.rule("c", "deny")], services: Self.smallServices))]))
        #expect(new.diff(from: old) == [
            "- service shop/ledger",
            "~ service shop/orders: ports [8080] → [8080, 8081]",
            "~ segment pci: members [shop/ledger, shop/payments] → [shop/payments]",
            "- rule b",
            "~ rule a: mode enforce → audit",
            "~ rule a: ports [8080] → [8080, 9090]",
            "+ rule c",
        ])
        #expect(new.diff(from: new) == [])
        let first = new.diff(from: nil)
        #expect(first.prefix(2) == ["+ trustDomain mesh.local", "+ service shop/frontend"])
        #expect(first.suffix(2) == ["+ rule a", "+ rule c"])
        #expect(first.count == 1 + 3 + 2 + 2)
    }

    @Test func diffsEveryRuleField() throws {
        let old = try D.load(rules: [D.rule("a")])
        let new = try D.load(rules: [D.rule("a", "deny", from: #"{"segments": ["web"], "identities": ["spiffe://mesh.local/ns/b/sa/*"]}"#,
                                            to: #"{"segments": ["pci"]}"#, #""expires": "2027-01-01T00:00:00Z", "description": "x""#)])
        #expect(new.diff(from: old) == [
            "~ rule a: action allow → deny",
            "~ rule a: from.segments [] → [web]",
            "~ rule a: from.services [shop/frontend] → []",
            "~ rule a: from.identities [] → [spiffe://mesh.local/ns/b/sa/*]",
            "~ rule a: to.segments [] → [pci]",
            "~ rule a: to.services [shop/payments] → []",
            "~ rule a: expires never → 2027-01-01T00:00:00Z",
            #"~ rule a: description none → "x""#,
        ])
    }
}
