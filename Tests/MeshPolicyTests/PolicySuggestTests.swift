import MeshCore
import MeshPolicy
import MeshTestSupport
import Testing

/// `MeshPolicy.suggestRules`: least-privilege rules from observed flows (issue 9, scope 3).
@Suite struct PolicySuggestTests {
    static let services = """
    {"trustDomain": "mesh.local", "services": [
      {"namespace": "shop", "name": "frontend", "labels": {"tier": "web"}, "ports": [8080]},
      {"namespace": "shop", "name": "orders", "ports": [8080]},
      {"namespace": "shop", "name": "payments", "labels": {"pci": "true"}, "ports": [8080, 9090]},
      {"namespace": "shop", "name": "ledger", "labels": {"pci": "true"}, "ports": [8080, 9090]},
      {"namespace": "other", "name": "orders", "ports": [8080]}
    ]}
    """
    static let segments = #"{"segments": [{"name": "pci", "selector": {"pci": "true"}}, {"name": "web", "services": ["shop/frontend"]}]}"#

    static func id(_ ns: String, _ name: String) -> String { "spiffe://mesh.local/ns/\(ns)/sa/\(name)" }

    static func flow(_ caller: String, _ destination: String, _ port: Int, allowed: Bool = true, rule: String = "r",
                     shadow: Bool? = nil, shadowRule: String? = nil, observer: String = "inbound", connections: Int = 1,
                     first: Int = 1_800_000_000, last: Int = 1_800_000_600) -> ObservedFlow {
        ObservedFlow(observer: observer, caller: caller, destination: destination, port: port, allowed: allowed,
                     rule: allowed ? rule : "default-deny", shadowAllowed: shadow, shadowRule: shadowRule,
                     connections: connections, firstSeen: first, lastSeen: last)
    }

    static func mesh(rules: String = #"{"rules": []}"#) throws -> MeshPolicy {
        try MeshPolicy.load(files: [("services.json", Array(services.utf8)), ("segments.json", Array(segments.utf8)),
                                    ("rules.json", Array(rules.utf8))])
    }

    /// The suggestion as the mesh's rules.json, loaded with services and segments (what `meshctl validate` does).
    static func applied(_ s: PolicySuggestion) throws -> MeshPolicy { try mesh(rules: s.rulesDocument) }

    @Test func oneRulePerCallerAndDestinationWithExactlyTheObservedPorts() throws {
        let s = try Self.mesh().suggestRules(from: [
            Self.flow(Self.id("shop", "frontend"), "shop/payments", 9090),
            Self.flow(Self.id("shop", "orders"), "shop/payments", 8080),
            Self.flow(Self.id("shop", "frontend"), "shop/payments", 8080, observer: "outbound"),
            Self.flow(Self.id("shop", "frontend"), "shop/orders", 8080),
        ])
        #expect(s.rules.map(\.name) == ["observed-frontend-to-orders", "observed-frontend-to-payments", "observed-orders-to-payments"])
        #expect(s.rules.map { $0.ports ?? [] } == [[8080], [8080, 9090], [8080]])
        #expect(s.rules.map { $0.from.services.map(\.description) } == [["shop/frontend"], ["shop/frontend"], ["shop/orders"]])
        #expect(s.rules.map { $0.to.services.map(\.description) } == [["shop/orders"], ["shop/payments"], ["shop/payments"]])
        #expect(s.rules.allSatisfy { $0.action == .allow && $0.mode == .enforce && $0.from.segments.isEmpty && $0.from.identities.isEmpty })
        #expect(s.skipped.isEmpty && s.refusedFlows == 0)
        #expect(try Self.applied(s).rules.count == 3)
    }

    @Test func shadowAllowedFlowsAreIncludedRefusedOnesAreNot() throws {
        let s = try Self.mesh().suggestRules(from: [
            Self.flow(Self.id("shop", "orders"), "shop/ledger", 8080, allowed: false, shadow: true, shadowRule: "orders-to-ledger",
                      observer: "outbound", connections: 3),
            Self.flow(Self.id("shop", "payments"), "shop/ledger", 9090, allowed: false),
            Self.flow(Self.id("shop", "frontend"), "shop/ledger", 8080, allowed: false, shadow: false, shadowRule: "audit-deny"),
        ])
        #expect(s.rules.map(\.name) == ["observed-orders-to-ledger"])
        #expect(s.rules.first?.ports == [8080])
        #expect(s.refusedFlows == 2)
        #expect(s.rules.first?.description
                == "Observed: port 8080: 3 outbound connections; first seen 2027-01-15T08:00:00Z, last seen 2027-01-15T08:10:00Z; "
                + "shadow-allowed (audit) by orders-to-ledger.")
    }

    @Test func evidenceCountsEachObserverAndEveryDecidingRule() throws {
        let s = try Self.mesh().suggestRules(from: [
            Self.flow(Self.id("shop", "frontend"), "shop/payments", 8080, rule: "b-rule", observer: "inbound", connections: 6, first: 1_800_000_100),
            Self.flow(Self.id("shop", "frontend"), "shop/payments", 8080, rule: "a-rule", observer: "outbound", connections: 6, last: 1_800_000_900),
            Self.flow(Self.id("shop", "frontend"), "shop/payments", 9090, allowed: false, shadow: true, shadowRule: "audit-admin",
                      observer: "outbound", connections: 2),
        ])
        #expect(s.rules.map(\.description) == [
            "Observed: port 8080: 6 inbound, 6 outbound connections; port 9090: 2 outbound connections; "
            + "first seen 2027-01-15T08:00:00Z, last seen 2027-01-15T08:15:00Z; allowed by a-rule, b-rule; shadow-allowed (audit) by audit-admin.",
        ])
    }

    @Test func callersThatAreNoDeclaredServiceAreSkippedAndListed() throws {
        let s = try Self.mesh().suggestRules(from: [
            Self.flow("unauthenticated", "shop/payments", 8080, connections: 4),
            Self.flow("(overflow)", "shop/payments", 8080, connections: 7),
            Self.flow("(overflow)", "shop/payments", 8080, observer: "outbound", connections: 1),
            Self.flow(Self.id("ops", "probe"), "shop/payments", 8080, connections: 2),
            Self.flow("spiffe://other.local/ns/shop/sa/frontend", "shop/payments", 8080),
            Self.flow("not an id", "shop/payments", 8080),
            Self.flow(Self.id("shop", "frontend"), "unknown", 0, connections: 5),
            Self.flow(Self.id("shop", "frontend"), "shop/orders", 9090),
            Self.flow(Self.id("shop", "frontend"), "shop/orders", 8080),
        ])
        #expect(s.rules.map(\.name) == ["observed-frontend-to-orders"])
        #expect(s.skipped.map { "\($0.caller) \($0.destination):\($0.port) \($0.why) \($0.connections)" } == [
            "(overflow) shop/payments:8080 folded (overflow) edge 8",
            "not an id shop/payments:8080 caller is not a declared service 1",
            "spiffe://mesh.local/ns/ops/sa/probe shop/payments:8080 caller is not a declared service 2",
            "spiffe://mesh.local/ns/shop/sa/frontend shop/orders:9090 port 9090 is not a port of shop/orders 1",
            "spiffe://mesh.local/ns/shop/sa/frontend unknown:0 destination is not a declared service 5",
            "spiffe://other.local/ns/shop/sa/frontend shop/payments:8080 caller is not a declared service 1",
            "unauthenticated shop/payments:8080 unauthenticated caller 4",
        ])
    }

    @Test func namesAreDeterministicAndCollisionFree() throws {
        let flows = [
            Self.flow(Self.id("other", "orders"), "shop/ledger", 8080),
            Self.flow(Self.id("shop", "orders"), "shop/ledger", 8080),
            Self.flow(Self.id("shop", "frontend"), "shop/orders", 8080),
            Self.flow(Self.id("shop", "frontend"), "other/orders", 8080),
            Self.flow(Self.id("shop", "payments"), "shop/ledger", 8080),
        ]
        // An existing rule already has the short name of payments → ledger.
        let mesh = try Self.mesh(rules: #"{"rules": [{"name": "observed-payments-to-ledger", "action": "deny", "from": {"services": ["shop/payments"]}, "to": {"services": ["shop/ledger"]}}]}"#)
        let s = mesh.suggestRules(from: flows)
        #expect(s.rules.map(\.name) == ["observed-shop-frontend-to-other-orders", "observed-other-orders-to-shop-ledger",
                                        "observed-shop-orders-to-shop-ledger", "observed-shop-payments-to-shop-ledger",
                                        "observed-shop-frontend-to-shop-orders"])
        #expect(mesh.suggestRules(from: flows.reversed()) == s)
        let reserved = mesh.suggestRules(from: flows, reservedNames: ["observed-shop-orders-to-shop-ledger"])
        let hashed = reserved.rules.map(\.name)[2]
        #expect(hashed.hasPrefix("observed-shop-orders-to-shop-ledger-") && hashed.utf8.count == 36 + 8, "\(reserved.rules.map(\.name))")
        #expect(Set(reserved.rules.map(\.name)).count == 5)
    }

    @Test func longNamesAreCutAndHashedIntoValidLabels() throws {
        let ns = String(repeating: "n", count: 30), long = String(repeating: "a", count: 40)
        let extra = """
        {"services": [{"namespace": "\(ns)", "name": "\(long)", "ports": [8080]}, {"namespace": "\(ns)", "name": "\(long)b", "ports": [8080]}]}
        """
        let files = [("services.json", Array(Self.services.utf8)), ("extra.json", Array(extra.utf8))]
        let mesh = try MeshPolicy.load(files: files)
        let s = mesh.suggestRules(from: [Self.flow(Self.id(ns, long), "\(ns)/\(long)b", 8080),
                                         Self.flow(Self.id(ns, "\(long)b"), "\(ns)/\(long)", 8080)])
        let names = s.rules.map(\.name)
        #expect(names.count == 2 && Set(names).count == 2)
        #expect(names.allSatisfy { $0.utf8.count == 63 && $0.hasPrefix("observed-\(ns)-aaaa") })
        #expect(names == mesh.suggestRules(from: [Self.flow(Self.id(ns, "\(long)b"), "\(ns)/\(long)", 8080),
                                                  Self.flow(Self.id(ns, long), "\(ns)/\(long)b", 8080)]).rules.map(\.name))
        let loaded = try MeshPolicy.load(files: files + [("rules.json", Array(s.rulesDocument.utf8))])
        #expect(loaded.rules.map(\.name) == names)
    }

    @Test func theDocumentIsStablePrettyJSON() throws {
        let s = try Self.mesh().suggestRules(from: [Self.flow(Self.id("shop", "frontend"), "shop/orders", 8080, rule: "frontend-to-orders")])
        #expect(s.rulesDocument == """
        {
          "rules": [
            {"name":"observed-frontend-to-orders","action":"allow","from":{"services":["shop/frontend"]},"to":{"services":["shop/orders"]},"ports":[8080],"mode":"enforce","description":"Observed: port 8080: 1 inbound connections; first seen 2027-01-15T08:00:00Z, last seen 2027-01-15T08:10:00Z; allowed by frontend-to-orders."}
          ]
        }

        """)
        let none = try Self.mesh().suggestRules(from: [])
        #expect(none.rulesDocument == "{\n  \"rules\": []\n}\n")
        #expect(try Self.applied(none).rules.isEmpty)
    }

    /// Round trip: traffic observed while the mesh ran audit rules (shadow allows) plus already allowed traffic;
    /// the suggestion, enforced, allows all of it and refuses what was never observed.
    @Test func roundTripAllowsEveryObservedFlowAndNothingElse() throws {
        let audit = """
        {"rules": [
          {"name": "frontend-to-orders", "action": "allow", "from": {"segments": ["web"]}, "to": {"services": ["shop/orders"]}, "ports": [8080]},
          {"name": "orders-to-ledger", "action": "allow", "mode": "audit", "from": {"services": ["shop/orders"]}, "to": {"segments": ["pci"]}},
          {"name": "anyone-to-payments", "action": "allow", "mode": "audit", "from": {"identities": ["spiffe://mesh.local/ns/shop/sa/*"]}, "to": {"services": ["shop/payments"]}}
        ]}
        """
        let before = try Self.mesh(rules: audit)
        let now = 1_800_000_000.0
        // What the sidecars saw, decided by the audit-mode mesh itself.
        let observed: [(String, String, Int)] = [("frontend", "shop/orders", 8080), ("orders", "shop/ledger", 8080),
                                                 ("orders", "shop/payments", 9090), ("frontend", "shop/payments", 8080)]
        var flows: [ObservedFlow] = []
        for (caller, destination, port) in observed {
            let d = before.evaluate(ConnectionFacts(peer: try SPIFFEID.workload(Self.id("shop", caller)),
                                                    destination: try ServiceKey(parsing: destination), port: port, now: now))
            for observer in d.enforced.isAllowed ? ["inbound", "outbound"] : ["outbound"] {
                flows.append(ObservedFlow(observer: observer, caller: Self.id("shop", caller), destination: destination, port: port,
                                          allowed: d.enforced.isAllowed, rule: d.enforced.rule, shadowAllowed: d.shadow?.isAllowed,
                                          shadowRule: d.shadow?.rule, connections: 2, firstSeen: 1_800_000_000, lastSeen: 1_800_000_060))
            }
        }
        #expect(flows.filter { !$0.allowed && $0.shadowAllowed == true }.count == 3, "three flows only an audit rule allowed")
        let after = try Self.applied(before.suggestRules(from: flows))
        for (caller, destination, port) in observed {
            let d = after.evaluate(ConnectionFacts(peer: try SPIFFEID.workload(Self.id("shop", caller)),
                                                   destination: try ServiceKey(parsing: destination), port: port, now: now))
            #expect(d.enforced.isAllowed && d.shadow == nil, "\(caller) → \(destination):\(port)")
            let compiled = after.compile(version: 2).decide(ConnectionFacts(peer: try SPIFFEID.workload(Self.id("shop", caller)),
                                                                            destination: try ServiceKey(parsing: destination), port: port, now: now))
            #expect(compiled.enforced.isAllowed, "the compiled slice agrees: \(caller) → \(destination):\(port)")
        }
        let never: [(String, String, Int)] = [("payments", "shop/orders", 8080), ("frontend", "shop/payments", 9090),
                                              ("orders", "shop/ledger", 9090), ("ledger", "shop/payments", 8080)]
        for (caller, destination, port) in never {
            let d = after.evaluate(ConnectionFacts(peer: try SPIFFEID.workload(Self.id("shop", caller)),
                                                   destination: try ServiceKey(parsing: destination), port: port, now: now))
            #expect(d.enforced == .deny(rule: "default-deny", reason: .notAllowed), "never observed: \(caller) → \(destination):\(port)")
        }
    }
}
