import MeshAPI
import MeshCore
import MeshEtcd

/// The etcd store's answer to `GET /v1/status`: the replicas registered under `replicas/`, each member's health
/// (the leader is the member whose own id is the raft leader it reports), and this replica's leadership.
/// Holds the replication slot, not the control plane (the control plane holds this source).
struct EtcdReplicaStatus: ReplicaStatusSource {
    let replication: ReplicationSlot

    var replicaID: String? { replication.leadership?.id }
    var isLeader: Bool { replication.leadership?.isLeader ?? true }

    func replicas() throws -> [ReplicaEntry] {
        try (replication.leadership?.replicas() ?? []).map {
            ReplicaEntry(id: $0.id, address: $0.address, version: $0.version, started: Int($0.started), leader: $0.leader)
        }
    }

    /// Healthy when a majority of members answer (writes can commit) and the watch runs.
    func storeHealth() -> StoreStatus {
        guard let store = replication.store else { return FileStoreReplicaStatus().storeHealth() }
        let members = store.kv.status()
        let up = members.filter(\.healthy).count
        let quorum = up * 2 > members.count
        let watchError = store.watchError.withLock { $0 }
        let error = !quorum ? "\(up) of \(members.count) members healthy: no quorum, writes are refused"
                            : watchError.map { "watch: \($0)" }
        return StoreStatus(kind: "etcd", healthy: quorum && watchError == nil, error: error, members: members.map { m in
            StoreMember(endpoint: m.endpoint, healthy: m.healthy, leader: m.member != nil && m.member == m.leader, error: m.error)
        })
    }
}
