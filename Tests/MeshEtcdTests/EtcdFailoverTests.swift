import Foundation
import MeshCore
import MeshEtcd
import MeshTestSupport
import Testing

/// Three real members: the client goes on through the others when one dies, and fails fast (store.unavailable)
/// when quorum is lost.
@Suite(.serialized) struct EtcdFailoverTests {
    @Test func oneMemberKilledReadsAndWritesGoOn() throws {
        let cluster = try EtcdCluster(members: 3)
        defer { cluster.stop() }
        // The client prefers its first endpoint: make that a follower, kill it with its kept connection open.
        let probe = try EtcdClient(cluster.clientSettings()).status()
        let victim = try #require(probe.firstIndex { $0.member != nil && $0.member != $0.leader })
        var s = cluster.clientSettings()
        s.endpoints = [cluster.endpoints[victim]] + cluster.endpoints.indices.filter { $0 != victim }.map { cluster.endpoints[$0] }
        let c = try EtcdClient(s)
        try c.put(b("/k"), b("before"))
        cluster.kill(victim)
        let start = Date()
        try c.put(b("/k"), b("after"))
        print("etcd-client failover: first write after its member was killed took \(Int(Date().timeIntervalSince(start) * 1000)) ms")
        #expect(try c.get(b("/k"))?.value == b("after"))
        for i in 0..<20 { try c.put(b("/n/\(i)"), b("\(i)")) }
        #expect(try c.range(prefix: b("/n/"), after: nil, limit: 0).kvs.count == 20)
        #expect(Date().timeIntervalSince(start) < 5)
        let status = c.status()
        #expect(status.map(\.healthy) == [false, true, true])
        #expect(status[1].leader != nil && status[1].leader == status[2].leader)
        try cluster.restart(victim)
        #expect(c.status().allSatisfy { $0.healthy })

        // Killing the leader: writes in flight may fail (store.unavailable, maybe applied) while the others
        // elect a new one; a caller that re-reads and retries gets through within a few seconds.
        let leaderID = try #require(c.status().first?.leader)
        let leader = try #require(c.status().firstIndex { $0.member == leaderID })
        cluster.kill(leader)
        let killed = Date()
        var done = false
        while !done && Date().timeIntervalSince(killed) < 8 {
            if (try? c.get(b("/k")))?.value == b("final") { done = true; break }
            done = (try? c.put(b("/k"), b("final"))) != nil
        }
        #expect(done)
        print("etcd-client failover: leader killed → a retried write got through after \(Int(Date().timeIntervalSince(killed) * 1000)) ms")
        #expect(Date().timeIntervalSince(killed) < 6)
        #expect(try c.get(b("/k"))?.value == b("final"))
    }

    @Test func twoOfThreeKilledAWriteFailsFastThenSucceedsAfterARestart() throws {
        let cluster = try EtcdCluster(members: 3)
        defer { cluster.stop() }
        let c = try EtcdClient(cluster.clientSettings())
        try c.put(b("/k"), b("1"))
        cluster.kill(0)
        cluster.kill(1)
        let start = Date()
        let error = expectMeshError("store.unavailable") { try c.put(b("/k"), b("2")) }
        let took = Date().timeIntervalSince(start)
        print("etcd-client failover: two of three killed → write failed after \(Int(took * 1000)) ms")
        #expect(took < 5, "took \(took) s")
        #expect(error?.reason.contains("may or may not have been applied") == true, "\(String(describing: error))")
        // A read fails too (no quorum for a linearizable read), within its retry budget.
        let readStart = Date()
        expectMeshError("store.unavailable") { _ = try c.get(b("/k")) }
        print("etcd-client failover: two of three killed → read failed after \(Int(Date().timeIntervalSince(readStart) * 1000)) ms")
        #expect(Date().timeIntervalSince(readStart) < 7)
        try cluster.restart(1)
        // The restarted member may still be catching up: a few tries, bounded.
        var written = false
        for _ in 0..<20 where !written {
            written = (try? c.put(b("/k"), b("3"))) != nil
            if !written { usleep(200_000) }
        }
        #expect(written)
        #expect(try c.get(b("/k"))?.value == b("3"))
    }
}

/// A TLS cluster with --client-cert-auth.
@Suite(.serialized) struct EtcdTLSTests {
    @Test func withAClientCertificateItWorksWithoutOneItIsRefused() throws {
        let cluster = try EtcdCluster(members: 1, tls: true)
        defer { cluster.stop() }
        #expect(cluster.endpoints[0].hasPrefix("https://127.0.0.1:"))
        let c = try EtcdClient(cluster.clientSettings())
        try c.put(b("/tls"), b("yes"))
        #expect(try c.get(b("/tls"))?.value == b("yes"))

        var s = cluster.clientSettings(clientCertificate: false)
        s.readRetryBudgetMs = 300
        let anonymous = try EtcdClient(s)
        let error = expectMeshError("store.unavailable") { _ = try anonymous.get(b("/tls")) }
        #expect(error?.reason.contains("client certificate") == true, "\(String(describing: error))")

        // A server checked against another CA is refused during the handshake.
        let other = try TempDir()
        try other.write("ca.pem", try TestCA().certificate.pem())
        var wrong = cluster.clientSettings()
        wrong.caFile = other.file("ca.pem")
        wrong.readRetryBudgetMs = 300
        let misled = try EtcdClient(wrong)
        let refused = expectMeshError("store.unavailable") { _ = try misled.get(b("/tls")) }
        #expect(refused?.reason.contains("TLS") == true, "\(String(describing: refused))")
    }
}
