@testable import ControlPlaneKit
import Foundation
import MeshCore
import MeshEtcd
import MeshTestSupport
import Synchronization
import Testing

/// The repository contracts over a real etcd, and what only a shared store has: a commit at one replica told
/// to the other through its watch, and compare-and-set across replicas.
@Suite(.serialized) struct EtcdRepositoryTests {
    typealias C = RepositoryContract

    @Test func policyKeepsTheContract() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = etcd.freshPrefix()
        try C.policyCompareAndSet({ try EtcdPolicyRepository(store: etcd.store(p)) }, reopen: { try EtcdPolicyRepository(store: etcd.store(p)) })
        try C.policyConcurrentWritersOneWins { try EtcdPolicyRepository(store: etcd.store(etcd.freshPrefix())) }
        try C.policyNotifiesOncePerCommit { try EtcdPolicyRepository(store: etcd.store(etcd.freshPrefix())) }
        let epoch = try EtcdPolicyRepository(store: etcd.store(p)).epoch
        #expect(try EtcdPolicyRepository(store: etcd.store(p)).epoch == epoch, "the epoch is made once and kept")
        #expect(try EtcdPolicyRepository(store: etcd.store(etcd.freshPrefix())).epoch != epoch, "a new store has a new epoch")
        #expect(try etcd.client().get(Array((p + "policy/versions/2").utf8)) != nil, "each version's document is kept")
    }

    @Test func tokensKeepTheContract() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = etcd.freshPrefix()
        try C.tokenConsumeIsSingleUse({ EtcdTokenRepository(store: try etcd.store(p)) }, reopen: { EtcdTokenRepository(store: try etcd.store(p)) })
        try C.tokenRefusedAdmissionDoesNotSpend { EtcdTokenRepository(store: try etcd.store(etcd.freshPrefix())) }
        try C.tokenConcurrentConsumersOneWins { EtcdTokenRepository(store: try etcd.store(etcd.freshPrefix())) }
    }

    @Test func caStateAndAuditKeepTheContract() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = try etcd.initialized(now: C.now)
        try C.caCompareAndSet({ try EtcdCAStateRepository(store: etcd.store(p), passphrase: EtcdFixture.passphrase) },
                              reopen: { try EtcdCAStateRepository(store: etcd.store(p), passphrase: EtcdFixture.passphrase) })
        let q = try etcd.initialized(now: C.now)
        try C.caNotifiesOncePerCommit { try EtcdCAStateRepository(store: etcd.store(q), passphrase: EtcdFixture.passphrase) }
        try C.auditRecordsInOrderAndVerifies { try EtcdAuditSink(store: etcd.store(q)) }
        expectMeshError("ca.corrupt") { _ = try EtcdCAStateRepository(store: etcd.store(etcd.freshPrefix()), passphrase: EtcdFixture.passphrase) }
        expectMeshError("ca.exists") {
            _ = try EtcdStoreSetup.initialize(store: etcd.store(q), trustDomain: TrustDomain("mesh.local"), passphrase: EtcdFixture.passphrase,
                                              now: C.now, imported: nil)
        }
        let raw = String(decoding: try #require(try etcd.client().get(Array((q + "ca/state").utf8))).value, as: UTF8.self)
        // Markers split so the source holds no key header (tests mint their keys at run time).
        #expect(raw.contains("BEGIN " + "ENCRYPTED PRIVATE KEY"), "keys are encrypted at rest")
        #expect(!raw.contains("BEGIN " + "PRIVATE KEY") && !raw.contains("BEGIN " + "EC PRIVATE KEY"))
        expectMeshError("tls.bad-passphrase") { _ = try EtcdCAStateRepository(store: etcd.store(q), passphrase: Array("wrong passphrase!".utf8)) }
    }

    @Test func policyCommittedAtOneReplicaIsToldAtTheOtherOnceInOrder() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = etcd.freshPrefix()
        let (sa, sb) = (try etcd.store(p), try etcd.store(p))
        let a = try EtcdPolicyRepository(store: sa), b = try EtcdPolicyRepository(store: sb)
        sb.startWatching()
        defer { sb.stop() }
        let told = C.Told<Int>()
        let s = b.subscribe { told.record($0.version) }
        defer { s.cancel() }
        for v in 1...5 { try a.compareAndSet(expected: v - 1, C.document(v)) }
        #expect(eventually(within: 2) { told.all.count >= 5 })
        #expect(told.all == [1, 2, 3, 4, 5], "each commit told once, in commit order")
        #expect(try b.load() == C.document(5))
        // A stale replica (no watch running at A) is refused by etcd, not by its own view, and then catches up.
        try b.compareAndSet(expected: 5, C.document(6))
        #expect(eventually(within: 2) { told.all.last == 6 })
        expectMeshError("policy.conflict") { try a.compareAndSet(expected: 5, C.document(6, "stale")) }
        #expect(try a.load() == C.document(6), "the refusal brought A the stored document")
        usleep(200_000)
        #expect(told.all == [1, 2, 3, 4, 5, 6], "B was told its own commit once, not again by the watch")
    }

    @Test func identitiesInTwoPartsAcrossReplicas() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = etcd.freshPrefix()
        let (sa, sb) = (try etcd.store(p), try etcd.store(p))
        let a = try EtcdIdentityRepository(store: sa), b = try EtcdIdentityRepository(store: sb)
        sb.startWatching()
        defer { sb.stop() }
        let latestTold = C.Told<String>(), denyTold = C.Told<Int>()
        let s1 = b.subscribeLatest { id, l in latestTold.record("\(id.path)=\(l?.serial ?? "nil")") }
        let s2 = b.subscribe { denyTold.record($0.revision) }
        defer { s1.cancel(); s2.cancel() }
        let one = IdentityRecords.Latest(serial: "01", notAfter: C.now + 60), two = IdentityRecords.Latest(serial: "02", notAfter: C.now + 120)
        try a.setLatest(C.cart, one, previous: nil)
        expectMeshError("identities.conflict") { try a.setLatest(C.cart, two, previous: nil) }
        #expect(eventually(within: 2) { latestTold.all.count == 1 })
        // Both replicas renew the same identity from the same previous: exactly one wins.
        let outcomes = C.concurrently(2) { i in outcome { try (i == 0 ? a : b).setLatest(C.cart, .init(serial: "r\(i)", notAfter: C.now), previous: one) } }
        #expect(outcomes.sorted() == ["identities.conflict", "ok"])
        #expect(try eventually(within: 2) { try a.load().latest == b.load().latest })
        var next = IdentityRecords(revision: 1, revocationRevision: 1)
        next.revocations = [.init(identity: C.cart, serial: nil, revokedAt: C.now, reason: "test", actor: "t", until: C.now + 60)]
        try a.compareAndSet(expected: 0, next)
        expectMeshError("identities.conflict") { try b.compareAndSet(expected: 0, next) }
        #expect(eventually(within: 2) { denyTold.all == [1] })
        let loaded = try EtcdIdentityRepository(store: etcd.store(p)).load()
        #expect(loaded.revocations == next.revocations && loaded.revision == 1 && loaded.latest[C.cart] != nil, "durable, both parts")
        #expect(latestTold.all.first == "/ns/shop/sa/cart=01")
    }

    @Test func auditChainVerifiesAfterInterleavedAppendsFromTwoReplicas() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = etcd.freshPrefix()
        let a = try EtcdAuditSink(store: etcd.store(p)), b = try EtcdAuditSink(store: etcd.store(p))
        _ = C.concurrently(2) { i in
            for n in 0..<20 { try! (i == 0 ? a : b).record(time: C.now, actor: i == 0 ? "a" : "b", action: "n\(n)", []) }
        }
        #expect(try a.verify() == 40)
        #expect(try b.verify() == 40)
        let records = try a.records()
        #expect(records.compactMap { $0["seq"]?.intValue } == Array(1...40))
        #expect(records.filter { $0["actor"]?.stringValue == "a" }.count == 20)
        let page = try b.page(after: 10, limit: 5)
        #expect(page.records.compactMap { $0["seq"]?.intValue } == [11, 12, 13, 14, 15] && page.next == 15)
        // Tampering with one record breaks the chain.
        let k = Array((p + EtcdAuditSink.recordKey(7)).utf8)
        var altered = try #require(try etcd.client().get(k)).value
        altered[altered.firstIndex(of: UInt8(ascii: "n"))!] = UInt8(ascii: "m")
        try etcd.client().put(k, altered)
        #expect(throws: MeshError.self) { try a.verify() }
    }

    @Test func aCompactedWatchReloadsAndTellsOnlyWhatChanged() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = etcd.freshPrefix()
        let sb = try etcd.store(p)
        let b = try EtcdPolicyRepository(store: sb)  // read at the store's first revisions
        let a = try EtcdPolicyRepository(store: etcd.store(p))
        for v in 1...3 { try a.compareAndSet(expected: v - 1, C.document(v)) }
        let now = try etcd.client().range(prefix: Array(p.utf8), after: nil, limit: 1).revision
        let compact = try ChildProcess.run("/usr/bin/etcdctl", ["--endpoints", etcd.cluster.endpoints[0], "compact", "\(now)"],
                                           environment: ["ETCDCTL_API": "3"])
        #expect(compact.status == 0, "etcdctl compact: \(compact.stderr)")
        let told = C.Told<Int>()
        let s = b.subscribe { told.record($0.version) }
        defer { s.cancel() }
        sb.startWatching()  // from B's read, which is compacted away
        defer { sb.stop() }
        #expect(eventually(within: 5) { told.all == [3] }, "the reload tells the document now stored, once")
        try a.compareAndSet(expected: 3, C.document(4))
        #expect(eventually(within: 3) { told.all == [3, 4] }, "and the watch runs again from the reload")
    }
}
