import Synchronization
import MeshCore
import MeshPolicy
import MeshNet

/// Hands each sidecar its own slice of the mesh, and parks long polls until the mesh changes: a poll for a
/// version older than the one in force is answered at once, otherwise it waits (`waitSeconds`) and is answered
/// as soon as a change arrives. The version a sidecar polls from is its status report, so operators can see who
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
        public var lastSeen: Double
        /// Applied the version in force and heard from within the in-sync window.
        public var inSync: Bool
    }

    struct Waiter: Sendable {
        let id: Int
        let service: ServiceKey
        let answer: @Sendable (Answer) -> Void
    }

    /// How long a poll waits for a change before it is answered `unchanged`.
    public static let waitSeconds = 30
    let inSyncWindow: Double
    let now: @Sendable () -> Double
    /// The snapshot handed out and the parked polls, under one lock: a poll parks only if no newer version is
    /// already in, and a change swaps and takes every parked poll at once, so no wake-up is lost.
    private let state: Mutex<(snapshot: PolicySnapshot, next: Int, waiters: [Waiter])>
    private let statuses = Mutex<[String: (version: Int, lastSeen: Double)]>([:])

    init(_ snapshot: PolicySnapshot, inSyncWindow: Double, now: @escaping @Sendable () -> Double) {
        state = Mutex((snapshot, 0, []))
        self.inSyncWindow = inSyncWindow
        self.now = now
    }

    /// The slice of `service` in the snapshot handed out now.
    public func slice(for service: ServiceKey) -> Answer { Self.slice(state.withLock { $0.snapshot }, service) }

    static func slice(_ snap: PolicySnapshot, _ service: ServiceKey) -> Answer {
        guard let compiled = snap.compiled else {
            return .refused(MeshError(.policyNone, "no mesh configuration has been applied yet"))
        }
        guard let slice = compiled.slice(for: service) else {
            return .refused(MeshError(.policyServiceNotInMesh, "\(service) is not a service of the mesh (version \(snap.version))"))
        }
        return .slice(slice)
    }

    /// Answers now if newer than `version` (or when nothing is applied and the caller has nothing), else parks
    /// the poll until a change or `waitSeconds` on `loop` (call on `loop`'s thread). `answer` is called once.
    func longPoll(service: ServiceKey, after version: Int, loop: EventLoop, answer: @escaping @Sendable (Answer) -> Void) {
        let parked = state.withLock { s -> Int? in
            if s.snapshot.version > version || s.snapshot.compiled == nil && version < 0 { return nil }
            s.next += 1
            s.waiters.append(Waiter(id: s.next, service: service, answer: answer))
            return s.next
        }
        guard let id = parked else { return answer(slice(for: service)) }
        loop.schedule(afterMs: Int64(Self.waitSeconds) * 1000) { [self] in
            let mine = state.withLock { s -> Waiter? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiters.remove(at: i)
            }
            mine?.answer(.unchanged)
        }
    }

    /// A new snapshot is in force: every parked poll gets its slice now.
    func policyChanged(_ snapshot: PolicySnapshot) {
        let woken = state.withLock { s -> [Waiter] in
            guard snapshot.version >= s.snapshot.version else { return [] }
            s.snapshot = snapshot
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in woken { w.answer(Self.slice(snapshot, w.service)) }
    }

    /// `identity` has applied `version` (it polls from it).
    func report(identity: String, version: Int) {
        let now = now()
        statuses.withLock { $0[identity] = (version, now) }
    }

    /// Each sidecar heard from, by identity.
    public var sidecars: [SidecarStatus] {
        let current = state.withLock { $0.snapshot.version }
        let now = now()
        return statuses.withLock { $0 }.map { id, s in
            SidecarStatus(identity: id, appliedVersion: s.version, lastSeen: s.lastSeen,
                          inSync: s.version == current && now - s.lastSeen < inSyncWindow)
        }.sorted { $0.identity < $1.identity }
    }
}
