import Synchronization
import MeshCore
import MeshPolicy
import MeshNet
import MeshObservability
import MeshHTTP

/// Hands each sidecar its own slice of the mesh, and parks long polls until the mesh changes: a poll from an
/// (epoch, version) other than the one in force is answered at once (older, newer or from another store: the
/// control plane is the authority, so a forged high version or a re-created store is never waited on),
/// otherwise it waits (`waitSeconds`) and is answered as soon as a change arrives. The version a sidecar polls from is its status report, so operators can see who
/// is in sync. Knows nothing of HTTP: it answers with `Answer`s.
public final class PolicyDistribution: Sendable {
    /// What a poll gets.
    public enum Answer: Sendable {
        case slice(ServiceSlice)
        /// Nothing newer within the wait.
        case unchanged
        case refused(MeshError)
    }

    public struct SidecarStatus: Sendable {
        public let identity: String
        public var appliedVersion: Int
        /// The policy store epoch the sidecar's version belongs to (nil: it did not say).
        public var epoch: String?
        public var lastSeen: Double
        /// Applied the version in force and heard from within the in-sync window.
        public var inSync: Bool
    }

    /// Who polls: a parked poll whose caller becomes revoked is refused, not handed the new list.
    struct Caller: Sendable {
        let identity: SPIFFEID
        let serial: String
        let notBefore: Double
    }

    struct Waiter: Sendable {
        let id: Int
        let service: ServiceKey
        let caller: Caller?
        let answer: @Sendable (Answer) -> Void
        /// The endpoint revision the poll holds (nil: it did not say, endpoint changes do not wake it).
        var endpoints: Int? = nil
    }

    /// How long a poll waits for a change before it is answered `unchanged`, unless it asks for less (`wait`).
    public static let waitSeconds = 30
    /// The policy store's epoch (`PolicyRepository.epoch`), signed into every slice handed out.
    public let epoch: String
    let inSyncWindow: Double
    let now: @Sendable () -> Double
    /// Where each service's sidecars listen; slices carry the live endpoints of their destinations.
    public let endpoints: EndpointRegistry
    /// From a change reaching distribution to each parked poll handed its new slice (`mesh_control_policy_push_seconds`).
    public let pushSeconds = Histogram(bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
    /// The snapshot handed out and the parked polls, under one lock: a poll parks only if no newer version is
    /// already in, and a change swaps and takes every parked poll at once, so no wake-up is lost. Parked polls
    /// are keyed by id: the wait's timer (on the loop that owns the poll's connection) removes its own in
    /// O(1), whatever the number parked (10,000 sidecars: one entry each, no thread, no scan).
    private let state: Mutex<(snapshot: PolicySnapshot, revoked: RevocationList, next: Int, waiters: [Int: Waiter])>
    private let statuses = Mutex<[String: (version: Int, epoch: String?, lastSeen: Double)]>([:])

    init(_ snapshot: PolicySnapshot, revoked: RevocationList, epoch: String, inSyncWindow: Double,
         now: @escaping @Sendable () -> Double, endpointLimits: EndpointRegistry.Limits = .init()) {
        state = Mutex((snapshot, revoked, 0, [:]))
        endpoints = EndpointRegistry(limits: endpointLimits, startRevision: Int(now() * 1000))
        self.epoch = epoch
        self.inSyncWindow = inSyncWindow
        self.now = now
    }

    /// The slice of `service` in the snapshot handed out now, with the deny list in force.
    public func slice(for service: ServiceKey) -> Answer {
        let (snap, revoked) = state.withLock { ($0.snapshot, $0.revoked) }
        return slice(snap, service, revoked)
    }

    func slice(_ snap: PolicySnapshot, _ service: ServiceKey, _ revoked: RevocationList) -> Answer {
        guard let compiled = snap.compiled else {
            return .refused(MeshError(.policyNone, "no mesh configuration has been applied yet"))
        }
        guard let slice = compiled.slice(for: service) else {
            return .refused(MeshError(.policyServiceNotInMesh, "\(service) is not a service of the mesh (version \(snap.version))"))
        }
        let registry = endpoints
        var carried = slice.with(endpointsRevision: registry.revision) { registry.endpoints(of: $0) }
        carried.revoked = revoked
        return .slice(carried)
    }

    /// Answers now unless the caller already has what is in force: the same `version` of the same `epoch` (a
    /// poll without an epoch never has, once a mesh is applied) and, when it says which it holds, the deny list in force (`revoked`);
    /// else parks the poll until a change or `waitSeconds` (default 30) on `loop` (call on `loop`'s thread). `answer` is
    /// called once.
    func longPoll(service: ServiceKey, after version: Int, epoch: String?, revoked: Int? = nil, endpoints held: Int? = nil,
                  caller: Caller? = nil,
                  waitSeconds: Int = PolicyDistribution.waitSeconds, loop: EventLoop,
                  abandonment: RequestAbandonment? = nil,
                  answer: @escaping @Sendable (Answer) -> Void) {
        let parked = state.withLock { s -> Int? in
            // In force: the caller's (epoch, version) is ours; with nothing applied yet, a caller that has nothing
            // either (version ≥ 0 from no other epoch) waits for the first apply instead of polling in a loop.
            let inForce = s.snapshot.compiled == nil
                ? version >= 0 && (epoch == nil || epoch == self.epoch)
                : epoch == self.epoch && s.snapshot.version == version
            if !inForce { return nil }
            if let revoked, s.revoked.revision > revoked { return nil }
            if let held, let slice = s.snapshot.compiled?.slice(for: service),
               endpoints.changed(after: held, among: slice.outbound.keys) { return nil }
            s.next += 1
            s.waiters[s.next] = Waiter(id: s.next, service: service, caller: caller, answer: answer, endpoints: held)
            return s.next
        }
        guard let id = parked else { return answer(slice(for: service)) }
        let expire: @Sendable () -> Void = { [self] in
            let mine = state.withLock { $0.waiters.removeValue(forKey: id) }
            mine?.answer(.unchanged)
        }
        _ = loop.schedule(afterMs: Int64(waitSeconds) * 1000, expire)
        // A caller that hung up frees its waiter (and, through the answer, its long-poll slot) now, not at the
        // end of the wait: after a reconnect storm the dead polls would hold the slots the new ones need.
        abandonment?.onAbandon(expire)
    }

    /// A new snapshot is in force: every parked poll gets its slice now.
    func policyChanged(_ snapshot: PolicySnapshot) {
        let (woken, revoked) = state.withLock { s -> ([Waiter], RevocationList) in
            guard snapshot.version >= s.snapshot.version else { return ([], s.revoked) }
            s.snapshot = snapshot
            defer { s.waiters.removeAll() }
            return (s.waiters.values.sorted { $0.id < $1.id }, s.revoked)
        }
        let started = now()
        for w in woken {
            w.answer(slice(snapshot, w.service, revoked))
            pushSeconds.observe(seconds: max(0, now() - started))
        }
    }

    /// A new deny list is in force: every parked poll gets its slice (same version, new list) now, so live
    /// connections of a revoked identity close within a second everywhere.
    func revocationsChanged(_ list: RevocationList) {
        let (woken, snapshot) = state.withLock { s -> ([Waiter], PolicySnapshot) in
            guard list.revision > s.revoked.revision else { return ([], s.snapshot) }
            s.revoked = list
            defer { s.waiters.removeAll() }
            return (s.waiters.values.sorted { $0.id < $1.id }, s.snapshot)
        }
        for w in woken {
            if let c = w.caller, list.revokes(c.identity, serial: c.serial, notBefore: c.notBefore) {
                w.answer(.refused(MeshError(.identityRevoked, "\(c.identity): this certificate is revoked")))
            } else if let c = w.caller, list.quarantines(c.identity) {
                w.answer(.refused(MeshError(.identityQuarantined, "\(c.identity) is quarantined")))
            } else {
                w.answer(slice(snapshot, w.service, list))
            }
        }
    }

    /// The endpoints of `services` changed: the parked polls that hold an endpoint revision and whose slice
    /// calls one of them get their slice now (others keep waiting: nothing they route to moved).
    func endpointsChanged(_ services: Set<ServiceKey>) {
        guard !services.isEmpty else { return }
        let (woken, snapshot, revoked) = state.withLock { s -> ([Waiter], PolicySnapshot, RevocationList) in
            guard let compiled = s.snapshot.compiled else { return ([], s.snapshot, s.revoked) }
            let woken = s.waiters.values.sorted { $0.id < $1.id }.filter { w in
                guard w.endpoints != nil, let slice = compiled.slice(for: w.service) else { return false }
                return services.contains(where: { slice.outbound[$0] != nil })
            }
            for w in woken { s.waiters.removeValue(forKey: w.id) }
            return (woken, s.snapshot, s.revoked)
        }
        for w in woken { w.answer(slice(snapshot, w.service, revoked)) }
    }

    /// Polls parked now (all loops).
    var parked: Int { state.withLock { $0.waiters.count } }

    /// `identity` has applied `version` of `epoch` (it polls from it).
    func report(identity: String, version: Int, epoch: String? = nil) {
        let now = now()
        statuses.withLock { $0[identity] = (version, epoch, now) }
    }

    /// Each sidecar heard from, by identity.
    public var sidecars: [SidecarStatus] {
        let current = state.withLock { $0.snapshot.version }
        let now = now()
        return statuses.withLock { $0 }.map { id, s in
            SidecarStatus(identity: id, appliedVersion: s.version, epoch: s.epoch, lastSeen: s.lastSeen,
                          inSync: s.version == current && (s.epoch ?? epoch) == epoch && now - s.lastSeen < inSyncWindow)
        }.sorted { $0.identity < $1.identity }
    }
}
