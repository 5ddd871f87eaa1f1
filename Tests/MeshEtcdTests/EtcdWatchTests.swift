import Foundation
import MeshCore
import MeshEtcd
import MeshHTTP
import MeshNet
import MeshTestSupport
import Synchronization
import Testing

/// What a watch delivered, for assertions from the test's thread.
final class WatchLog: Sendable {
    let events = Mutex<[EtcdEvent]>([])
    let errors = Mutex<[MeshError]>([])

    func onEvents(_ e: [EtcdEvent]) { events.withLock { $0 += e } }
    func onError(_ e: MeshError) { errors.withLock { $0.append(e) } }
    var count: Int { events.withLock { $0.count } }

    /// Waits (bounded) until `done` holds for the events seen.
    func wait(seconds: Double, until done: ([EtcdEvent]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if events.withLock({ done($0) }) { return true }
            usleep(20_000)
        }
        return events.withLock { done($0) }
    }
}

extension EtcdKV {
    func watch(_ prefix: String, from: Int64, into log: WatchLog) -> EtcdWatch {
        watch(prefix: b(prefix), fromRevision: from, onEvents: { log.onEvents($0) }, onError: { log.onError($0) })
    }
}

@Suite(.serialized) struct EtcdWatchTests {
    @Test func watchFromARevisionSeesAnotherClientsPutsAndDeletesInOrder() throws {
        let cluster = try EtcdCluster(members: 1)
        defer { cluster.stop() }
        let writer = try EtcdClient(cluster.clientSettings())
        let reader = try EtcdClient(cluster.clientSettings())
        try writer.put(b("/w/early"), b("0"))  // before the watch's revision: not delivered
        let from = try reader.range(prefix: b("/w/"), after: nil, limit: 0).revision
        try writer.put(b("/w/a"), b("1"))
        try writer.put(b("/other"), b("not watched"))
        let log = WatchLog()
        let w = reader.watch("/w/", from: from, into: log)
        defer { w.cancel() }
        try writer.put(b("/w/b"), b("2"))
        try writer.put(b("/w/a"), b("3"))
        _ = try writer.txn([], success: [.delete(b("/w/b"))], failure: [])
        #expect(log.wait(seconds: 5) { $0.count >= 4 })
        let seen = log.events.withLock { $0 }
        #expect(seen.map(\.kind) == [.put, .put, .put, .delete])
        #expect(seen.map { String(decoding: $0.kv.key, as: UTF8.self) } == ["/w/a", "/w/b", "/w/a", "/w/b"])
        #expect(seen.map { String(decoding: $0.kv.value, as: UTF8.self) } == ["1", "2", "3", ""])
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.kv.modRevision < $1.kv.modRevision })
        #expect(seen[2].kv.version == 2)
        #expect(log.errors.withLock { $0.isEmpty })
        // After cancel, nothing more is delivered.
        w.cancel()
        try writer.put(b("/w/late"), b("x"))
        usleep(300_000)
        #expect(log.count == 4)
    }

    @Test func aCompactedRevisionEndsTheWatchWithStoreCompacted() throws {
        let cluster = try EtcdCluster(members: 1)
        defer { cluster.stop() }
        let c = try EtcdClient(cluster.clientSettings())
        for i in 0..<5 { try c.put(b("/c/\(i)"), b("\(i)")) }
        let now = try c.range(prefix: b("/c/"), after: nil, limit: 0).revision
        let http = HTTPClient(address: try SocketAddress(HostPort(host: "127.0.0.1", port: cluster.clientPorts[0])), timeoutMs: 2_000)
        let r = try http.send(method: "POST", path: "/v3/kv/compaction", body: Array("{\"revision\":\"\(now)\",\"physical\":true}".utf8))
        #expect(r.status == 200, "\(r.text)")
        let log = WatchLog()
        let w = c.watch("/c/", from: 1, into: log)
        defer { w.cancel() }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && log.errors.withLock({ $0.isEmpty }) { usleep(20_000) }
        let errors = log.errors.withLock { $0 }
        #expect(errors.map(\.code) == ["store.compacted"])
        #expect(log.count == 0)
    }

    @Test func aWatchSurvivesTheKillOfItsMemberWithoutLosingAnEvent() throws {
        let cluster = try EtcdCluster(members: 3)
        defer { cluster.stop() }
        let writer = try EtcdClient(cluster.clientSettings())
        let reader = try EtcdClient(cluster.clientSettings())  // streams from endpoint 0 first
        let from = try writer.range(prefix: b("/s/"), after: nil, limit: 0).revision
        let log = WatchLog()
        let w = reader.watch("/s/", from: from, into: log)
        defer { w.cancel() }
        let total = 60
        for i in 0..<total {
            if i == 20 { cluster.kill(0) }
            // A write in flight when the leader dies may fail (maybe applied): re-read, then retry.
            var ok = false
            for _ in 0..<40 where !ok {
                if (try? writer.get(b("/s/\(i)")))?.value == b("v\(i)") { ok = true; break }
                ok = (try? writer.put(b("/s/\(i)"), b("v\(i)"))) != nil
                if !ok { usleep(100_000) }
            }
            #expect(ok, "write \(i)")
        }
        let final = try writer.range(prefix: b("/s/"), after: nil, limit: 0)
        #expect(final.kvs.count == total)
        let lastRevision = final.kvs.map(\.modRevision).max()!
        #expect(log.wait(seconds: 8) { $0.last?.kv.modRevision == lastRevision })
        let seen = log.events.withLock { $0 }
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.kv.modRevision < $1.kv.modRevision })
        #expect(Set(seen.map { String(decoding: $0.kv.key, as: UTF8.self) }) == Set((0..<total).map { "/s/\($0)" }))
        // Every key's last event is its stored state (nothing lost, nothing out of order).
        for kv in final.kvs {
            #expect(seen.last { $0.kv.key == kv.key }?.kv == kv)
        }
    }

    @Test func aWatchLeavesASilentMemberWithinSeconds() throws {
        let cluster = try EtcdCluster(members: 3)
        defer { cluster.stop() }
        let writer = try EtcdClient(cluster.clientSettings())
        // The watch prefers endpoint 0; the writer talks to the others only.
        var ws = cluster.clientSettings()
        ws.endpoints = Array(cluster.endpoints.dropFirst())
        let others = try EtcdClient(ws)
        let from = try writer.range(prefix: b("/q/"), after: nil, limit: 0).revision
        let log = WatchLog()
        let w = writer.watch("/q/", from: from, into: log)
        defer { w.cancel() }
        try others.put(b("/q/0"), b("before"))
        #expect(log.wait(seconds: 5) { $0.count == 1 })
        cluster.pause(0)
        let pausedAt = Date()
        // The two others keep quorum; writes go on while the watch notices the silence and moves.
        var wrote = false
        for _ in 0..<30 where !wrote {
            wrote = (try? others.put(b("/q/1"), b("after"))) != nil
            if !wrote { usleep(100_000) }
        }
        #expect(wrote)
        let paused = Date()  // after the write: the time the watch needs to move
        #expect(log.wait(seconds: 8) { $0.contains { $0.kv.value == b("after") } })
        print("etcd-client watch: member paused (SIGSTOP) → event delivered via another member \(Int(Date().timeIntervalSince(paused) * 1000)) ms after the write, \(Int(Date().timeIntervalSince(pausedAt) * 1000)) ms after the pause")
        #expect(Date().timeIntervalSince(paused) < 6)
        cluster.resume(0)
    }
}
