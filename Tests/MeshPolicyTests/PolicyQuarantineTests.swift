import MeshCore
import MeshPolicy
import Testing
import MeshTestSupport

/// A quarantined identity is denied above every allow (rule `quarantine`, reason `identity-quarantined`), as a
/// caller (inbound) and as a destination (egress), with no shadow verdict; JSON carries it.
@Suite struct PolicyQuarantineTests {
    typealias D = PolicyDoc

    @Test func aQuarantinedPeerIsDeniedBeforeAnyAllow() throws {
        var payments = try #require(try PolicySliceTests.compiled().slice(for: D.key("payments")))
        let f = facts(D.sa("frontend"), to: payments.service, port: 8080, now: PolicySliceTests.now)
        #expect(payments.decideInbound(f).enforced == .allow(rule: "frontend-to-payments"), "the attack: allowed today")
        payments.revoked = RevocationList(revision: 1, quarantined: [D.sa("frontend")])
        #expect(payments.decideInbound(f) == PolicyDecision(enforced: .deny(rule: "quarantine", reason: .quarantined)))
        #expect(DenyReason.quarantined.rawValue == "identity-quarantined")
        // Others are untouched.
        #expect(payments.decideInbound(facts(D.sa("orders"), to: payments.service, port: 9090, now: PolicySliceTests.now)).enforced
                == .allow(rule: "orders-to-payments"))
        // The slice's JSON carries the list, and reads back equal.
        #expect(try ServiceSlice(json: payments.json()) == payments)
    }

    @Test func egressToAQuarantinedDestinationIsRefused() throws {
        var frontend = try #require(try PolicySliceTests.compiled().slice(for: D.key("frontend")))
        let f = facts(frontend.identity, to: D.key("payments"), port: 8080, now: PolicySliceTests.now)
        #expect(frontend.egressDecision(f).enforced == .allow(rule: "frontend-to-payments"))
        frontend.revoked = RevocationList(revision: 2, quarantined: [D.sa("payments")])
        #expect(frontend.egressDecision(f) == .quarantined)
    }
}
