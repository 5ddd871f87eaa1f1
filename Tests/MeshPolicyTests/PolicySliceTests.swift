import MeshCore
import MeshPolicy
import Testing
import MeshTestSupport

@Suite struct PolicySliceTests {
    typealias D = PolicyDoc
    static let now = 1_700_000_000.0

    static func compiled() throws -> CompiledPolicy {
        try D.load(rules: [
            D.rule("web-no-pci-admin", "deny", from: #"{"segments": ["web"]}"#, to: #"{"segments": ["pci"]}"#, #""ports": [9090]"#),
            D.rule("frontend-to-payments", "allow", #""ports": [8080]"#),
            D.rule("orders-to-payments", from: #"{"services": ["shop/orders"]}"#),
            D.rule("payments-to-ledger", from: #"{"services": ["shop/payments"]}"#, to: #"{"services": ["shop/ledger"]}"#, #""ports": [8080]"#),
            D.rule("orders-to-ledger", from: #"{"services": ["shop/orders"]}"#, to: #"{"services": ["shop/ledger"]}"#, #""mode": "audit""#),
            D.rule("batch", from: #"{"identities": ["spiffe://mesh.local/ns/batch/sa/*"]}"#, to: #"{"segments": ["pci"]}"#,
                   #""ports": [8080], "expires": "2027-03-31T00:00:00Z""#),
            D.rule("ledger-audit", from: #"{"services": ["shop/ledger"]}"#, to: #"{"services": ["shop/payments"]}"#,
                   #""mode": "audit", "expires": "2026-06-30T00:00:00Z""#),
        ]).compile(version: 7)
    }

    @Test func aSliceHoldsOnlyItsOwnRules() throws {
        let policy = try Self.compiled()
        let frontend = try #require(policy.slice(for: D.key("frontend")))
        #expect(frontend.version == 7 && frontend.identity == D.sa("frontend"))
        #expect(frontend.inbound.isEmpty, "nothing may call frontend")
        #expect(frontend.rules.map(\.name) == ["frontend-to-payments"])
        #expect(frontend.destinations.map(\.service) == [D.key("payments")])

        let payments = try #require(policy.slice(for: D.key("payments")))
        #expect(payments.rules.map(\.name)
            == ["web-no-pci-admin", "frontend-to-payments", "orders-to-payments", "payments-to-ledger", "batch", "ledger-audit"])
        #expect(payments.inboundPorts == [8080, 9090])
        #expect(Set(payments.inbound[8080]!.identities.keys) == [D.sa("frontend"), D.sa("orders"), D.sa("ledger")])
        #expect(Set(payments.inbound[9090]!.identities.keys) == [D.sa("frontend"), D.sa("orders"), D.sa("ledger")])
        #expect(payments.inbound[8080]!.prefixes.map(\.pattern.description) == ["spiffe://mesh.local/ns/batch/sa/*"])
        #expect(payments.inbound[9090]!.prefixes.isEmpty)

        let ledger = try #require(policy.slice(for: D.key("ledger")))
        #expect(!ledger.rules.contains { $0.name == "frontend-to-payments" })
        #expect(ledger.rules.map(\.name) == ["web-no-pci-admin", "payments-to-ledger", "orders-to-ledger", "batch", "ledger-audit"])
        // An audit rule grants no egress; the calling end only learns its shadow verdict.
        #expect(ledger.destinations.map(\.service) == [D.key("payments")])
        #expect(ledger.egressDecision(facts(ledger.identity, to: D.key("payments"), port: 8080, now: Self.now))
            == PolicyDecision(enforced: .deny(rule: "default-deny", reason: .notAllowed), shadow: .allow(rule: "ledger-audit")))
        #expect(policy.slice(for: D.key("nope")) == nil)
    }

    @Test func decidesInboundOnTheSlice() throws {
        let payments = try #require(try Self.compiled().slice(for: D.key("payments")))
        #expect(payments.decideInbound(facts(D.sa("frontend"), to: payments.service, port: 8080, now: Self.now)).enforced == .allow(rule: "frontend-to-payments"))
        #expect(payments.decideInbound(facts(D.sa("frontend"), to: payments.service, port: 9090, now: Self.now)).enforced
            == .deny(rule: "web-no-pci-admin", reason: .notAllowed))
        #expect(payments.decideInbound(facts(D.sa("orders"), to: payments.service, port: 9090, now: Self.now)).enforced == .allow(rule: "orders-to-payments"))
        #expect(payments.decideInbound(facts(D.sa("ledger"), to: payments.service, port: 8080, now: Self.now))
            == PolicyDecision(enforced: .deny(rule: "default-deny", reason: .notAllowed), shadow: .allow(rule: "ledger-audit")))
        #expect(payments.decideInbound(facts(D.sa("ledger"), to: payments.service, port: 8080, now: 1_782_777_600)) == .defaultDeny)
        #expect(payments.decideInbound(facts(D.sa("cron", ns: "batch"), to: payments.service, port: 8080, now: 1_806_451_199)).enforced == .allow(rule: "batch"))
        #expect(payments.decideInbound(facts(D.sa("cron", ns: "batch"), to: payments.service, port: 8080, now: 1_806_451_200)) == .defaultDeny)
        let ledger = try #require(try Self.compiled().slice(for: D.key("ledger")))
        #expect(ledger.decideInbound(facts(D.sa("orders"), to: ledger.service, port: 8080, now: Self.now))
            == PolicyDecision(enforced: .deny(rule: "default-deny", reason: .notAllowed), shadow: .allow(rule: "orders-to-ledger")))
    }

    @Test func decidesEgress() throws {
        let policy = try Self.compiled()
        let frontend = try #require(policy.slice(for: D.key("frontend")))
        #expect(frontend.egress(facts(frontend.identity, to: D.key("payments"), port: 8080, now: Self.now)) == .allow(rule: "frontend-to-payments"))
        #expect(frontend.egress(facts(frontend.identity, to: D.key("payments"), port: 9090, now: Self.now)) == .deny(rule: "default-deny", reason: .notAllowed))
        #expect(frontend.egress(facts(frontend.identity, to: D.key("ledger"), port: 8080, now: Self.now)) == .deny(rule: "default-deny", reason: .notAllowed))
        let destination = try #require(frontend.outbound[D.key("payments")])
        #expect(destination.identity == D.sa("payments"))
        #expect(destination.address == HostPort(host: "127.0.0.1", port: 15444))
        #expect(destination.portNumbers == [8080])

        let orders = try #require(policy.slice(for: D.key("orders")))
        #expect(orders.destinations.map(\.service) == [D.key("ledger"), D.key("payments")], "ledger through an audit rule")
        #expect(orders.outbound[D.key("payments")]?.portNumbers == [8080, 9090])
        #expect(orders.egress(facts(orders.identity, to: D.key("ledger"), port: 8080, now: Self.now)).rule == "default-deny")
        let payments = try #require(policy.slice(for: D.key("payments")))
        #expect(payments.egress(facts(payments.identity, to: D.key("ledger"), port: 8080, now: Self.now)) == .allow(rule: "payments-to-ledger"))
        #expect(payments.outbound[D.key("ledger")]?.address == nil)
    }

    @Test func reportsTheNextExpiry() throws {
        let policy = try Self.compiled()
        let payments = try #require(policy.slice(for: D.key("payments")))
        let june = 1_782_777_600.0  // 2026-06-30T00:00:00Z
        let march = 1_806_451_200.0  // 2027-03-31T00:00:00Z
        #expect(payments.nextExpiry(after: Self.now) == june)
        #expect(payments.nextExpiry(after: june - 0.5) == june)
        #expect(payments.nextExpiry(after: june) == march)
        #expect(payments.nextExpiry(after: march) == nil)
        #expect(policy.slice(for: D.key("frontend"))?.nextExpiry(after: Self.now) == nil)
    }

    @Test func slicesSurviveAJSONRoundTrip() throws {
        let policy = try Self.compiled()
        #expect(policy.slices.count == 4)
        for slice in policy.slices.values {
            let text = slice.json().text
            let back = try ServiceSlice(bytes: Array(text.utf8))
            #expect(back == slice)
            #expect(back.json().text == text)
            #expect(back.decideInbound(facts(D.sa("frontend"), to: back.service, port: 8080, now: Self.now))
                == slice.decideInbound(facts(D.sa("frontend"), to: slice.service, port: 8080, now: Self.now)))
        }
        let json = try #require(policy.slice(for: D.key("frontend"))).json()
        #expect(json["version"] == .int(7))
        #expect(json["service"] == .string("shop/frontend"))
        #expect(json["identity"] == .string("spiffe://mesh.local/ns/shop/sa/frontend"))
    }

    static func slice(inbound: String = "", outbound: String = "", identity: String = "payments") -> String {
        #"{"version": 1, "service": "shop/payments", "identity": "spiffe://mesh.local/ns/shop/sa/\#(identity)", "rules": [{"name": "a", "action": "allow", "mode": "enforce", "expires": null}, {"name": "x", "action": "allow", "mode": "audit"}], "inbound": [\#(inbound)], "outbound": [\#(outbound)]}"#
    }

    @Test(arguments: [
        (slice(inbound: #"{"port": 8080, "identities": [{"identity": "spiffe://mesh.local/ns/a/sa/b", "rules": [2]}], "prefixes": []}"#),
         "config.out-of-range", "inbound[0].identities[0].rules[0]: "),
        (slice(inbound: #"{"port": 8080, "identities": [{"identity": "spiffe://mesh.local/ns/a/sa/b", "rules": [1, 0]}], "prefixes": []}"#),
         "policy.bad-slice", "inbound[0].identities[0].rules[1]: "),
        (slice(inbound: #"{"port": 8080, "identities": [{"identity": "spiffe://other/ns/a/sa/b", "rules": [0]}], "prefixes": []}"#),
         "policy.foreign-trust-domain", "inbound[0].identities[0].identity: "),
        (slice(inbound: #"{"port": 8080, "identities": [], "prefixes": [{"pattern": "spiffe://mesh.local/ns/a/sa/b", "rules": [0]}]}"#),
         "policy.bad-slice", "inbound[0].prefixes[0].pattern: "),
        (slice(inbound: #"{"port": 8080, "identities": [], "prefixes": []}, {"port": 8080, "identities": [], "prefixes": []}"#),
         "policy.duplicate-entry", "inbound[1].port: "),
        (slice(outbound: #"{"service": "shop/ledger", "identity": "spiffe://mesh.local/ns/shop/sa/ledger", "ports": [{"port": 8080, "rules": []}]}"#),
         "policy.bad-slice", "outbound[0].ports[0].rules: "),
        (slice(outbound: #"{"service": "shop/ledger", "identity": "spiffe://mesh.local/ns/shop/sa/ledger", "extra": 1, "ports": []}"#),
         "config.unknown-field", "outbound[0].extra: "),
        (slice(identity: "ledger"), "policy.bad-slice", "identity: "),
    ])
    func refusesBadSlices(text: String, code: String, prefix: String) {
        expectMeshError(code, reasonPrefix: prefix) { _ = try ServiceSlice(bytes: Array(text.utf8)) }
    }

    @Test func readsAMinimalSlice() throws {
        let slice = try ServiceSlice(bytes: Array(Self.slice(inbound: #"{"port": 8080, "identities": [{"identity": "spiffe://mesh.local/ns/a/sa/b", "rules": [0, 1]}], "prefixes": [{"pattern": "spiffe://mesh.local/ns/c/sa/*", "rules": [1]}]}"#).utf8))
        #expect(slice.decideInbound(facts(D.id("spiffe://mesh.local/ns/a/sa/b"), to: slice.service, port: 8080, now: Self.now))
            == PolicyDecision(enforced: .allow(rule: "a"), shadow: .allow(rule: "a")))
        #expect(slice.decideInbound(facts(D.id("spiffe://mesh.local/ns/c/sa/d"), to: slice.service, port: 8080, now: Self.now))
            == PolicyDecision(enforced: .deny(rule: "default-deny", reason: .notAllowed), shadow: .allow(rule: "x")))
    }
}
