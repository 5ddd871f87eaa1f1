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
/// (`GET /v1/slice?version=N&epoch=E`, mTLS with our workload certificate), checks the control plane's signature
/// on every slice (`SliceVerifier`; a refused one is counted by reason and changes nothing), applies a new slice atomically (one swap
/// of the sidecar state; live connections the new slice no longer allows are closed), persists it as
/// last-known-good (so a restart without the control plane still enforces it), and reports the version it
/// applied (the `version` of each poll). The kept file is the signed answer itself, checked again at start. When the control plane is away it keeps the slice in force and retries with
/// exponential backoff and full jitter (`RetryPolicy`: 1 s … 30 s; 1 s … 15 s while waiting for the first slice),
/// so a fleet of sidecars does not poll in lock-step after an outage; nothing ever opens up.
/// On the sidecar's shared `ControlChannel` each poll asks to be parked `channelPollWaitSeconds` (default 5) instead
/// of 30 s, so it never holds the one connection long enough to delay a renewal or a report.
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
    /// Signed slices refused (poll answers and the last-known-good file), by reason.
    private let refusals = Mutex<[SliceRejection: Int]>([:])
    /// The policy store epoch of the slice in force (nil: none yet); sent with each poll.
    private let epochInForce = Mutex<String?>(nil)
    /// Wall-clock seconds: the signer's certificate must be valid at this time.
    let now: @Sendable () -> Double

    /// The shared keep-alive connection to the control plane (nil: a new connection per poll).
    public let channel: ControlChannel?
    /// How long a poll on the channel may be parked (seconds, 1…30): short, so the poll never holds the shared
    /// connection long; a change still reaches a parked poll at once. Without a channel polls wait 30 s.
    public let channelPollWaitSeconds: Int
    /// The default `channelPollWaitSeconds`: the default telemetry interval.
    public static let defaultChannelPollWaitSeconds = 5

    public init(settings: PolicySettings, bootstrap: BootstrapSettings,
                log: @escaping @Sendable (String, [(String, LogValue)]) -> Void,
                now: @escaping @Sendable () -> Double = { SystemClock().wallSeconds() },
                channel: ControlChannel? = nil, channelPollWaitSeconds: Int = PolicyAgent.defaultChannelPollWaitSeconds) {
        self.settings = settings
        self.bootstrap = bootstrap
        self.channel = channel
        self.channelPollWaitSeconds = min(max(1, channelPollWaitSeconds), SliceAnswer.maxWaitSeconds)
        self.log = log
        self.now = now
    }

    /// Refusals so far, by reason (every reason, zeros included).
    public func refusalCounts() -> [(reason: SliceRejection, count: Int)] {
        let counts = refusals.withLock { $0 }
        return SliceRejection.allCases.map { ($0, counts[$0] ?? 0) }
    }

    private func refused(_ r: SliceRefusal, event: String) {
        refusals.withLock { $0[r.reason, default: 0] += 1 }
        log(event, [("reason", .string(r.reason.rawValue)), ("error", .string(r.detail))])
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
    var stopped: Bool { stopping.load(ordering: .relaxed) }

    /// The slice kept from a previous run, if the control plane signed it for us (counted as in force from now
    /// on). A file that does not check out is refused (logged with its reason, counted): the sidecar then waits
    /// for the control plane as if there were no file.
    public func lastKnownGood(for identity: TLSIdentity) -> ServiceSlice? {
        guard DurableFile.exists(settings.lastKnownGood) else { return nil }
        let verified: Result<VerifiedSlice, SliceRefusal>
        switch FileIO.readAll(settings.lastKnownGood, limit: 64 << 20) {
        case .failure(let e): verified = .failure(SliceRefusal(reason: .unsigned, detail: "unreadable: \(e.reason)"))
        case .success(let bytes):
            verified = SliceVerifier.verifyFile(bytes, trust: identity, controlPlane: bootstrap.controlPlaneIdentity)
        }
        switch verified {
        case .failure(let r):
            refused(r, event: "policy-last-known-good-refused")
            return nil
        case .success(let v):
            epochInForce.withLock { $0 = v.epoch }
            lastKnownGoodInForce.store(true, ordering: .relaxed)
            return v.slice
        }
    }

    /// Blocks until the control plane hands us a slice (before that the sidecar serves nothing); nil if stopped.
    public func firstSlice(identity: TLSIdentity) -> ServiceSlice? {
        var backoff = Backoff(policy: Self.firstSliceRetry, random: SystemRandomNumberGenerator())
        while !stopped && !Self.terminationPending() {
            switch count(fetch(identity: identity, after: -1)) {
            case .slice(let v):
                persist(v)
                return v.slice
            case .unchanged, .failed:
                nap(backoff.failed(), orUntilTerminated: true)
            }
        }
        return nil
    }

    /// Until the first slice arrives the sidecar serves nothing: retry within 15 s at most.
    static let firstSliceRetry = RetryPolicy(floor: 1, cap: 15)

    /// Sleeps in short steps so `stop` (and, before the signal loop runs, a pending SIGTERM/SIGINT) is noticed.
    private func nap(_ seconds: Double, orUntilTerminated: Bool = false) {
        var slept = 0.0
        while slept < seconds && !stopped && !(orUntilTerminated && Self.terminationPending()) {
            let step = min(0.2, seconds - slept)
            usleep(UInt32(step * 1_000_000))
            slept += step
        }
    }

    /// A SIGTERM or SIGINT waiting while blocked. A sidecar started with those signals blocked (a parent's mask is
    /// inherited) would otherwise never end while it waits for its first slice: nothing reads them until `run`.
    static func terminationPending() -> Bool {
        var pending = sigset_t()
        guard sigpending(&pending) == 0 else { return false }
        return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1
    }

    enum Fetch { case slice(VerifiedSlice), unchanged, failed(String) }

    /// One poll from the slice in force (`version` of the epoch in force, and the deny list's `revoked` revision);
    /// a slice comes back only verified.
    func fetch(identity: TLSIdentity, after version: Int, revoked: Int? = nil, endpoints: Int? = nil) -> Fetch {
        do {
            let ctx = try TLSContext(role: .client, identity: identity, resumption: .off)
            let wait = channel == nil ? nil : channelPollWaitSeconds
            let client = try ControlPlaneClient(settings: bootstrap, tls: ctx, timeoutMs: ((wait ?? PolicyAgent.longPollSeconds) + 10) * 1000,
                                                maxBodyBytes: 64 << 20, channel: channel)
            let epoch = version < 0 ? nil : epochInForce.withLock { $0 }
            guard case .slice(let signed) = try client.pollSlice(after: version, epoch: epoch, revoked: revoked, wait: wait,
                                                                        endpoints: endpoints) else {
                return .unchanged
            }
            switch SliceVerifier.verify(signed, trust: identity, controlPlane: bootstrap.controlPlaneIdentity, at: now()) {
            case .success(let v): return .slice(v)
            case .failure(let r):
                refused(r, event: "policy-slice-refused")
                return .failed("\(MeshError(.policyUnsignedSlice, "\(r.reason.rawValue): \(r.detail)"))")
            }
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
                      endpoints: (@Sendable () -> Int)? = nil,
                      apply: @escaping @Sendable (ServiceSlice) -> Void) -> LoopThread {
        LoopThread(start: { [self] in
            var backoff = Backoff(random: SystemRandomNumberGenerator())
            // Each poll carries the version in force, which is our status report: no extra connection.
            while !stopped {
                let id = identity()
                switch count(fetch(identity: id, after: version(), revoked: revoked(), endpoints: endpoints?())) {
                case .slice(let v):
                    // The control plane is the authority: its slice replaces ours whatever the versions (an
                    // older one after a restore, a version 1 of a re-created store), once its signature checks out.
                    let s = v.slice
                    backoff.succeeded()
                    persist(v)
                    apply(s)
                    epochInForce.withLock { $0 = v.epoch }
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
    func persist(_ v: VerifiedSlice) {
        try? DurableFile.write(settings.lastKnownGood, Array(v.signed.answerText.utf8), mode: 0o600)
    }
}
