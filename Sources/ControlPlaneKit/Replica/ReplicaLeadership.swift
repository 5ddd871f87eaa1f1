#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshEtcd
import MeshNet

/// Which replica runs the timed work that must run once (CA rotation phases, quarantine and throttle expiry).
///
/// Each replica holds an etcd lease (TTL `ttlSeconds`, renewed every `renewSeconds`), registers itself under
/// `replicas/<id>` with it, and tries to take `leader` with a transaction that only creates the key
/// (`createRevision == 0`), also with its lease. The key vanishes with the lease — revoked on stop, or expired
/// when the leader stops renewing (crash, partition) — and another replica takes it at its next round. A
/// replica only believes it leads while its last successful renewal is younger than the TTL (by its own
/// monotonic clock), so a partitioned leader stops acting before the others can take over.
public final class ReplicaLeadership: Sendable {
    public struct Settings: Sendable {
        /// Lease TTL: how long a dead leader keeps the role. Default 5 s.
        public var ttlSeconds = 5
        /// Renewal (and campaign) period. Default 1 s.
        public var renewSeconds = 1.0
        public init(ttlSeconds: Int = 5, renewSeconds: Double = 1.0) {
            self.ttlSeconds = ttlSeconds
            self.renewSeconds = renewSeconds
        }
    }

    /// One registered replica as read from `replicas/<id>`.
    public struct Replica: Sendable, Equatable {
        public let id: String
        public let address: String
        public let started: Double
        public let version: String
        public let leader: Bool
    }

    public let id: String
    let store: EtcdStore
    let settings: Settings
    let clock: any Clock
    let info: [UInt8]
    /// lease (0: none), who leads as last read, when the lease was last renewed (monotonic ms).
    private let state = Mutex<(lease: Int64, leader: String?, renewedMs: Int64?, stopped: Bool)>((0, nil, nil, false))
    private let thread = Mutex<LoopThread?>(nil)

    public init(store: EtcdStore, id: String, address: String, started: Double, version: String, settings: Settings = .init(),
                clock: any Clock = SystemClock()) {
        self.store = store
        self.id = id
        self.settings = settings
        self.clock = clock
        info = Array(JSONValue.object([("id", .string(id)), ("address", .string(address)), ("started", .int(Int(started))),
                                       ("version", .string(version))]).text.utf8)
    }

    /// True while this replica holds `leader` and renewed its lease less than a TTL ago.
    public var isLeader: Bool {
        let now = clock.monotonicMs()
        return state.withLock { s in
            s.leader == id && s.renewedMs.map { now - $0 < Int64(settings.ttlSeconds) * 1000 } ?? false
        }
    }

    /// The leader's id as last read.
    public var leader: String? { state.withLock { $0.leader } }

    /// One round: renew (or get) the lease, register, campaign. Errors leave the state as it was (a leader whose
    /// renewals keep failing stops believing it leads after a TTL).
    public func step() {
        do {
            var lease = state.withLock { $0.lease }
            if lease != 0, try store.kv.keepAlive(lease: lease) <= 0 { lease = 0 }
            if lease == 0 {
                lease = try store.kv.grantLease(ttlSeconds: settings.ttlSeconds)
                state.withLock { $0.lease = lease; $0.leader = $0.leader == id ? nil : $0.leader }
            }
            let renewed = clock.monotonicMs()
            let lk = store.key("leader")
            let r = try store.kv.txn([.createRevision(lk, equals: 0)],
                                     success: [.put(lk, Array(id.utf8), lease: lease), .put(store.key("replicas/\(id)"), info, lease: lease)],
                                     failure: [.get(lk), .put(store.key("replicas/\(id)"), info, lease: lease)])
            let holder = r.succeeded ? id : (r.gets.first ?? nil).map { String(decoding: $0.value, as: UTF8.self) }
            let ours = r.succeeded || (r.gets.first ?? nil)?.lease == lease
            state.withLock { s in
                s.renewedMs = renewed
                s.leader = holder == id && !ours ? nil : holder
            }
        } catch {
            return
        }
    }

    /// Runs `step` every `renewSeconds` on a thread of its own until `stop`.
    public func start() {
        thread.withLock { t in
            guard t == nil else { return }
            t = LoopThread(start: { [weak self] in
                while let me = self, !me.state.withLock({ $0.stopped }) {
                    me.step()
                    // Real time between rounds (`clock` only judges the lease's freshness, so tests may freeze it).
                    for _ in 0..<max(1, Int(me.settings.renewSeconds * 50)) where !me.state.withLock({ $0.stopped }) { usleep(20_000) }
                }
            })
        }
    }

    /// Stops renewing and revokes the lease (the leader key and the registration vanish at once).
    public func stop() {
        let lease = state.withLock { s -> Int64 in
            s.stopped = true
            defer { s.lease = 0; s.leader = nil }
            return s.lease
        }
        thread.withLock { $0 }?.join()
        thread.withLock { $0 = nil }
        if lease != 0 { try? store.kv.revokeLease(lease) }
    }

    /// Stops renewing without revoking, as a crash would: the lease (and the role) lapse after the TTL.
    func abandon() {
        state.withLock { $0.stopped = true }
        thread.withLock { $0 }?.join()
        thread.withLock { $0 = nil }
    }

    /// The lease held now (tests revoke it to see leadership move).
    public var lease: Int64 { state.withLock { $0.lease } }

    /// Every registered replica, the leader marked.
    public func replicas() throws -> [Replica] {
        let leader = try store.kv.get(store.key("leader")).map { String(decoding: $0.value, as: UTF8.self) }
        return try store.readAll("replicas/").kvs.compactMap { kv in
            let v = try StrictJSON.parse(kv.value)
            guard let id = v["id"]?.stringValue else { return nil }
            return Replica(id: id, address: v["address"]?.stringValue ?? "", started: Double(v["started"]?.intValue ?? 0),
                           version: v["version"]?.stringValue ?? "", leader: id == leader)
        }
    }
}
