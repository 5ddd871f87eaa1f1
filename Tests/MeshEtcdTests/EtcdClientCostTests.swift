import Foundation
import MeshCore
import MeshEtcd
import MeshTestSupport
import Synchronization
import Testing

/// Rough costs of the client against real members on this machine (printed for BENCHMARKS.md; the bounds only
/// catch a client that is broken, e.g. re-connecting per call or serialising on a lock too long).
@Suite(.serialized) struct EtcdClientCostTests {
    @Test(arguments: [1, 3]) func sequentialAndConcurrentCalls(members: Int) throws {
        let cluster = try EtcdCluster(members: members)
        defer { cluster.stop() }
        let c = try EtcdClient(cluster.clientSettings())
        let n = 200
        var t = Date()
        for i in 0..<n { try c.put(b("/cost/\(i)"), Array(repeating: 0x61, count: 200)) }
        let putMs = Date().timeIntervalSince(t) * 1000 / Double(n)
        t = Date()
        for i in 0..<n { _ = try c.get(b("/cost/\(i)")) }
        let getMs = Date().timeIntervalSince(t) * 1000 / Double(n)
        t = Date()
        let page = try c.range(prefix: b("/cost/"), after: nil, limit: 0)
        let rangeMs = Date().timeIntervalSince(t) * 1000
        #expect(page.kvs.count == n)
        // Four threads of CAS writes on their own keys: they share the member's one connection.
        let failures = Atomic<Int>(0)
        t = Date()
        DispatchQueue.concurrentPerform(iterations: 4) { k in
            for i in 0..<50 {
                let r = try? c.txn([.createRevision(b("/cc/\(k)/\(i)"), equals: 0)],
                                   success: [.put(b("/cc/\(k)/\(i)"), b("x"), lease: 0)], failure: [])
                if r?.succeeded != true { failures.add(1, ordering: .relaxed) }
            }
        }
        let concurrentPerS = 200 / Date().timeIntervalSince(t)
        #expect(failures.load(ordering: .relaxed) == 0)
        print("etcd-client cost, \(members) member(s): put \(String(format: "%.2f", putMs)) ms, get \(String(format: "%.2f", getMs)) ms, range of \(n) \(String(format: "%.1f", rangeMs)) ms, 4-thread CAS \(Int(concurrentPerS))/s")
        #expect(putMs < 100 && getMs < 50)
    }
}
