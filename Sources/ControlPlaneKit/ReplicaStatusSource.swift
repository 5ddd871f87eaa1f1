import Synchronization
import MeshAPI
import MeshCore

/// Where `GET /v1/status` learns about replication: which replicas the store knows, how healthy the store is,
/// and whether this replica leads (runs the timed work). The file store has one implementation
/// (`FileStoreReplicaStatus`); the etcd store another (its registry under `replicas/`, its members' health).
public protocol ReplicaStatusSource: Sendable {
    /// This replica's id in the store (nil: it has none, e.g. the file store; the API address stands in).
    var replicaID: String? { get }
    /// Whether this replica runs the work that must run once (CA rotation phases, expiry, alerts).
    var isLeader: Bool { get }
    /// Every replica registered in the store. Empty when the store keeps no registry (the file store: one
    /// process), and the status then lists just the answering replica.
    func replicas() throws -> [ReplicaEntry]
    /// The store's health as this replica sees it (cheap enough for an operator's call: bounded by the
    /// store's own timeouts).
    func storeHealth() -> StoreStatus
}

/// The embedded file store: one process, always the leader, healthy while it runs (a failed write fails
/// only its own request), no registry.
public struct FileStoreReplicaStatus: ReplicaStatusSource {
    public init() {}
    public var replicaID: String? { nil }
    public var isLeader: Bool { true }
    public func replicas() throws -> [ReplicaEntry] { [] }
    public func storeHealth() -> StoreStatus { StoreStatus(kind: "file", healthy: true, error: nil, members: []) }
}

/// The control plane's status source and what only the serving process knows (its API address, when it began
/// serving). Set the source before serving (`mesh-control serve --store etcd` sets the etcd one).
public final class ReplicaStatusSlot: Sendable {
    /// The software version a replica reports (the issue that introduced replication).
    public static let version = "issue-11"
    private let state = Mutex<(source: any ReplicaStatusSource, address: String, started: Double?)>(
        (FileStoreReplicaStatus(), "", nil))

    public init() {}

    /// The source in use.
    public var source: any ReplicaStatusSource { state.withLock { $0.source } }

    /// Replaces the source (the etcd store's, when serving over etcd).
    public func use(_ source: any ReplicaStatusSource) { state.withLock { $0.source = source } }

    /// The server bound `address` at `now` (seconds since the epoch); uptime counts from the first call.
    public func serving(at address: String, now: Double) {
        state.withLock { s in
            s.address = address
            if s.started == nil { s.started = now }
        }
    }

    /// The API address served (empty before serving) and when serving began.
    public var serving: (address: String, started: Double?) { state.withLock { ($0.address, $0.started) } }
}
