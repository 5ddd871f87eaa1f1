import Testing
import MeshEtcd

/// The value types of the etcd seam (the client's tests, against a real cluster, live beside this file).
@Suite struct EtcdKVShapeTests {
    @Test func anAbsentKeyComparesAsRevisionZero() {
        let create = EtcdCompare.createRevision(Array("/mesh/leader".utf8), equals: 0)
        #expect(create != .createRevision(Array("/mesh/leader".utf8), equals: 1))
        #expect(EtcdTxnResult(succeeded: false, revision: 7).gets.isEmpty)
    }
}
