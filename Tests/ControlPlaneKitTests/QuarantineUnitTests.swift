import ControlPlaneKit
import MeshCore
import MeshNet
import MeshTLS
import Testing
import MeshTestSupport

/// Quarantine with a test clock: it reaches the deny list (new revision), refuses renewals, is durable and
/// audited, expires on the tick, never touches `mesh-system`, and automatic ones are rate limited mesh-wide.
@Suite struct QuarantineUnitTests {
    private let t0 = wholeSecondsNow()
    private let cart = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")

    private func controlPlane(_ dir: TempDir, _ clock: TestClock) throws -> ControlPlane { try fileControlPlane(dir, clock) }

    private func csr() throws -> [UInt8] { try freshCSR() }

    private func other(_ i: Int) -> SPIFFEID { try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/s\(i)") }

    /// The attack: a quarantined identity renews its certificate. Refused, and a release lets it renew again.
    @Test func aQuarantinedIdentityDoesNotRenewAndItIsDurableAndAudited() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let cp = try controlPlane(dir, clock)
        let leaf = try cp.issue(csrPEM: csr(), credential: .joinToken(cp.createToken(for: cart, ttl: 60, actor: "t").secret)).chain[0]
        let before = cp.identityRecords.denyList.revision
        let q = try cp.quarantine(identity: cart, reason: "probing", until: nil, actor: "op", automatic: false)
        #expect(q.identity == cart && q.since == t0 && q.until == nil && !q.automatic)
        #expect(cp.identityRecords.denyList.quarantined == [cart])
        #expect(cp.identityRecords.denyList.revision == before + 1, "a new revision wakes every parked poll")
        let renew = ControlPlane.Credential.certificate(cart, notBefore: leaf.notBefore, notAfter: leaf.notAfter, serial: leaf.serialHex)
        let e = expectMeshError("identity.quarantined") { _ = try cp.issue(csrPEM: try csr(), credential: renew) }
        #expect(e?.kind == .forbidden)
        // Durable: a restarted control plane still quarantines it.
        let restarted = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: cp.settings, clock: clock)
        #expect(restarted.quarantines(now: clock.wallSeconds()) == [q])
        #expect(restarted.identityRecords.denyList == cp.identityRecords.denyList)
        expectMeshError("identity.quarantined") { _ = try restarted.issue(csrPEM: try csr(), credential: renew) }
        try restarted.release(identity: cart, actor: "op")
        #expect(restarted.identityRecords.denyList.quarantined.isEmpty)
        _ = try restarted.issue(csrPEM: csr(), credential: renew)
        expectMeshError("quarantine.not-found") { try restarted.release(identity: cart, actor: "op") }
        let actions = try restarted.audit.records().compactMap { $0["action"]?.stringValue }
        #expect(actions.filter { $0 == "identity.quarantine" }.count == 1 && actions.filter { $0 == "identity.release" }.count == 1)
    }

    @Test func meshSystemAndForeignIdentitiesAreNeverQuarantined() throws {
        let dir = try TempDir()
        let cp = try controlPlane(dir, TestClock(t0))
        for name in ["mesh-control", "other"] {
            let id = try SPIFFEID.service(trustDomain: trustDomain(), namespace: "mesh-system", name: name)
            let e = expectMeshError("quarantine.system-identity") {
                _ = try cp.quarantine(identity: id, reason: "", until: nil, actor: "op", automatic: false)
            }
            #expect(e?.kind == .forbidden)
            expectMeshError("quarantine.system-identity") { _ = try cp.quarantine(identity: id, reason: "", until: nil, actor: "rule", automatic: true) }
        }
        expectMeshError("quarantine.bad-request") {
            _ = try cp.quarantine(identity: try SPIFFEID.workload("spiffe://other.td/ns/shop/sa/x"), reason: "", until: nil, actor: "op", automatic: false)
        }
        expectMeshError("quarantine.bad-request") { _ = try cp.quarantine(identity: cart, reason: "", until: t0 - 1, actor: "op", automatic: false) }
        #expect(cp.identityRecords.quarantines.isEmpty)
    }

    @Test func anExpiringQuarantineDropsOutOnTheTick() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let cp = try controlPlane(dir, clock)
        try cp.quarantine(identity: cart, reason: "for a while", until: t0 + 2, actor: "op", automatic: false)
        try cp.quarantine(identity: other(1), reason: "for good", until: nil, actor: "op", automatic: false)
        let revision = cp.identityRecords.denyList.revision
        clock.advance(1)
        #expect(try !cp.expireQuarantines())
        #expect(cp.identityRecords.denyList.revision == revision)
        clock.advance(1)
        #expect(cp.quarantines(now: clock.wallSeconds()).map(\.identity) == [other(1)], "listed as gone at its until")
        #expect(try cp.expireQuarantines())
        #expect(cp.identityRecords.denyList.quarantined == [other(1)])
        #expect(cp.identityRecords.denyList.revision == revision + 1)
        let release = try cp.audit.records().filter { $0["action"]?.stringValue == "identity.release" }
        #expect(release.count == 1 && release.first?["why"]?.stringValue == "expired" && release.first?["actor"]?.stringValue == "mesh-control")
    }

    /// A rule that matches everyone: the 4th automatic quarantine within 60 s is refused and raised; operators
    /// are not limited; after the window the next one is admitted.
    @Test func automaticQuarantinesAreRateLimitedMeshWide() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let cp = try controlPlane(dir, clock)
        for i in 0..<3 {
            try cp.quarantine(identity: other(i), reason: "rule deny-spike", until: nil, actor: "alert deny-spike", automatic: true)
            clock.advance(10)
        }
        let e = expectMeshError("quarantine.rate-limited") {
            _ = try cp.quarantine(identity: other(3), reason: "rule deny-spike", until: nil, actor: "alert deny-spike", automatic: true)
        }
        #expect(e?.kind == .rateLimited)
        #expect(cp.security.count("quarantine-rate-limited") == 1)
        #expect(!cp.identityRecords.denyList.quarantined.contains(other(3)))
        #expect(try cp.audit.records().contains { $0["action"]?.stringValue == "security.quarantine-rate-limited" })
        try cp.quarantine(identity: other(4), reason: "by hand", until: nil, actor: "op", automatic: false)
        clock.advance(31)  // the first automatic one is now 61 s old
        try cp.quarantine(identity: other(3), reason: "rule deny-spike", until: nil, actor: "alert deny-spike", automatic: true)
        #expect(cp.quarantines(now: clock.wallSeconds()).filter(\.automatic).count == 4)
    }

    @Test func theQuarantineTravelsInTheDenyListJSON() throws {
        let list = RevocationList(revision: 4, identities: [:], serials: [], quarantined: [cart, other(1)])
        #expect(try RevocationList(json: JSONNode(list.json())) == list)
        // Absent when empty: the document an older sidecar reads is unchanged.
        #expect(!RevocationList(revision: 1).json().text.contains("quarantined"))
        let bad = JSONValue.object([("revision", .int(1)), ("identities", .array([])), ("serials", .array([])),
                                    ("quarantined", .array([.string("spiffe://mesh.local")]))])
        #expect(throws: MeshError.self) { _ = try RevocationList(json: JSONNode(bad)) }
    }
}
