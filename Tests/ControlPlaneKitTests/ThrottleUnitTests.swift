import ControlPlaneKit
import MeshCore
import MeshNet
import Testing
import MeshTestSupport

/// Throttles with a test clock: validated, durable across a restart, audited, carried in the deny list (its
/// revision moves, so parked slice polls wake), expired by the tick, released by hand.
@Suite struct ThrottleUnitTests {
    private let t0 = wholeSecondsNow()
    private let cart = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")
    private let orders = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/orders")

    private func controlPlane(_ dir: TempDir, _ clock: TestClock) throws -> ControlPlane {
        _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase,
                                       now: clock.wallSeconds(), imported: nil)
        return try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: ControlSettings(), clock: clock)
    }

    @Test func throttleIsValidatedDurableAuditedAndCarriedWithTheDenyList() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let cp = try controlPlane(dir, clock)
        let foreign = try SPIFFEID.workload("spiffe://other.domain/ns/shop/sa/cart")
        expectMeshError("throttle.bad-request") { try cp.throttle(identity: cart, perSecond: 0, until: nil, actor: "op") }
        expectMeshError("throttle.bad-request") { try cp.throttle(identity: cart, perSecond: 100_001, until: nil, actor: "op") }
        expectMeshError("throttle.bad-request") { try cp.throttle(identity: foreign, perSecond: 1, until: nil, actor: "op") }
        expectMeshError("throttle.bad-request") { try cp.throttle(identity: cp.identity, perSecond: 1, until: nil, actor: "op") }
        expectMeshError("throttle.bad-request") { try cp.throttle(identity: cart, perSecond: 1, until: clock.wallSeconds(), actor: "op") }
        #expect(cp.identityRecords.revocationRevision == 0)

        try cp.throttle(identity: cart, perSecond: 2, until: t0 + 60, actor: "op")
        try cp.throttle(identity: orders, perSecond: 0.5, until: nil, actor: "alerts")
        let list = cp.identityRecords.denyList
        #expect(list.revision == 2)
        #expect(list.throttled.limit(for: cart, now: t0) == RateLimit(connectionsPerSecond: 2, burst: 2))
        #expect(list.throttled.limit(for: orders, now: t0) == RateLimit(connectionsPerSecond: 0.5, burst: 1))
        #expect(list.throttled.limit(for: cart, now: t0 + 60) == nil)  // expired entries stop applying at once
        #expect(list.identities.isEmpty && list.serials.isEmpty)
        let audited = try cp.audit.records().filter { $0["action"]?.stringValue == "identity.throttle" }
        #expect(audited.map { $0["actor"]?.stringValue } == ["op", "alerts"])

        // Durable across a restart.
        let restarted = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: cp.settings, clock: clock)
        #expect(restarted.throttles == cp.throttles)
        #expect(restarted.identityRecords.denyList == list)

        // The tick drops the expired one (written, audited), and only it.
        try restarted.expireThrottles()
        #expect(restarted.identityRecords.revocationRevision == 2)  // nothing due: nothing written
        clock.advance(61)
        try restarted.expireThrottles()
        #expect(Array(restarted.throttles.keys) == [orders])
        #expect(restarted.identityRecords.revocationRevision == 3)
        #expect(try restarted.audit.records().contains { $0["action"]?.stringValue == "identity.throttle-expired" })

        try restarted.unthrottle(identity: orders, actor: "op")
        #expect(restarted.throttles.isEmpty && restarted.identityRecords.revocationRevision == 4)
        expectMeshError("throttle.not-found") { try restarted.unthrottle(identity: orders, actor: "op") }
        #expect(try restarted.audit.records().contains { $0["action"]?.stringValue == "identity.unthrottle" })
    }
}
