import Foundation
import MeshCore
import MeshEtcd
import MeshTestSupport
import Synchronization
import Testing

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// The unary operations against one real etcd member.
@Suite(.serialized) struct EtcdClientKVTests {
    @Test func putGetAndRangeWithPaging() throws {
        let cluster = try EtcdCluster(members: 1)
        defer { cluster.stop() }
        let c = try EtcdClient(cluster.clientSettings())
        #expect(try c.get(b("/a/1")) == nil)
        for i in 0..<7 { try c.put(b("/a/\(i)"), b("v\(i)")) }
        try c.put(b("/b/0"), b("other"))
        try c.put(b("/a"), b("not under /a/"))
        let one = try #require(try c.get(b("/a/3")))
        #expect(one.value == b("v3"))
        #expect(one.version == 1)
        #expect(one.createRevision == one.modRevision)
        var seen: [String] = []
        var after: [UInt8]? = nil
        var pages = 0
        while true {
            let page = try c.range(prefix: b("/a/"), after: after, limit: 3)
            pages += 1
            seen += page.kvs.map { String(decoding: $0.value, as: UTF8.self) }
            #expect(page.revision >= 10)
            guard page.more, let last = page.kvs.last else { break }
            after = last.key
        }
        #expect(seen == (0..<7).map { "v\($0)" })
        #expect(pages == 3)
        // Bytes that are not UTF-8 survive the base64 round trip; an empty value is a value.
        try c.put([0x2f, 0x62, 0xff, 0x00], [0, 255, 128])
        #expect(try c.get([0x2f, 0x62, 0xff, 0x00])?.value == [0, 255, 128])
        try c.put(b("/empty"), [])
        #expect(try c.get(b("/empty"))?.value == [])
        #expect(try c.get(b("/empty"))?.version == 1)
    }

    @Test func compareAndSetOnModRevisionLetsOneOfTwoWin() throws {
        let cluster = try EtcdCluster(members: 1)
        defer { cluster.stop() }
        let c = try EtcdClient(cluster.clientSettings())
        try c.put(b("/cas"), b("0"))
        let seen = try #require(try c.get(b("/cas")))
        let wins = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let r = try? c.txn([.modRevision(b("/cas"), equals: seen.modRevision)],
                               success: [.put(b("/cas"), b("writer \(i)"), lease: 0)], failure: [.get(b("/cas"))])
            if r?.succeeded == true { wins.add(1, ordering: .relaxed) }
            if let r, !r.succeeded { #expect(r.gets.count == 1 && r.gets[0]?.modRevision ?? 0 > seen.modRevision) }
        }
        #expect(wins.load(ordering: .relaxed) == 1)
        #expect(try c.get(b("/cas"))?.version == 2)
    }

    @Test func createIfAbsentAndTransactionGets() throws {
        let cluster = try EtcdCluster(members: 1)
        defer { cluster.stop() }
        let c = try EtcdClient(cluster.clientSettings())
        let first = try c.txn([.createRevision(b("/leader"), equals: 0)], success: [.put(b("/leader"), b("r1"), lease: 0)],
                              failure: [.get(b("/leader"))])
        #expect(first.succeeded)
        #expect(first.gets.isEmpty)
        let second = try c.txn([.createRevision(b("/leader"), equals: 0)], success: [.put(b("/leader"), b("r2"), lease: 0)],
                               failure: [.get(b("/leader")), .get(b("/absent"))])
        #expect(!second.succeeded)
        #expect(second.revision == first.revision)
        #expect(second.gets.count == 2)
        #expect(second.gets[0]?.value == b("r1"))
        #expect(second.gets[1] == nil)
        // VALUE and VERSION compares; delete and delete-prefix.
        let v = try c.txn([.value(b("/leader"), equals: b("r1")), .version(b("/leader"), equals: 1)],
                          success: [.delete(b("/leader")), .put(b("/p/1"), b("x"), lease: 0), .put(b("/p/2"), b("y"), lease: 0)], failure: [])
        #expect(v.succeeded)
        #expect(try c.get(b("/leader")) == nil)
        _ = try c.txn([], success: [.deletePrefix(b("/p/"))], failure: [])
        #expect(try c.range(prefix: b("/p/"), after: nil, limit: 0).kvs.isEmpty)
    }

    @Test func leaseExpiryDeletesItsKeyAndKeepAliveExtendsIt() throws {
        let cluster = try EtcdCluster(members: 1)
        defer { cluster.stop() }
        let c = try EtcdClient(cluster.clientSettings())
        let kept = try c.grantLease(ttlSeconds: 2)
        let lapsing = try c.grantLease(ttlSeconds: 2)
        try c.put(b("/kept"), b("1"), lease: kept)
        try c.put(b("/lapsing"), b("1"), lease: lapsing)
        #expect(try c.get(b("/kept"))?.lease == kept)
        let start = Date()
        while Date().timeIntervalSince(start) < 4.5 {
            #expect(try c.keepAlive(lease: kept) > 0)
            usleep(500_000)
        }
        #expect(try c.get(b("/kept")) != nil)
        #expect(try c.get(b("/lapsing")) == nil)
        #expect(try c.keepAlive(lease: lapsing) <= 0)
        try c.revokeLease(kept)
        #expect(try c.get(b("/kept")) == nil)
        try c.revokeLease(kept)  // already gone: no error
        let status = c.status()
        #expect(status.count == 1 && status[0].healthy && status[0].leader != nil)
    }
}
