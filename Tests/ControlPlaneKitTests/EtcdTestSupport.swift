@testable import ControlPlaneKit
import Foundation
import MeshCore
import MeshEtcd
import MeshNet
import MeshTestSupport
import Synchronization
import Testing

/// A real etcd cluster on loopback for one test (`EtcdCluster`), with fresh key prefixes so that one test can
/// run several independent stores on it. `stop` ends every member (call it in a `defer`).
final class EtcdFixture: @unchecked Sendable {
    let cluster: EtcdCluster
    static let passphrase = Array("etcd-store test passphrase".utf8)

    init(members: Int = 1) throws { cluster = try EtcdCluster(members: members) }

    func stop() { cluster.stop() }

    /// A new client of every member (a replica has its own).
    func client() throws -> EtcdClient {
        var s = cluster.clientSettings()
        s.requestTimeoutMs = 1_000
        s.readRetryBudgetMs = 2_000
        return try EtcdClient(s)
    }

    func freshPrefix() -> String { "/test-\(Random.hex(6)!)/" }

    func store(_ prefix: String) throws -> EtcdStore { EtcdStore(kv: try client(), prefix: prefix) }

    /// A prefix holding an initialised control plane (CA, admin hash, epoch, first audit record).
    func initialized(now: Double) throws -> String {
        let prefix = freshPrefix()
        _ = try EtcdStoreSetup.initialize(store: try store(prefix), trustDomain: try TrustDomain("mesh.local"),
                                          passphrase: Self.passphrase, now: now, imported: nil)
        return prefix
    }

    /// A replica over `prefix` with its own client; leadership with a short lease so tests see it move quickly.
    func replica(_ prefix: String, id: String, clock: any Clock = SystemClock()) throws -> ControlPlane {
        try ControlPlane(etcd: try client(), prefix: prefix, passphrase: Self.passphrase, settings: ControlSettings(),
                         replicaID: id, address: "127.0.0.1:0", leadership: .init(ttlSeconds: 2, renewSeconds: 0.2), clock: clock)
    }
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; true when it held.
func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// The outcome of a throwing call as a short string: "ok" or the error code.
func outcome(_ body: () throws -> Void) -> String {
    do { try body(); return "ok" } catch let e as MeshError { return e.code } catch { return "\(error)" }
}
