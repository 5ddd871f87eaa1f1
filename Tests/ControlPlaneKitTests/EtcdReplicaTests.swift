@testable import ControlPlaneKit
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
        for round in 0..<3 {
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
        #expect(try b.audit.records().compactMap { $0["action"]?.stringValue }.filter { $0 == "token.create" }.count == 16)
    }

    @Test func leadershipMovesWhenTheLeadersLeaseIsRevokedOrExpires() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let p = try etcd.initialized(now: wholeSecondsNow())
        let a = try etcd.replica(p, id: "a"), b = try etcd.replica(p, id: "b")
        defer { a.stopReplica(); b.stopReplica() }
        #expect(eventually(within: 3) { a.isLeader != b.isLeader })
        let (leader, other) = a.isLeader ? (a, b) : (b, a)
        #expect(try Set(a.replicas().map(\.id)) == ["a", "b"])
        #expect(try a.replicas().filter(\.leader).map(\.id) == [leader.replicaID!])
        #expect(leader.storeHealth().isLeader && leader.storeHealth().members.allSatisfy(\.healthy))
        // Revoked (as an operator would with etcdctl lease revoke): the other takes over within a round or two.
        try etcd.client().revokeLease(try #require(leader.replication.leadership).lease)
        #expect(eventually(within: 3) { other.isLeader && !leader.isLeader })
        // Expired: the new leader stops renewing (a crash); its lease runs out after the TTL (2 s).
        let stalled = try #require(other.replication.leadership)
        stalled.abandon()
        #expect(eventually(within: 5) { leader.isLeader })
        #expect(!other.isLeader, "a replica that cannot renew stops believing it leads")
        #expect(try other.tick() == false, "only the leader moves rotations")
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
        var applied = false
        #expect(eventually(within: 15) {
            applied = applied || outcome { _ = try a.applyPolicy(Self.mesh, ifMatch: a.policy.version, actor: "operator") } == "ok"
            return applied
        })
        #expect(a.policy.version >= 2)
        #expect(try a.audit.verify() >= audited + 1)
    }
}
