@testable import ControlPlaneKit
import MeshCore
import MeshEtcd
import MeshTestSupport
import Synchronization
import Testing

/// etcd applied a write but its answer never came back (a timeout after sending): the replica must not answer
/// "unavailable" for a change that is in force (it would then be in force without its audit record).
@Suite struct EtcdLostAnswerTests {
    /// A real client whose next write's answer is lost after etcd applied it.
    final class LosingAnswers: EtcdKV, @unchecked Sendable {
        let real: EtcdClient
        let loseNext = Atomic<Bool>(false)
        init(_ real: EtcdClient) { self.real = real }
        func get(_ key: [UInt8]) throws -> EtcdKeyValue? { try real.get(key) }
        func range(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> (kvs: [EtcdKeyValue], revision: Int64, more: Bool) {
            try real.range(prefix: prefix, after: after, limit: limit)
        }
        func txn(_ compares: [EtcdCompare], success: [EtcdOp], failure: [EtcdOp]) throws -> EtcdTxnResult {
            let r = try real.txn(compares, success: success, failure: failure)
            if loseNext.compareExchange(expected: true, desired: false, ordering: .relaxed).exchanged {
                throw MeshError(.storeUnavailable, "test: the answer was lost; the write may or may not have been applied")
            }
            return r
        }
        func grantLease(ttlSeconds: Int) throws -> Int64 { try real.grantLease(ttlSeconds: ttlSeconds) }
        func keepAlive(lease: Int64) throws -> Int64 { try real.keepAlive(lease: lease) }
        func revokeLease(_ lease: Int64) throws { try real.revokeLease(lease) }
        func watch(prefix: [UInt8], fromRevision: Int64, onEvents: @escaping @Sendable ([EtcdEvent]) -> Void,
                   onError: @escaping @Sendable (MeshError) -> Void) -> EtcdWatch {
            real.watch(prefix: prefix, fromRevision: fromRevision, onEvents: onEvents, onError: onError)
        }
        func status() -> [EtcdMemberStatus] { real.status() }
    }

    @Test func aPolicyWriteWhoseAnswerWasLostIsRecognisedAsLanded() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let kv = LosingAnswers(try etcd.client())
        let repo = try EtcdPolicyRepository(store: EtcdStore(kv: kv, prefix: etcd.freshPrefix()))
        let one = StoredPolicy(version: 1, files: [PolicyFile(name: "mesh.json", content: "{\"v\":1}")])
        kv.loseNext.store(true, ordering: .relaxed)
        try repo.compareAndSet(expected: 0, one)  // landed: a success, not store.unavailable
        #expect(try repo.load() == one)
        kv.loseNext.store(true, ordering: .relaxed)
        let two = StoredPolicy(version: 2, files: [PolicyFile(name: "mesh.json", content: "{\"v\":2}")])
        try repo.compareAndSet(expected: 1, two)
        #expect(try repo.load() == two)
        #expect(kv.loseNext.load(ordering: .relaxed) == false, "both answers were lost on the way")
    }
}
