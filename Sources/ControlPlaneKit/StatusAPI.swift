import MeshAPI
import MeshCore
import MeshHTTP

/// The replication half of the API (operator): what `meshctl status` shows above its sidecar table.
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `GET /v1/status` | operator | `StatusAnswer`: this replica (id, API address, mesh version and epoch it serves, leader, uptime), the store (`file` or `etcd`, healthy, each etcd member), every replica the store knows |
///
/// Answered on the blocking worker: asking etcd for its members' health may wait for their timeouts.
enum StatusAPI {
    static func routes(_ r: APIRoutes) -> [APIRoutes.Route] {
        let cp = r.cp
        return [r.adminBlocking("GET", "/v1/status") { _ in .json(try answer(cp).json) }]
    }

    /// The status as this replica sees it now.
    static func answer(_ cp: ControlPlane) throws -> StatusAnswer {
        let slot = cp.replicaStatus
        let source = slot.source
        let (address, started) = slot.serving
        let now = cp.now()
        let id = source.replicaID ?? address
        let leader = source.isLeader
        let policy = cp.policy
        let me = ReplicaSelf(id: id, address: address, meshVersion: policy.version, epoch: cp.distribution.epoch,
                             leader: leader, uptimeSeconds: max(0, Int(now - (started ?? now))))
        var store = source.storeHealth()
        var replicas: [ReplicaEntry] = []
        do { replicas = try source.replicas() } catch {
            // Without quorum the registry cannot be read; the operator still gets this replica and the store.
            store.healthy = false
            store.error = [store.error, "replica registry unreadable: \(error)"].compactMap { $0 }.joined(separator: "; ")
        }
        if replicas.isEmpty {
            replicas = [ReplicaEntry(id: id, address: address, version: ReplicaStatusSlot.version,
                                     started: Int(started ?? now), leader: leader)]
        }
        return StatusAnswer(replica: me, store: store, replicas: replicas.sorted { $0.id < $1.id })
    }
}
