import MeshAlerts
import MeshCore
import MeshEtcd
import MeshNet

/// The control plane as one replica of several over etcd (issue 11): the store, leadership, the registry.
extension ControlPlane {
    /// A replica over etcd: repositories under `prefix` (`EtcdStore.defaultPrefix`), one watch on it, and (with
    /// `replicaID`) a lease-based leadership and a registration under `replicas/<id>`. `telemetryDir` holds this
    /// replica's own telemetry journal (not shared). Throws `ca.corrupt` when etcd holds no CA under `prefix`.
    public convenience init(etcd: any EtcdKV, prefix: String, passphrase: [UInt8], settings: ControlSettings,
                            telemetryDir: String? = nil, replicaID: String? = nil, address: String = "",
                            leadership: ReplicaLeadership.Settings = .init(), clock: any Clock = SystemClock(),
                            quarantine: QuarantineAction? = nil) throws {
        let store = EtcdStore(kv: etcd, prefix: prefix)
        guard let admin = try etcd.get(store.key("admin/token.sha256")) else {
            throw MeshError(.caCorrupt, "etcd holds no admin credential under \(store.prefix) (run mesh-control init --store etcd)")
        }
        try self.init(policy: try EtcdPolicyRepository(store: store), tokens: EtcdTokenRepository(store: store),
                      identities: try EtcdIdentityRepository(store: store),
                      ca: try EtcdCAStateRepository(store: store, passphrase: passphrase), audit: try EtcdAuditSink(store: store),
                      adminTokenHash: String(decoding: admin.value, as: UTF8.self).trimming(" \n"), settings: settings,
                      now: { clock.wallSeconds() }, telemetryDir: telemetryDir, clock: clock, quarantine: quarantine)
        store.startWatching()
        let lead = replicaID.map {
            ReplicaLeadership(store: store, id: $0, address: address, started: clock.wallSeconds(), version: Self.replicaVersion,
                              settings: leadership, clock: clock)
        }
        replication.attach(store: store, leadership: lead)
        replicaStatus.use(EtcdReplicaStatus(replication: replication))
        lead?.step()
        lead?.start()
    }

    /// The version a replica registers.
    public static let replicaVersion = "issue-11"

    /// Whether this replica runs the timed work that must run once (CA rotation phases, quarantine and
    /// throttle expiry). The file store has one process: always true.
    public var isLeader: Bool { replication.leadership?.isLeader ?? true }

    /// This replica's id (nil: no leadership, e.g. the file store).
    public var replicaID: String? { replication.leadership?.id }

    /// Every registered replica (empty for the file store).
    public func replicas() throws -> [ReplicaLeadership.Replica] {
        try replication.leadership?.replicas() ?? []
    }

    /// The store's health as this replica sees it. Asks every etcd member (blocking, bounded by the client's
    /// timeouts): call it off the event loop.
    public func storeHealth() -> StoreHealth {
        guard let store = replication.store else {
            return StoreHealth(kind: "file", members: [], watchError: nil, leader: nil, isLeader: true)
        }
        return StoreHealth(kind: "etcd", members: store.kv.status(), watchError: store.watchError.withLock { $0 },
                           leader: replication.leadership?.leader, isLeader: isLeader)
    }

    /// Stops the watch and the leadership (revoking the lease: another replica leads at once).
    public func stopReplica() { replication.stop() }
}
