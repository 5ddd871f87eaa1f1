@testable import ControlPlaneKit
import Foundation
import MeshCore
import MeshEtcd
import MeshNet
import MeshTLS
import MeshTestSupport
import Synchronization
import Testing

/// Two `ControlPlane`s over one etcd (two replicas, each with its own client): what one accepts the other
/// serves, single-use tokens across replicas, one audit chain, leadership, and writes without quorum.
@Suite(.serialized) struct EtcdReplicaTests {
    typealias C = RepositoryContract
    static let mesh = ControlPlanePolicyTests.mesh

    @Test func policyAppliedAtOneReplicaIsServedByTheOtherWithinTwoSeconds() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = try etcd.initialized(now: wholeSecondsNow())
        let a = try etcd.replica(p, id: "a"), b = try etcd.replica(p, id: "b")
        defer { a.stopReplica(); b.stopReplica() }
        let told = C.Told<Int>()
        let s = b.policyChanges.subscribe { told.record($0.version) }
        defer { s.cancel() }
        #expect(a.distribution.epoch == b.distribution.epoch, "one store, one epoch")
        let change = try a.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        #expect(eventually(within: 2) { b.policy.version == 1 })
        #expect(b.policy.hash == change.snapshot.hash)
        #expect(eventually(within: 2) { !told.all.isEmpty })  // told just after the swap
        usleep(200_000)
        #expect(told.all == [1], "B's distribution was told once")
        expectMeshError("policy.conflict") { _ = try b.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator") }
        _ = try b.applyPolicy(Self.mesh, ifMatch: 1, actor: "operator")
        #expect(eventually(within: 2) { a.policy.version == 2 })
    }

    @Test func aJoinTokenRedeemedAtBothReplicasAtOnceSucceedsOnce() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = try etcd.initialized(now: wholeSecondsNow())
        let a = try etcd.replica(p, id: "a"), b = try etcd.replica(p, id: "b")
        defer { a.stopReplica(); b.stopReplica() }
        for round in 0..<6 {  // rounds after the first also race on the identity's latest entry
            let token = try a.createToken(for: C.cart, ttl: 600, actor: "operator")
            let outcomes = C.concurrently(2) { i in
                outcome { _ = try (i == 0 ? a : b).issue(csrPEM: try CertificateSigningRequest.create(key: PrivateKey.generateP256(), commonName: "c").pem(),
                                                         credential: .joinToken(token.secret)) }
            }
            #expect(outcomes.sorted() == ["ok", "token.used"], "round \(round)")
        }
        // Both replicas learn the latest certificate of the identity (only that one may renew).
        #expect(eventually(within: 2) { a.identityRecords.latest[C.cart] == b.identityRecords.latest[C.cart] })
        #expect(try a.audit.verify() == b.audit.verify())
    }

    @Test func theAuditChainVerifiesAfterInterleavedWritesFromBothReplicas() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = try etcd.initialized(now: wholeSecondsNow())
        let a = try etcd.replica(p, id: "a"), b = try etcd.replica(p, id: "b")
        defer { a.stopReplica(); b.stopReplica() }
        _ = C.concurrently(2) { i in
            let cp = i == 0 ? a : b
            for _ in 0..<8 { _ = try! cp.createToken(for: C.cart, ttl: 600, actor: "replica-\(i)") }
        }
        _ = try a.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        #expect(try a.audit.verify() == 18, "ca.init, 16 tokens, one apply")
        #expect(try b.audit.verify() == 18)
        #expect(eventually(within: 2) { a.audit.count == 18 && b.audit.count == 18 }, "the head's moves reach every replica's count")
        #expect(try b.audit.records().compactMap { $0["action"]?.stringValue }.filter { $0 == "token.create" }.count == 16)
    }

    @Test func leadershipMovesWhenTheLeaderStopsOrCrashesAndARevokedLeaseStartsANewTerm() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = try etcd.initialized(now: wholeSecondsNow())
        let all = try ["a", "b", "c"].map { try etcd.replica(p, id: $0) }
        defer { all.forEach { $0.stopReplica() } }
        func leaders() -> [ControlPlane] { all.filter(\.isLeader) }
        #expect(eventually(within: 3) { leaders().count == 1 })
        let first = try #require(leaders().first)
        #expect(try Set(first.replicas().map(\.id)) == ["a", "b", "c"])
        #expect(try first.replicas().filter(\.leader).map(\.id) == [first.replicaID!])
        #expect(first.storeHealth().isLeader && first.storeHealth().members.allSatisfy(\.healthy))
        #expect(all.filter { !$0.isLeader }.allSatisfy { (try? $0.tick()) == false }, "only the leader moves rotations")

        // Revoked (an operator's `etcdctl lease revoke`): the role is taken again under a new lease.
        let revokedLease = try #require(first.replication.leadership).lease
        try etcd.client().revokeLease(revokedLease)
        #expect(eventually(within: 3) { leaders().count == 1 && leaders()[0].replication.leadership!.lease != revokedLease })

        // Stopped: its lease is revoked on the way out; another leads within a renewal or two.
        let stopping = try #require(leaders().first)
        let t0 = Date()
        stopping.stopReplica()
        #expect(eventually(within: 3) { leaders().count == 1 && leaders()[0] !== stopping })
        let stopped = Date().timeIntervalSince(t0)

        // Crashed: it stops renewing without revoking; its lease runs out after the TTL (2 s) and the last one leads.
        let crashing = try #require(leaders().first)
        let t1 = Date()
        try #require(crashing.replication.leadership).abandon()
        let last = try #require(all.first { $0 !== stopping && $0 !== crashing })
        #expect(eventually(within: 5) { last.isLeader })
        #expect(!crashing.isLeader, "a replica that cannot renew stops believing it leads")
        print("leadership-moves stopped=\(Int(stopped * 1000))ms crashed=\(Int(Date().timeIntervalSince(t1) * 1000))ms (ttl 2 s, renew 0.2 s)")
    }

    @Test func withoutQuorumWritesFailUnavailableAndReadsAreServedThenWritesResume() throws {
        let etcd = try EtcdFixture(members: 3)
        defer { etcd.stop() }
        let p = try etcd.initialized(now: wholeSecondsNow())
        let a = try etcd.replica(p, id: "a")
        defer { a.stopReplica() }
        _ = try a.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        let audited = try a.audit.verify()
        etcd.cluster.kill(1)
        etcd.cluster.kill(2)
        let e = try #require(throws: MeshError.self) { _ = try a.applyPolicy(Self.mesh, ifMatch: 1, actor: "operator") }
        #expect(e.code == "store.unavailable")
        #expect(e.kind.httpStatus == 503)
        #expect(a.policy.version == 1, "reads are served from the replica's last state")
        #expect(a.distribution.epoch == a.policyRepository.epoch)
        try etcd.cluster.restart(1)
        try etcd.cluster.restart(2)
        var seen: [String] = []
        #expect(eventually(within: 15) {
            if seen.last != "ok" { seen.append(outcome { _ = try a.applyPolicy(Self.mesh, ifMatch: a.policy.version, actor: "operator") }) }
            return seen.last == "ok"
        }, "outcomes after the restart: \(Set(seen)), \(seen.count) tries")
        #expect(a.policy.version >= 2)
        #expect(try a.audit.verify() >= audited + 1)
    }

    @Test func onlyTheLeaderMovesARotationAndTheOtherReplicaNoticesTheNewIssuer() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let t0 = wholeSecondsNow()
        let clock = TestClock(t0)
        var settings = ControlSettings()
        settings.rotationOverlap = 60
        let p = try etcd.initialized(now: t0)
        let a = try etcd.replica(p, id: "a", clock: clock, settings: settings)
        #expect(eventually(within: 3) { a.isLeader })
        let b = try etcd.replica(p, id: "b", clock: clock, settings: settings)
        defer { a.stopReplica(); b.stopReplica() }
        usleep(500_000)
        #expect(!b.isLeader)
        #expect(try b.tick() == false)
        _ = try a.rotate(actor: "operator")
        #expect(eventually(within: 2) { b.ca.all.count == 2 })
        clock.advance(61)
        #expect(try b.tick() == false, "due, but B does not lead: nothing written")
        #expect(b.ca.issuing.id == 1)
        #expect(eventually(within: 2) { a.isLeader }, "the jump of the test clock aged A's renewal; its next one counts")
        #expect(try a.tick() == true, "the leader moves the rotation")
        #expect(eventually(within: 2) { b.ca.issuing.id == 2 })
        #expect(try b.tick() == true, "B's server renews its serving certificate under the new issuer")
        #expect(try b.tick() == false)
        #expect(try a.audit.records().filter { $0["action"]?.stringValue == "ca.schedule" }.count >= 1)
    }

    @Test func aConflictWithTheVersionWeTriedTakesTheStoredOneInsteadOfIgnoringIt() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = try etcd.initialized(now: wholeSecondsNow())
        // A replica whose watch has not brought the other's commit yet (no watch at all here).
        let store = try etcd.store(p)
        let a = try ControlPlane(policy: EtcdPolicyRepository(store: store), tokens: EtcdTokenRepository(store: store),
                                 identities: EtcdIdentityRepository(store: store),
                                 ca: EtcdCAStateRepository(store: store, passphrase: EtcdFixture.passphrase), audit: EtcdAuditSink(store: store),
                                 adminTokenHash: "", settings: ControlSettings(), now: { wholeSecondsNow() })
        _ = try a.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        let other = try EtcdPolicyRepository(store: etcd.store(p))
        try other.compareAndSet(expected: 1, StoredPolicy(version: 2, files: [PolicyFile(name: "mesh.json", content: ControlPlanePolicyTests.services)]))
        expectMeshError("policy.conflict") { _ = try a.applyPolicy(Self.mesh, ifMatch: 1, actor: "operator") }
        #expect(a.policy.version == 2, "the stored version 2 is not ours although it is the version we tried")
        _ = try a.applyPolicy(Self.mesh, ifMatch: 2, actor: "operator")
        #expect(try EtcdPolicyRepository(store: etcd.store(p)).load().version == 3)
    }
}
