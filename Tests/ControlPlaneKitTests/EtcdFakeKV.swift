import Foundation
import MeshCore
import MeshEtcd
import Synchronization

/// TEMPORARY dev aid until EtcdClient lands: an in-memory EtcdKV with etcd's txn/revision semantics.
final class FakeEtcd: Sendable {
    struct State { var rev: Int64 = 1; var kvs: [[UInt8]: EtcdKeyValue] = [:]; var leases: [Int64: Bool] = [:]; var nextLease: Int64 = 100
        var history: [EtcdEvent] = []; var watchers: [(id: Int, prefix: [UInt8], call: @Sendable ([EtcdEvent]) -> Void)] = []; var nextWatch = 0 }
    let state = Mutex(State())
    let deliver = Mutex<Void>(())
}

final class FakeKV: EtcdKV {
    let e: FakeEtcd
    init(_ e: FakeEtcd) { self.e = e }
    func get(_ key: [UInt8]) throws -> EtcdKeyValue? { e.state.withLock { $0.kvs[key] } }
    func range(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> (kvs: [EtcdKeyValue], revision: Int64, more: Bool) {
        e.state.withLock { s in
            let all = s.kvs.values.filter { $0.key.starts(with: prefix) && (after == nil || $0.key.lexicographicallyPrecedes(after!) == false && $0.key != after!) }
                .sorted { $0.key.lexicographicallyPrecedes($1.key) }
            let out = limit > 0 ? Array(all.prefix(limit)) : all
            return (out, s.rev, out.count < all.count)
        }
    }
    func txn(_ compares: [EtcdCompare], success: [EtcdOp], failure: [EtcdOp]) throws -> EtcdTxnResult {
        var events: [EtcdEvent] = []
        let r = e.state.withLock { s -> EtcdTxnResult in
            let ok = compares.allSatisfy { c in
                switch c {
                case .modRevision(let k, let v): return (s.kvs[k]?.modRevision ?? 0) == v
                case .createRevision(let k, let v): return (s.kvs[k]?.createRevision ?? 0) == v
                case .version(let k, let v): return (s.kvs[k]?.version ?? 0) == v
                case .value(let k, let v): return s.kvs[k]?.value == v
                }
            }
            let ops = ok ? success : failure
            let writes = ops.contains { if case .get = $0 { return false }; return true }
            let newRev = writes ? s.rev + 1 : s.rev
            var gets: [EtcdKeyValue?] = []
            for op in ops {
                switch op {
                case .get(let k): gets.append(s.kvs[k])
                case .put(let k, let v, let lease):
                    let old = s.kvs[k]
                    let kv = EtcdKeyValue(key: k, value: v, createRevision: old?.createRevision ?? newRev, modRevision: newRev, version: (old?.version ?? 0) + 1, lease: lease)
                    s.kvs[k] = kv; events.append(.init(kind: .put, kv: kv))
                case .delete(let k):
                    if s.kvs.removeValue(forKey: k) != nil { events.append(.init(kind: .delete, kv: .init(key: k, value: [], createRevision: 0, modRevision: newRev, version: 0))) }
                case .deletePrefix(let p):
                    for k in s.kvs.keys where k.starts(with: p) { s.kvs[k] = nil; events.append(.init(kind: .delete, kv: .init(key: k, value: [], createRevision: 0, modRevision: newRev, version: 0))) }
                }
            }
            s.rev = newRev
            s.history += events
            return EtcdTxnResult(succeeded: ok, revision: newRev, gets: gets)
        }
        if !events.isEmpty { notify(events) }
        return r
    }
    private func notify(_ events: [EtcdEvent]) {
        let ws = e.state.withLock { $0.watchers }
        DispatchQueue.global().async { [e] in
            e.deliver.withLock { _ in for w in ws { let mine = events.filter { $0.kv.key.starts(with: w.prefix) }; if !mine.isEmpty { w.call(mine) } } }
        }
    }
    func grantLease(ttlSeconds: Int) throws -> Int64 { e.state.withLock { s in s.nextLease += 1; s.leases[s.nextLease] = true; return s.nextLease } }
    func keepAlive(lease: Int64) throws -> Int64 { e.state.withLock { $0.leases[lease] == true ? 5 : -1 } }
    func revokeLease(_ lease: Int64) throws {
        var events: [EtcdEvent] = []
        e.state.withLock { s in
            s.leases[lease] = nil
            s.rev += 1
            for (k, v) in s.kvs where v.lease == lease { s.kvs[k] = nil; events.append(.init(kind: .delete, kv: .init(key: k, value: [], createRevision: 0, modRevision: s.rev, version: 0))) }
        }
        if !events.isEmpty { notify(events) }
    }
    struct W: EtcdWatch { let e: FakeEtcd; let id: Int; func cancel() { e.state.withLock { $0.watchers.removeAll { $0.id == id } } } }
    func watch(prefix: [UInt8], fromRevision: Int64, onEvents: @escaping @Sendable ([EtcdEvent]) -> Void, onError: @escaping @Sendable (MeshError) -> Void) -> EtcdWatch {
        let (id, past) = e.state.withLock { s -> (Int, [EtcdEvent]) in
            s.nextWatch += 1
            s.watchers.append((s.nextWatch, prefix, onEvents))
            return (s.nextWatch, s.history.filter { $0.kv.modRevision > fromRevision && $0.kv.key.starts(with: prefix) })
        }
        if !past.isEmpty { onEvents(past) }
        return W(e: e, id: id)
    }
    func status() -> [EtcdMemberStatus] { [.init(endpoint: "fake", healthy: true)] }
}
