@testable import ControlPlaneKit
import MeshAPI
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS
import MeshTestSupport
import Testing

/// `GET /v1/status`: what an operator sees of replication — the answering replica, the store, the replicas.
@Suite struct StatusAPITests {
    /// A store that keeps a registry and has members (what the etcd store's source reports).
    struct ClusterSource: ReplicaStatusSource {
        var replicaID: String? { "cp-b" }
        var isLeader: Bool { false }
        func replicas() throws -> [ReplicaEntry] {
            [ReplicaEntry(id: "cp-b", address: "10.0.0.2:8443", version: "issue-11", started: 200, leader: false),
             ReplicaEntry(id: "cp-a", address: "10.0.0.1:8443", version: "issue-11", started: 100, leader: true)]
        }
        func storeHealth() -> StoreStatus {
            StoreStatus(kind: "etcd", healthy: true, error: nil, members: [
                StoreMember(endpoint: "https://10.0.0.1:2379", healthy: true, leader: true, error: nil),
                StoreMember(endpoint: "https://10.0.0.3:2379", healthy: false, leader: false, error: "connection refused"),
            ])
        }
    }

    func controlPlane(_ dir: TempDir, _ clock: TestClock) throws -> (ControlPlane, String) {
        let secret = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase,
                                                 now: clock.wallSeconds(), imported: nil)
        return (try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: ControlSettings(), clock: clock), secret)
    }

    @Test func theFileStoreIsOneHealthyLeadingReplica() throws {
        let dir = try TempDir()
        let clock = TestClock(wholeSecondsNow())
        let (cp, _) = try controlPlane(dir, clock)
        cp.replicaStatus.serving(at: "127.0.0.1:8443", now: clock.wallSeconds())
        clock.advance(42)
        let s = try StatusAPI.answer(cp)
        #expect(s.replica == ReplicaSelf(id: "127.0.0.1:8443", address: "127.0.0.1:8443", meshVersion: cp.policy.version,
                                         epoch: cp.distribution.epoch, leader: true, uptimeSeconds: 42))
        #expect(!s.replica.epoch.isEmpty)
        #expect(s.store == StoreStatus(kind: "file", healthy: true, error: nil, members: []))
        #expect(s.replicas == [ReplicaEntry(id: "127.0.0.1:8443", address: "127.0.0.1:8443", version: ReplicaStatusSlot.version,
                                            started: Int(clock.wallSeconds()) - 42, leader: true)])
    }

    @Test func aClusteredSourceListsItsReplicasAndMembers() throws {
        let dir = try TempDir()
        let clock = TestClock(wholeSecondsNow())
        let (cp, _) = try controlPlane(dir, clock)
        cp.replicaStatus.use(ClusterSource())
        cp.replicaStatus.serving(at: "10.0.0.2:8443", now: clock.wallSeconds())
        let s = try StatusAPI.answer(cp)
        #expect(s.replica.id == "cp-b" && !s.replica.leader && s.replica.uptimeSeconds == 0)
        #expect(s.replicas.map(\.id) == ["cp-a", "cp-b"], "sorted by id")
        #expect(s.store.members.count == 2 && s.store.members[1].error == "connection refused")
        // What goes on the wire reads back equal, and strictly.
        #expect(try StatusAnswer(bytes: s.bytes) == s)
        expectMeshError("api.unknown-field", reasonPrefix: "role: unknown field") {
            _ = try StatusAnswer(bytes: Array(s.json.text.replacingOccurrences(of: #""leader":false,"uptimeSeconds""#,
                                                                                with: #""leader":false,"role":1,"uptimeSeconds""#).utf8))
        }
    }

    /// Over HTTPS on a real server: operator only; the API address is the bound one.
    @Test func servedToTheOperatorOnly() throws {
        let dir = try TempDir()
        let clock = TestClock(wholeSecondsNow())
        let (cp, secret) = try controlPlane(dir, clock)
        let server = try ControlServer(controlPlane: cp)
        try server.start(address: SocketAddress(HostPort(host: "127.0.0.1", port: 0)))
        defer { server.stop() }
        let address = server.boundAddress!
        let tls = try TLSContext.client(trusting: cp.ca.bundle, trustDomain: trustDomain())
        let expect = try SPIFFEID.service(trustDomain: trustDomain(), namespace: "mesh-system", name: "mesh-control")
        let client = HTTPClient(address: address, tls: tls, expectServer: expect)
        let anonymous = try client.send(method: "GET", path: "/v1/status")
        #expect(anonymous.status == 401 && anonymous.text.contains("auth.required"), "\(anonymous.text)")
        var h = HTTPHeaders()
        h.add("Authorization", "Bearer \(secret)")
        let r = try client.send(method: "GET", path: "/v1/status", headers: h)
        #expect(r.status == 200, "\(r.text)")
        let s = try StatusAnswer(bytes: r.body)
        #expect(s.replica.address == "\(address)" && s.replica.id == "\(address)" && s.replica.leader)
        #expect(s.store.kind == "file" && s.store.healthy && s.replicas.count == 1)
    }
}
