import ControlPlaneKit
import MeshCore
import MeshNet
import MeshPolicy
import MeshTLS
import Testing
import MeshTestSupport

/// The identity lifecycle's rules with a test clock: latest-serial renewal (clone detection), revocation, the
/// reserved namespace, and the durable records behind `IdentityRepository`.
@Suite struct IdentityLifecycleUnitTests {
    private let t0 = wholeSecondsNow()
    private let cart = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")

    private func controlPlane(_ dir: TempDir, _ clock: TestClock) throws -> ControlPlane { try fileControlPlane(dir, clock) }

    private func csr() throws -> [UInt8] { try freshCSR() }

    private func renewal(_ leaf: Certificate) -> ControlPlane.Credential {
        .certificate(cart, notBefore: leaf.notBefore, notAfter: leaf.notAfter, serial: leaf.serialHex)
    }

    @Test func noJoinTokenForMeshSystem() throws {
        let dir = try TempDir()
        let cp = try controlPlane(dir, TestClock(t0))
        for name in ["mesh-control", "other"] {
            let id = try SPIFFEID.service(trustDomain: trustDomain(), namespace: "mesh-system", name: name)
            let e = expectMeshError("token.reserved-identity") { _ = try cp.createToken(for: id, ttl: 60, actor: "t") }
            #expect(e?.kind == .forbidden)
        }
        _ = try cp.createToken(for: cart, ttl: 60, actor: "t")
    }

    @Test func onlyTheLatestCertificateRenewsAndANewTokenStartsOver() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let cp = try controlPlane(dir, clock)
        let first = try cp.issue(csrPEM: csr(), credential: .joinToken(cp.createToken(for: cart, ttl: 60, actor: "t").secret)).chain[0]
        let second = try cp.issue(csrPEM: csr(), credential: renewal(first)).chain[0]
        expectMeshError("issue.clone-suspected") { _ = try cp.issue(csrPEM: try csr(), credential: renewal(first)) }
        #expect(cp.security.count("clone-suspected") == 1)
        #expect(try cp.audit.records().contains { $0["action"]?.stringValue == "security.clone-suspected" && $0["serial"]?.stringValue == first.serialHex })
        // Durable: a restarted control plane still knows the latest serial.
        let restarted = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: cp.settings, clock: clock)
        #expect(restarted.identityRecords.latest[cart]?.serial == second.serialHex)
        expectMeshError("issue.clone-suspected") { _ = try restarted.issue(csrPEM: try csr(), credential: renewal(first)) }
        // Re-bootstrapping with a new token invalidates renewals from the old certificate.
        let third = try restarted.issue(csrPEM: csr(), credential: .joinToken(restarted.createToken(for: cart, ttl: 60, actor: "t").secret)).chain[0]
        expectMeshError("issue.clone-suspected") { _ = try restarted.issue(csrPEM: try csr(), credential: renewal(second)) }
        _ = try restarted.issue(csrPEM: csr(), credential: renewal(third))
    }

    @Test func revokedIdentitiesAndSerialsDoNotRenewAndReachTheSlices() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let cp = try controlPlane(dir, clock)
        let leaf = try cp.issue(csrPEM: csr(), credential: .joinToken(cp.createToken(for: cart, ttl: 60, actor: "t").secret)).chain[0]
        expectMeshError("revoke.bad-request") { _ = try cp.revoke(identity: nil, serial: nil, reason: "", actor: "op") }
        expectMeshError("revoke.bad-request") { _ = try cp.revoke(identity: cart, serial: "AB", reason: "", actor: "op") }
        expectMeshError("revoke.bad-request") { _ = try cp.revoke(identity: nil, serial: "xyz", reason: "", actor: "op") }
        clock.advance(5)
        _ = try cp.revoke(identity: cart, serial: nil, reason: "stolen", actor: "op")
        expectMeshError("identity.revoked") { _ = try cp.issue(csrPEM: try csr(), credential: renewal(leaf)) }
        #expect(cp.identityRecords.denyList.revokes(cart, serial: leaf.serialHex, notBefore: leaf.notBefore))
        // Re-admission with a new token: the new certificate starts after the revocation and is not refused.
        let fresh = try cp.issue(csrPEM: csr(), credential: .joinToken(cp.createToken(for: cart, ttl: 60, actor: "t").secret)).chain[0]
        #expect(!cp.identityRecords.denyList.revokes(cart, serial: fresh.serialHex, notBefore: fresh.notBefore))
        _ = try cp.revoke(identity: nil, serial: fresh.serialHex, reason: "", actor: "op")
        expectMeshError("identity.revoked") { _ = try cp.issue(csrPEM: try csr(), credential: renewal(fresh)) }
        #expect(cp.identityRecords.denyList.revision == 2)
        #expect(try cp.audit.records().filter { $0["action"]?.stringValue == "identity.revoke" }.count == 2)
        // Durable across a restart.
        let restarted = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: cp.settings, clock: clock)
        #expect(restarted.identityRecords.denyList == cp.identityRecords.denyList)
    }

    @Test func theDenyListTravelsInTheSliceJSON() throws {
        var list = RevocationList(revision: 3, identities: [cart: t0], serials: ["0A1B"])
        let node = JSONNode(list.json())
        #expect(try RevocationList(json: node) == list)
        list.serials.insert("bad serial")
        expectMeshError("revoke.bad-request") { _ = try RevocationList(json: JSONNode(list.json())) }
    }

    @Test func fileRepositoryIsCompareAndSet() throws {
        let dir = try TempDir()
        let repo = try FileIdentityRepository(dataDir: dir.path)
        var next = IdentityRecords.empty
        next.revision = 1
        next.revocationRevision = 1
        next.latest[cart] = .init(serial: "AB", notAfter: t0)
        try repo.compareAndSet(expected: 0, next)
        expectMeshError("identities.conflict") { try repo.compareAndSet(expected: 0, next) }
        #expect(try repo.load().latest.isEmpty, "the deny-list compare-and-set leaves latest alone")
        try repo.setLatest(cart, .init(serial: "AB", notAfter: t0), previous: nil)
        expectMeshError("identities.conflict") { try repo.setLatest(cart, .init(serial: "CD", notAfter: t0), previous: nil) }
        try repo.setLatest(cart, .init(serial: "CD", notAfter: t0), previous: .init(serial: "AB", notAfter: t0))
        next.latest[cart] = .init(serial: "CD", notAfter: t0)
        #expect(try FileIdentityRepository(dataDir: dir.path).load() == next)
        #expect(try dir.mode("identities.json") == 0o600)
    }
}
