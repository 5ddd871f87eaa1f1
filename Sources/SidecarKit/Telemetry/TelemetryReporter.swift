#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet

/// Reports this sidecar's edges to the control plane (`POST /v1/telemetry`), on its own thread: every
/// `intervalSeconds` it takes each loop's edge table (`collect`), adds them to the next batch and sends the
/// batch in flight (see `TelemetryBatcher`: one at a time, same seq until acknowledged). A refusal as malformed
/// (400/422) drops the batch and counts it; any other failure keeps it and retries with `Backoff` (1…30 s, full
/// jitter) while the loops keep aggregating into their bounded tables. Nothing here runs on an event loop, and
/// the data path only ever touches its own loop's table.
public final class TelemetryReporter: Sendable {
    public typealias Send = @Sendable (TelemetryReport) throws -> TelemetryAck
    /// How a flush ended: the last acknowledgement (nil: nothing to send), or why it failed.
    public typealias FlushResult = Result<TelemetryAck?, MeshError>

    let settings: TelemetrySettings
    private let batcher: Mutex<TelemetryBatcher>
    private let send: Send
    private let finalSend: Send
    /// True (and cleared) when a connection was refused since the last look: then a batch goes out within
    /// `urgentSeconds` over `urgentSend`, not at the interval.
    private let refusalSeen: @Sendable () -> Bool
    private let urgentSend: Send
    private let source: @Sendable () -> SPIFFEID
    private let policyVersion: @Sendable () -> Int
    private let now: @Sendable () -> Double
    private let log: @Sendable (String, [(String, LogValue)]) -> Void
    private let stopping = Atomic<Bool>(false)
    private let wake = Atomic<Bool>(false)
    private let waiters = Mutex<[@Sendable (FlushResult) -> Void]>([])
    public let acknowledged = Atomic<Int>(0)
    public let duplicates = Atomic<Int>(0)
    public let failed = Atomic<Int>(0)
    public let dropped = Atomic<Int>(0)
    /// An empty batch is still sent after this long without one, so the control plane sees us alive.
    static let heartbeatSeconds = 60.0
    /// The final flush at shutdown gives up after this long.
    public static let finalFlushSeconds = 2.0
    /// Refusals are reported within this long (and at most this often): alerts on probing must not wait for the
    /// interval. Such a batch goes over its own connection (`urgentSend`): the shared one may hold a parked poll.
    public static let urgentSeconds = 1.0

    public var instance: String { batcher.withLock { $0.instance } }

    /// `send` reports one batch (production: `ControlPlaneClient.report`); `finalSend` the same within
    /// `finalFlushSeconds` (default: `send`). `instance` comes from `makeInstance`.
    public init(settings: TelemetrySettings, instance: String, source: @escaping @Sendable () -> SPIFFEID,
                policyVersion: @escaping @Sendable () -> Int, now: @escaping @Sendable () -> Double,
                log: @escaping @Sendable (String, [(String, LogValue)]) -> Void, send: @escaping Send, finalSend: Send? = nil,
                refusalSeen: @escaping @Sendable () -> Bool = { false }, urgentSend: Send? = nil) {
        self.settings = settings
        batcher = Mutex(TelemetryBatcher(instance: instance, cap: settings.maxEdges, now: Int(now())))
        self.source = source
        self.policyVersion = policyVersion
        self.now = now
        self.log = log
        self.send = send
        self.finalSend = finalSend ?? send
        self.refusalSeen = refusalSeen
        self.urgentSend = urgentSend ?? send
    }

    /// 16 lowercase hex characters drawn from `random`: a new sequence per process.
    public static func makeInstance(using random: inout some RandomNumberGenerator) -> String {
        let digits = Array("0123456789abcdef")
        return String((0..<16).map { _ in digits[Int(random.next() % 16)] })
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
    var stopped: Bool { stopping.load(ordering: .relaxed) }

    /// Cut and send a batch now (`POST /telemetry/flush`); `done` is called on the reporter's thread once the
    /// batches are acknowledged or one failed.
    public func requestFlush(_ done: @escaping @Sendable (FlushResult) -> Void) {
        guard !stopped else { return done(.failure(MeshError(.telemetryFlushFailed, "the reporter is stopping"))) }
        waiters.withLock { $0.append(done) }
        wake.store(true, ordering: .relaxed)
    }

    /// The reporter's thread: a round every interval (or at once on a flush request), after a failure when
    /// the back-off says.
    func start(collect: @escaping @Sendable () -> [EdgeTable]) -> LoopThread {
        LoopThread(start: { [self] in
            var backoff = Backoff(random: SystemRandomNumberGenerator())
            var wait = Double(settings.intervalSeconds)
            var lastSent = now()
            var lastRound = now()
            var healthy = true
            while !stopped {
                // Early only while the control plane answers: during an outage the back-off decides.
                let urgent = nap(wait, since: lastRound, early: healthy)
                if stopped { break }
                lastRound = now()
                let flushes = waiters.withLock { w in defer { w.removeAll() }; return w }
                let heartbeat = now() - lastSent >= Self.heartbeatSeconds
                // A flush request or a refusal goes out now, on its own connection (the shared one may hold a poll).
                let result = round(tables: collect(), evenIfEmpty: heartbeat, using: urgent || !flushes.isEmpty ? urgentSend : send)
                if case .success(let ack) = result, ack != nil { lastSent = now() }
                for f in flushes { f(result) }
                if case .success = result { healthy = true } else { healthy = false }
                switch result {
                case .success:
                    backoff.succeeded()
                    wait = Double(settings.intervalSeconds)
                case .failure(let e):
                    wait = e.errorCode == .telemetryFlushFailed ? backoff.failed() : Double(settings.intervalSeconds)
                }
            }
            let left = waiters.withLock { w in defer { w.removeAll() }; return w }
            for f in left { f(.failure(MeshError(.telemetryFlushFailed, "the reporter is stopping"))) }
        })
    }

    /// Adds `tables`, then sends the batch in flight and, once it is acknowledged, the next one (a cut larger than
    /// `TelemetryBatcher.edgesPerReport` edges is several reports, all sent in this round). Failure codes: `telemetry.flush-failed` when the control plane could not be reached or answered
    /// otherwise than 2xx/400/422 (kept, retried), the refusal's own code when it was dropped as malformed.
    func round(tables: [EdgeTable], evenIfEmpty: Bool = false, using send: Send, deadline: Double? = nil) -> FlushResult {
        batcher.withLock { $0.absorb(tables) }
        var last: TelemetryAck?
        // The batch in flight, then one cut: at most cap / edgesPerReport + 1 reports, plus an overflow edge per
        // destination, port, verdict and reason (a few more).
        let maxSends = 3 + settings.maxEdges / TelemetryBatcher.edgesPerReport + 2
        for attempt in 0..<maxSends {
            if let deadline, now() >= deadline { break }
            let src = source(), version = policyVersion(), t = Int(now())
            guard let report = batcher.withLock({ $0.next(source: src, policyVersion: version, now: t,
                                                          evenIfEmpty: evenIfEmpty && attempt == 0 && last == nil) }) else { break }
            do {
                let ack = try send(report)
                guard batcher.withLock({ $0.acknowledged(ack) }) else {
                    failed.add(1, ordering: .relaxed)
                    return .failure(MeshError(.telemetryFlushFailed, "batch \(report.seq) answered for seq \(ack.seq)"))
                }
                if ack.duplicate { duplicates.add(1, ordering: .relaxed) } else { acknowledged.add(1, ordering: .relaxed) }
                last = ack
            } catch let e as MeshError where e.errorCode.kind == .badRequest || e.errorCode.kind == .invalid {
                _ = batcher.withLock { $0.refused(seq: report.seq) }
                dropped.add(1, ordering: .relaxed)
                log("telemetry-batch-dropped", [("seq", .int(report.seq)), ("edges", .int(report.edges.count)),
                                                ("error", .string("\(e.code): \(e.reason)"))])
                return .failure(e)
            } catch {
                failed.add(1, ordering: .relaxed)
                log("telemetry-report-failed", [("seq", .int(report.seq)), ("error", .string("\(error)"))])
                return .failure(MeshError(.telemetryFlushFailed, "batch \(report.seq): \(error)"))
            }
        }
        return .success(last)
    }

    /// At shutdown, after the loops stopped (their tables are then ours to read): one last attempt, at most
    /// `finalFlushSeconds`.
    func finalFlush(tables: [EdgeTable]) -> FlushResult {
        stop()
        return round(tables: tables, using: finalSend, deadline: now() + Self.finalFlushSeconds)
    }

    /// Sleeps in short steps so `stop` and flush requests are noticed; returns early (true) when a refusal was
    /// seen and `urgentSeconds` have passed since the last round (`since`).
    private func nap(_ seconds: Double, since lastRound: Double, early: Bool) -> Bool {
        var slept = 0.0
        var refused = false
        while slept < seconds && !stopped {
            if wake.exchange(false, ordering: .relaxed) { return false }
            if early && !refused { refused = refusalSeen() }
            if refused && now() - lastRound >= Self.urgentSeconds { return true }
            let step = min(0.02, seconds - slept)
            usleep(UInt32(step * 1_000_000))
            slept += step
        }
        return false
    }

    /// For `/stats` and `/metrics`.
    public struct Status: Sendable, Equatable {
        public var instance: String
        public var pendingSeq: Int?
        public var lastAckSeq: Int
        public var nextSeq: Int
        public var edgeKeys: Int
        public var foldedConnections: Int
        public var droppedBatches: Int
    }

    public var status: Status {
        batcher.withLock { b in
            Status(instance: b.instance, pendingSeq: b.pending?.seq, lastAckSeq: b.lastAckSeq, nextSeq: b.nextSeq,
                   edgeKeys: b.edgeKeys, foldedConnections: b.foldedTotal, droppedBatches: b.droppedBatches)
        }
    }
}
