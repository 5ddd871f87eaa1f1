import MeshCore
import Testing

@Suite struct AllowListTests {
    let list: AllowList

    init() throws {
        list = AllowList(listener: "http", trustDomain: try TrustDomain("mesh.local"), allowed: [
            try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend"),
            try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/checkout"),
            try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend"),  // duplicate keeps rule 0
        ])
    }

    @Test(arguments: [
        ("spiffe://mesh.local/ns/shop/sa/frontend", "http/allow/0"),
        ("spiffe://mesh.local/ns/shop/sa/checkout", "http/allow/1"),
    ])
    func allowsListedIdentityNamingItsRule(id: String, rule: String) throws {
        let verdict = list.evaluate(try SPIFFEID.workload(id))
        #expect(verdict == .allow(rule: rule))
        #expect(verdict.isAllowed)
        #expect(verdict.rule == rule)
    }

    @Test(arguments: [
        ("spiffe://mesh.local/ns/shop/sa/payments", DenyReason.notAllowed),
        ("spiffe://mesh.local/ns/shop/sa/Frontend", DenyReason.notAllowed),
        ("spiffe://mesh.local/ns/shop/sa/frontend/x", DenyReason.notAllowed),
        ("spiffe://other.local/ns/shop/sa/frontend", DenyReason.foreignTrustDomain),
        ("spiffe://mesh.local", DenyReason.noIdentity),
    ])
    func deniesByDefault(id: String, reason: DenyReason) throws {
        let verdict = list.evaluate(try SPIFFEID(parsing: id))
        #expect(verdict == .deny(rule: Verdict.defaultDenyRule, reason: reason))
        #expect(!verdict.isAllowed)
        #expect(verdict.rule == "default-deny")
    }

    @Test func deniesWhenPeerPresentedNoIdentity() {
        #expect(list.evaluate(nil) == .deny(rule: "default-deny", reason: .noIdentity))
    }

    @Test func emptyListDeniesEveryone() throws {
        let empty = AllowList(listener: "http", trustDomain: try TrustDomain("mesh.local"), allowed: [])
        let verdict = empty.evaluate(try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend"))
        #expect(verdict == .deny(rule: "default-deny", reason: .notAllowed))
        #expect(empty.allowedIdentities.isEmpty)
    }

    @Test func listsAllowedIdentitiesOnceInOrder() {
        #expect(list.allowedIdentities.map(\.description) == [
            "spiffe://mesh.local/ns/shop/sa/checkout", "spiffe://mesh.local/ns/shop/sa/frontend",
        ])
    }

    @Test func denyReasonsHaveStableLabels() {
        #expect(DenyReason.allCases.map(\.rawValue) == [
            "identity-not-allowed", "foreign-trust-domain", "no-identity", "no-policy", "identity-quarantined",
        ])
    }
}
