@testable import ControlPlaneKit
import Foundation
import MeshCore
import MeshNet
import MeshTestSupport
import Testing

/// Apply latency (`applyPolicy` in process: validate, compare-and-set, audit, swap) over etcd (3 members on
/// loopback) and over the file store; p50/p99 of 50 applies each, printed for BENCHMARKS.md.
@Suite(.serialized) struct EtcdApplyLatencyTests {
    static let applies = 50

    static func measure(_ cp: ControlPlane) throws -> (p50: Double, p99: Double) {
        var ms: [Double] = []
        let clock = SystemClock()
        for _ in 0..<applies {
            let t0 = clock.monotonicNs()
            _ = try cp.applyPolicy(EtcdReplicaTests.mesh, ifMatch: cp.policy.version, actor: "bench")
            ms.append(Double(clock.monotonicNs() - t0) / 1e6)
        }
        ms.sort()
        return (ms[ms.count / 2], ms[min(ms.count - 1, Int(Double(ms.count) * 0.99))])
    }

    @Test func applyLatencyOverEtcdAndOverTheFileStore() throws {
        let etcd = try EtcdFixture(members: 3)
        defer { etcd.stop() }
        let p = try etcd.initialized(now: wholeSecondsNow())
        let replica = try etcd.replica(p, id: "bench")
        defer { replica.stopReplica() }
        let overEtcd = try Self.measure(replica)
        let dir = try TempDir()
        _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: TrustDomain("mesh.local"), passphrase: EtcdFixture.passphrase,
                                        now: wholeSecondsNow(), imported: nil)
        let overFile = try Self.measure(try ControlPlane(dataDir: dir.path, passphrase: EtcdFixture.passphrase, settings: ControlSettings()))
        print("apply-latency etcd-3-members p50=\(String(format: "%.2f", overEtcd.p50))ms p99=\(String(format: "%.2f", overEtcd.p99))ms; "
              + "file p50=\(String(format: "%.2f", overFile.p50))ms p99=\(String(format: "%.2f", overFile.p99))ms (\(Self.applies) applies each)")
        #expect(replica.policy.version == Self.applies)
        #expect(try replica.audit.verify() == Self.applies + 1)
        #expect(overEtcd.p99 < 2_000, "an apply over a healthy local cluster takes well under the client's timeouts")
    }
}
