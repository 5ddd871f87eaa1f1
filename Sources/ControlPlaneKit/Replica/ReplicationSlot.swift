import Synchronization
import MeshCore
import MeshEtcd

/// What a control plane over etcd holds besides its repositories: the store (its watch) and the leadership.
/// Empty for the file store (one process: always the leader). Stopping it ends the watch and revokes the lease.
final class ReplicationSlot: Sendable {
    private let parts = Mutex<(store: EtcdStore?, leadership: ReplicaLeadership?)>((nil, nil))

    init() {}

    func attach(store: EtcdStore, leadership: ReplicaLeadership?) { parts.withLock { $0 = (store, leadership) } }

    var store: EtcdStore? { parts.withLock { $0.store } }
    var leadership: ReplicaLeadership? { parts.withLock { $0.leadership } }

    func stop() {
        let (store, leadership) = parts.withLock { $0 }
        leadership?.stop()
        store?.stop()
    }

    deinit { parts.withLock { $0.leadership?.stop(); $0.store?.stop() } }
}

/// The store as a replica sees it, for the status API: each etcd member, the watch, who leads.
public struct StoreHealth: Sendable, Equatable {
    /// `file` or `etcd`.
    public let kind: String
    public let members: [EtcdMemberStatus]
    /// The watch's last error (nil: healthy or not an etcd store).
    public let watchError: String?
    public let leader: String?
    public let isLeader: Bool

    public var json: JSONValue {
        .object([
            ("store", .string(kind)), ("isLeader", .bool(isLeader)), ("leader", .optional(leader)), ("watchError", .optional(watchError)),
            ("members", .array(members.map { m in
                .object([("endpoint", .string(m.endpoint)), ("healthy", .bool(m.healthy)), ("leader", .optional(m.leader)),
                         ("error", .optional(m.error))])
            })),
        ])
    }
}
