#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshAPI
import MeshControlClient
import MeshCore
import MeshPolicy
import MeshNet
import MeshObservability
import MeshTLS

/// Keeps this sidecar's slice of the mesh policy current: long-polls the control plane
/// (`GET /v1/slice?version=N`, mTLS with our workload certificate), applies a new slice atomically (one swap
/// of the sidecar state; live connections the new slice no longer allows are closed), persists it as
/// last-known-good (so a restart without the control plane still enforces it), and reports the version it
/// applied (the `version` of each poll). When the control plane is away it keeps the slice in force and retries with
/// exponential backoff and full jitter (`RetryPolicy`: 1 s … 30 s; 1 s … 15 s while waiting for the first slice),
/// so a fleet of sidecars does not poll in lock-step after an outage; nothing ever opens up.
public final class PolicyAgent: Sendable {
    let settings: PolicySettings
    let bootstrap: BootstrapSettings
    let log: @Sendable (String, [(String, LogValue)]) -> Void
    private let stopping = Atomic<Bool>(false)
    /// Version of the last slice this agent applied (0: none yet).
    public let applied = Atomic<Int>(0)
    /// Polls the control plane answered (a new slice or "unchanged"), and polls that failed.
    public let pollsOK = Atomic<Int>(0)
    public let pollFailures = Atomic<Int>(0)
    /// True from loading the last-known-good slice at start until the control plane answers a poll.
    public let lastKnownGoodInForce = Atomic<Bool>(false)

    public init(settings: PolicySettings, bootstrap: BootstrapSettings, log: @escaping @Sendable (String, [(String, LogValue)]) -> Void) {
        self.settings = settings
        self.bootstrap = bootstrap
        self.log = log
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
    var stopped: Bool { stopping.load(ordering: .relaxed) }

    /// The slice kept from a previous run, if it is ours and readable (counted as in force from now on).
    public func lastKnownGood(for identity: SPIFFEID) -> ServiceSlice? {
        guard case .success(let bytes) = FileIO.readAll(settings.lastKnownGood, limit: 64 << 20),
              let slice = try? ServiceSlice(bytes: bytes), slice.identity == identity else { return nil }
        lastKnownGoodInForce.store(true, ordering: .relaxed)
        return slice
    }

    /// Blocks until the control plane hands us a slice (before that the sidecar serves nothing); nil if stopped.
    public func firstSlice(identity: TLSIdentity) -> ServiceSlice? {
        var backoff = Backoff(policy: Self.firstSliceRetry, random: SystemRandomNumberGenerator())
        while !stopped {
            switch count(fetch(identity: identity, after: -1)) {
            case .slice(let s):
                persist(s)
                return s
            case .unchanged, .failed:
                nap(backoff.failed())
            }
        }
        return nil
    }

    /// Until the first slice arrives the sidecar serves nothing: retry within 15 s at most.
    static let firstSliceRetry = RetryPolicy(floor: 1, cap: 15)

    /// Sleeps in short steps so `stop` is noticed.
    private func nap(_ seconds: Double) {
        var slept = 0.0
        while slept < seconds && !stopped {
            let step = min(0.2, seconds - slept)
            usleep(UInt32(step * 1_000_000))
            slept += step
        }
    }

    enum Fetch { case slice(ServiceSlice), unchanged, failed(String) }

    func fetch(identity: TLSIdentity, after version: Int, revoked: Int? = nil) -> Fetch {
        do {
            let ctx = try TLSContext(role: .client, identity: identity, resumption: .off)
            let client = try ControlPlaneClient(settings: bootstrap, tls: ctx, timeoutMs: (PolicyAgent.longPollSeconds + 10) * 1000,
                                                maxBodyBytes: 64 << 20)
            guard case .slice(let answer) = try client.pollSlice(after: version, revoked: revoked) else { return .unchanged }
            let slice = try ServiceSlice(json: answer.slice)
            guard slice.identity == identity.spiffeID else {
                return .failed("the control plane sent the slice of \(slice.identity), not ours")
            }
            return .slice(slice)
        } catch {
            return .failed("\(error)")
        }
    }

    static let longPollSeconds = 30

    /// Counts a poll's outcome; any answer from the control plane confirms or replaces the last-known-good slice.
    private func count(_ result: Fetch) -> Fetch {
        if case .failed = result {
            pollFailures.add(1, ordering: .relaxed)
        } else {
            pollsOK.add(1, ordering: .relaxed)
            lastKnownGoodInForce.store(false, ordering: .relaxed)
        }
        return result
    }

    /// The long-poll loop, on its own thread. `apply` swaps the slice in; `version` and `revoked` are the policy
    /// version and the deny list's revision in force (a newer deny list comes at once, same version or not).
    public func start(identity: @escaping @Sendable () -> TLSIdentity, version: @escaping @Sendable () -> Int,
                      revoked: @escaping @Sendable () -> Int = { 0 },
                      apply: @escaping @Sendable (ServiceSlice) -> Void) -> LoopThread {
        LoopThread(start: { [self] in
            var backoff = Backoff(random: SystemRandomNumberGenerator())
            // Each poll carries the version in force, which is our status report: no extra connection.
            while !stopped {
                let id = identity()
                switch count(fetch(identity: id, after: version(), revoked: revoked())) {
                case .slice(let s):
                    backoff.succeeded()
                    persist(s)
                    apply(s)
                    applied.store(s.version, ordering: .relaxed)
                    log("policy-applied", [("version", .int(s.version)), ("rules", .int(s.rules.count))])
                case .unchanged:
                    backoff.succeeded()
                case .failed(let why):
                    let wait = backoff.failed()
                    log("policy-poll-failed", [("attempt", .int(backoff.attempt)), ("error", .string(why)),
                                               ("inForce", .int(version()))])
                    nap(wait)
                }
            }
        })
    }


    /// Last-known-good, replaced durably (temp + fsync + rename + fsync folder). A failure keeps the old file
    /// and the slice in force: the next restart is merely older, never open.
    func persist(_ s: ServiceSlice) {
        try? DurableFile.write(settings.lastKnownGood, Array(s.json().text.utf8), mode: 0o600)
    }
}
