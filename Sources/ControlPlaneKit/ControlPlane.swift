#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshAlerts
import MeshCore
import MeshNet
import MeshTLS

/// The control plane's state and rules, independent of HTTP and of where state is kept: who gets which
/// certificate, tokens, the mesh configuration, CA rotation, and the audit record of each.
///
/// Every change is a use case of the same shape: validate → compare-and-set write (durable) → audit (if it
/// fails, the write is undone and nothing is acknowledged) → swap the in-memory snapshot → notify. The use
/// cases block (fsync, later the network): call them off an event loop. Reads (`policy`, `ca`) are snapshots.
public final class ControlPlane: Sendable {
    public let settings: ControlSettings
    /// Wall-clock seconds; read once per use case.
    public let now: @Sendable () -> Double
    let policyRepository: any PolicyRepository
    let tokens: any TokenRepository
    let caRepository: any CAStateRepository
    let identityRepository: any IdentityRepository
    /// The identity records in force (latest serial per identity, revocations); changed under `issuing`.
    let identityState: Mutex<IdentityRecords>
    /// Issuances run side by side (shared); changes of the deny list alone (`IssuingGate`). "Is this the latest
    /// serial?" and "this is now the latest" of one identity are one compare-and-set (`recordIssued`), so two
    /// copies of one key cannot both renew.
    let issuing = IssuingGate()
    /// The revision of a write of ours in flight (its own notification is not news until audited).
    let identityPending = Mutex<Int?>(nil)
    /// Security events (a cloned key, a revoked credential presented): counted, logged by the server, audited.
    public let security = SecurityEvents()
    /// The HTTP server's refusals and gauges, read by `/metrics` (the server attaches itself when it starts).
    public let serverStats = ControlServerStats()
    /// What `GET /v1/status` reports about replication (the file store's source until another is set).
    public let replicaStatus = ReplicaStatusSlot()
    public let audit: any AuditSink
    /// Hands slices to sidecars; told after every policy change.
    public let distribution: PolicyDistribution
    /// Sidecar reports: the graph, the instance table, their journal and snapshot (`telemetryDir`).
    public let telemetry: TelemetryService
    /// Alert rules of the applied mesh, evaluated on the telemetry stream (`ControlPlane+Alerts.swift`).
    public let alerts: AlertService
    /// Signs the slices handed out; the serving certificate's key is put in it (`ControlServer`).
    public let sliceSigner = SliceSigner()
    let rateLimit: IssueRateLimit
    /// Times of the automatic quarantines in the sliding window (mesh-wide, in memory like `rateLimit`).
    let automaticQuarantineTimes = Mutex<[Double]>([])
    let adminTokenHash: String
    /// Changes of the mesh or the CA state run one at a time (reading the base, writing, swapping), so the
    /// in-memory snapshot only moves forward, in commit order.
    let writes = Mutex<Void>(())
    /// The snapshot in force, and the version of a write of ours in flight (its own notification is not news).
    let policyState: Mutex<(snapshot: PolicySnapshot, pending: Int?)>
    let caState: Mutex<(state: CAState, pending: Int?)>
    /// Told after each accepted change of the mesh configuration, with the snapshot now in force.
    public let policyChanges = ChangeObservers<PolicySnapshot>()
    /// Told after each accepted change of the CA state (rotation, schedule), with the state now in force.
    public let caChanges = ChangeObservers<CAState>()
    private let subscriptions: Mutex<[Subscription]> = Mutex([])
    /// Over etcd: the store's watch and this replica's leadership (`ControlPlane+Replica.swift`).
    let replication = ReplicationSlot()

    /// The control plane over its repositories. `adminTokenHash` is the SHA-256 (hex) of the operator credential.
    public init(policy: any PolicyRepository, tokens: any TokenRepository, identities: any IdentityRepository,
                ca: any CAStateRepository, audit: any AuditSink,
                adminTokenHash: String, settings: ControlSettings, now: @escaping @Sendable () -> Double,
                telemetryDir: String? = nil, clock: any Clock = SystemClock(), quarantine: QuarantineAction? = nil) throws {
        self.settings = settings
        telemetry = try TelemetryService(dir: telemetryDir, limits: settings.telemetry, clock: clock, now: now)
        let relay = QuarantineRelay()
        alerts = AlertService(now: now, quarantine: quarantine ?? relay.action(now: now), throttle: relay.throttle(now: now))
        self.now = now
        policyRepository = policy
        self.tokens = tokens
        caRepository = ca
        identityRepository = identities
        let records = try identities.load()
        identityState = Mutex(records)
        self.audit = audit
        self.adminTokenHash = adminTokenHash
        rateLimit = IssueRateLimit(perMinute: settings.issuesPerMinute)
        let snapshot = try PolicySnapshot.load(try policy.load())
        policyState = Mutex((snapshot, nil))
        caState = Mutex((try ca.load(), nil))
        distribution = PolicyDistribution(snapshot, revoked: records.denyList, epoch: policy.epoch,
                                          inSyncWindow: settings.inSyncWindow, now: now,
                                          endpointLimits: settings.endpoints)
        let distribution = distribution
        _ = policyChanges.subscribe { distribution.policyChanged($0) }
        // Changes committed by another writer (a future replicated store) reach us through the repositories.
        let watches = [
            policy.subscribe { [weak self] in self?.policyStored($0) },
            ca.subscribe { [weak self] in self?.caStored($0) },
            identities.subscribe { [weak self] in self?.identitiesStored($0) },
            identities.subscribeLatest { [weak self] in self?.latestStored($0, $1) },
        ]
        subscriptions.withLock { $0 = watches + wireAlerts() }
        relay.attach(self)
    }

    /// The file store under `dataDir` (see DESIGN.md for the layout).
    public convenience init(dataDir: String, passphrase: [UInt8], settings: ControlSettings, clock: any Clock = SystemClock(),
                            quarantine: QuarantineAction? = nil) throws {
        DurableFile.removeLeftovers(in: dataDir)  // never-acknowledged temp files of an interrupted write
        let stored = try DurableFile.read("\(dataDir)/admin.token.sha256")
        try self.init(policy: try FilePolicyRepository(dataDir: dataDir), tokens: try FileTokenRepository(dataDir: dataDir),
                      identities: try FileIdentityRepository(dataDir: dataDir),
                      ca: try FileCAStateRepository(dataDir: dataDir, passphrase: passphrase),
                      audit: try AuditLog(path: "\(dataDir)/audit.log"),
                      adminTokenHash: String(decoding: stored, as: UTF8.self).trimming(" \n"), settings: settings,
                      now: { clock.wallSeconds() }, telemetryDir: "\(dataDir)/telemetry", clock: clock,
                      quarantine: quarantine)
    }

    deinit { subscriptions.withLock { $0.forEach { $0.cancel() } } }

    /// `mesh-control init`: CA, admin credential (`DIR/admin.token`, 0600, shown once), empty audit log.
    public static func initialize(dataDir: String, trustDomain: TrustDomain, passphrase: [UInt8], now: Double,
                                  imported: (cert: Certificate, key: PrivateKey, chain: [Certificate], anchors: [Certificate])?) throws -> String {
        try FileCAStateRepository.initialize(dataDir: dataDir, trustDomain: trustDomain, passphrase: passphrase, now: now, imported: imported)
        _ = try FilePolicyRepository(dataDir: dataDir)  // the policy store and its epoch are born with the control plane
        guard let secret = Random.hex(32).map({ "mat_" + $0 }) else { throw MeshError(.initRandom, "no randomness available") }
        try DurableFile.write("\(dataDir)/admin.token", Array((secret + "\n").utf8), mode: 0o600)
        try DurableFile.write("\(dataDir)/admin.token.sha256", Array((SHA256.hex(Array(secret.utf8)) + "\n").utf8), mode: 0o600)
        let audit = try AuditLog(path: "\(dataDir)/audit.log")
        try audit.record(time: now, actor: "mesh-control init", action: "ca.init", [
            ("trustDomain", .string(trustDomain.name)), ("imported", .bool(imported != nil)),
            ("root", .string(FileCAStateRepository(dataDir: dataDir, passphrase: passphrase).load().issuing.certificate.sha256Fingerprint)),
        ])
        return secret
    }

    // MARK: reading

    /// The mesh configuration in force.
    public var policy: PolicySnapshot { policyState.withLock { $0.snapshot } }

    /// The CA state in force (roots, bundle, the issuing authority).
    public var ca: CAState { caState.withLock { $0.state } }

    /// The control plane's own workload identity (its HTTPS certificate carries it).
    public var identity: SPIFFEID { try! SPIFFEID.service(trustDomain: ca.trustDomain, namespace: "mesh-system", name: "mesh-control") }

    /// True when `bearer` is the admin token.
    public func isAdmin(_ bearer: String?) -> Bool {
        guard let bearer else { return false }
        return JoinTokenSecret.constantTimeEqual(SHA256.hex(Array(bearer.utf8)), adminTokenHash)
    }
}
