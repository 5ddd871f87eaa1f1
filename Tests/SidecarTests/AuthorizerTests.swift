import MeshCore
import MeshPolicy
@testable import SidecarKit
import Testing

/// The sidecar's two authorizers, decided on facts without sockets: static allow lists from the config, and the
/// control plane's slice (failing closed with `no-policy` until it arrives).
@Suite struct AuthorizerTests {
    static let domain = try! TrustDomain("mesh.local")
    static let now = 1_700_000_000.0
    static func id(_ name: String, ns: String = "shop") -> SPIFFEID { try! SPIFFEID(parsing: "spiffe://mesh.local/ns/\(ns)/sa/\(name)") }
    static let noPolicy = Verdict.deny(rule: Verdict.defaultDenyRule, reason: .noPolicy)
    static let notAllowed = Verdict.deny(rule: Verdict.defaultDenyRule, reason: .notAllowed)

    /// Inbound `http` (port 8080 of shop/payments) and outbound `ledger` (shop/ledger:8080), allowing `frontend`
    /// statically; `managed` switches to policy from the control plane.
    static func config(managed: Bool) -> SidecarConfig {
        let files = IdentityFiles(certificate: "a.crt", key: "a.key", trustBundle: "ca.crt", trustDomain: domain)
        var inbound = InboundListener(name: "http", listen: HostPort(host: "0.0.0.0", port: 15443),
                                      forwardTo: HostPort(host: "127.0.0.1", port: 8080), allow: managed ? [] : [id("frontend")])
        var outbound = OutboundListener(name: "ledger", listen: HostPort(host: "127.0.0.1", port: 10001),
                                        upstream: HostPort(host: "127.0.0.1", port: 15445), expectIdentity: id("ledger"))
        if managed {
            inbound.servicePort = 8080
            outbound.destination = ServiceKey(namespace: "shop", name: "ledger")
            outbound.destinationPort = 8080
        }
        var config = SidecarConfig(identity: files, inbound: [inbound], outbound: [outbound])
        if managed { config.policy = PolicySettings(lastKnownGood: "/nonexistent/slice.json") }
        return config
    }

    /// shop/payments' slice: frontend may call it on 8080 until 2027-03-31, orders only in audit; it may call
    /// shop/ledger on 8080.
    static func slice() throws -> ServiceSlice {
        let doc = #"""
        {"trustDomain": "mesh.local",
         "services": [{"namespace": "shop", "name": "payments", "ports": [8080]}, {"namespace": "shop", "name": "frontend", "ports": [8080]},
                      {"namespace": "shop", "name": "orders", "ports": [8080]}, {"namespace": "shop", "name": "ledger", "ports": [8080]}],
         "rules": [{"name": "frontend-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]},
                    "expires": "2027-03-31T00:00:00Z"},
                   {"name": "orders-audit", "action": "allow", "from": {"services": ["shop/orders"]}, "to": {"services": ["shop/payments"]}, "mode": "audit"},
                   {"name": "payments-to-ledger", "action": "allow", "from": {"services": ["shop/payments"]}, "to": {"services": ["shop/ledger"]}}]}
        """#
        let compiled = try MeshPolicy.load(files: [(name: "mesh.json", bytes: Array(doc.utf8))]).compile(version: 3)
        return try #require(compiled.slice(for: ServiceKey(namespace: "shop", name: "payments")))
    }

    @Test func allowListsDecideInboundOnly() {
        let authorizer = makeAuthorizer(config: Self.config(managed: false), trustDomain: Self.domain, slice: nil)
        #expect(authorizer is AllowListAuthorizer)
        #expect(authorizer.inbound(listener: "http", peer: Self.id("frontend"), now: Self.now) == PolicyDecision(enforced: .allow(rule: "http/allow/0")))
        #expect(authorizer.inbound(listener: "http", peer: Self.id("orders"), now: Self.now) == PolicyDecision(enforced: Self.notAllowed))
        let foreign = try! SPIFFEID(parsing: "spiffe://other.local/ns/shop/sa/frontend")
        #expect(authorizer.inbound(listener: "http", peer: foreign, now: Self.now).enforced.rule == Verdict.defaultDenyRule)
        #expect(authorizer.inbound(listener: "nope", peer: Self.id("frontend"), now: Self.now) == PolicyDecision(enforced: Self.noPolicy))
        #expect(authorizer.outbound(listener: "ledger", now: Self.now) == nil, "the configured upstream is the permission")
        #expect(authorizer.expectedServer(listener: "ledger") == Self.id("ledger"))
        #expect(authorizer.expectedServer(listener: "nope") == nil)
        #expect(authorizer.nextExpiry(after: Self.now) == nil)
        #expect(authorizer.covers(inbound: "http") && !authorizer.covers(inbound: "nope"))
    }

    @Test func aSliceDecidesOnTheListenersFacts() throws {
        let slice = try Self.slice()
        let authorizer = makeAuthorizer(config: Self.config(managed: true), trustDomain: Self.domain, slice: slice)
        #expect(authorizer is SliceAuthorizer)
        for peer in ["frontend", "orders", "ledger"].map({ Self.id($0) }) {
            for now in [Self.now, 1_806_451_200] {
                let expected = slice.decideInbound(ConnectionFacts(peer: peer, destination: slice.service, port: 8080, now: now))
                #expect(authorizer.inbound(listener: "http", peer: peer, now: now) == expected)
            }
        }
        #expect(authorizer.inbound(listener: "http", peer: Self.id("frontend"), now: Self.now).enforced == .allow(rule: "frontend-to-payments"))
        #expect(authorizer.inbound(listener: "http", peer: Self.id("frontend"), now: 1_806_451_200).enforced == Self.notAllowed)
        #expect(authorizer.inbound(listener: "http", peer: Self.id("orders"), now: Self.now)
            == PolicyDecision(enforced: Self.notAllowed, shadow: .allow(rule: "orders-audit")))
        #expect(authorizer.inbound(listener: "nope", peer: Self.id("frontend"), now: Self.now) == PolicyDecision(enforced: Self.noPolicy))
        #expect(authorizer.outbound(listener: "ledger", now: Self.now)?.enforced == .allow(rule: "payments-to-ledger"))
        #expect(authorizer.outbound(listener: "nope", now: Self.now)?.enforced == Self.noPolicy)
        #expect(authorizer.expectedServer(listener: "ledger") == Self.id("ledger"))
        #expect(authorizer.nextExpiry(after: Self.now) == 1_806_451_200)
        #expect(authorizer.nextExpiry(after: 1_806_451_200) == nil)
        #expect(authorizer.covers(inbound: "http"))
    }

    @Test func withoutASliceEverythingFailsClosed() {
        let authorizer = makeAuthorizer(config: Self.config(managed: true), trustDomain: Self.domain, slice: nil)
        #expect(authorizer.inbound(listener: "http", peer: Self.id("frontend"), now: Self.now) == PolicyDecision(enforced: Self.noPolicy))
        #expect(authorizer.outbound(listener: "ledger", now: Self.now)?.enforced == Self.noPolicy)
        #expect(authorizer.expectedServer(listener: "ledger") == Self.id("ledger"))
        #expect(authorizer.nextExpiry(after: Self.now) == nil)
    }

    /// The config decides the form, not whether a slice is at hand: static allow lists ignore one.
    @Test func theConfigChoosesTheForm() throws {
        let authorizer = makeAuthorizer(config: Self.config(managed: false), trustDomain: Self.domain, slice: try Self.slice())
        #expect(authorizer is AllowListAuthorizer)
        #expect(authorizer.inbound(listener: "http", peer: Self.id("orders"), now: Self.now).shadow == nil)
    }
}
