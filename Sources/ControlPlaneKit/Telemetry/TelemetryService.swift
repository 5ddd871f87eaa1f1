#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import MeshAPI
import MeshCore
import MeshNet
import MeshObservability

/// Ingestion of sidecar reports: dedup and count (`TelemetryStore`), journal, acknowledge once durable.
///
/// A report is added to the store and appended to the journal under one lock (so a snapshot, taken under the
/// same lock, holds exactly the reports of the journals before it), then acknowledged when an fsync covers it.
/// fsyncs run one at a time on their own queue: every report that arrived during one fsync is covered by the
/// next (group commit). A duplicate is acknowledged after the next fsync too, so an ack never gets ahead of
/// the write it stands for. Every `snapshotInterval` (and at `close`) the store is snapshotted and a new
/// journal started. Without a folder (in-memory tests) nothing is written and acks are immediate.
public final class TelemetryService: Sendable {
    /// A snapshot every 60 s: at most a minute of journal to replay at start.
    public static let snapshotInterval = 60
    /// "Reporting" in `/metrics`: heard from within the last 60 s (three 20 s intervals).
    public static let reportingWindow = 60

    struct State {
        var store: TelemetryStore
        var journal: TelemetryJournal?
        /// Acks waiting for the next fsync.
        var pending: [@Sendable (MeshError?) -> Void] = []
        var syncing = false
        var snapshotting = false
        var lastSnapshot: Int
        var refused = 0
    }

    let now: @Sendable () -> Double
    private let state: Mutex<State>
    private let fsyncQueue = DispatchQueue(label: "mesh-control.telemetry-fsync")
    private let snapshotQueue = DispatchQueue(label: "mesh-control.telemetry-snapshot")
    /// Parsing and counting, off the event loop.
    let ingestQueue = DispatchQueue(label: "mesh-control.telemetry-ingest")
    public let fsyncSeconds = Histogram(bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
    /// Journal lines skipped at start: a torn last line (a crash mid-append; never acknowledged) or a line that
    /// does not read back.
    public let tornLines: Int
    /// Refusals (wrong source, malformed), rate-limited: `burst` lines then one a second per reason.
    public let refusals = ChangeObservers<SecurityEvent>()
    /// Told each report counted (not duplicates, not journal replay), on the ingest queue: keep it short.
    public let counted = ChangeObservers<TelemetryReport>()
    private let logLimiter: LogRateLimiter

    /// Loads `dir` (snapshot, then every later journal) when given; `now` is wall-clock seconds.
    public init(dir: String?, limits: TelemetryStore.Limits = TelemetryStore.Limits(), clock: any Clock = SystemClock(),
                now: @escaping @Sendable () -> Double) throws {
        self.now = now
        logLimiter = LogRateLimiter(perSecond: 1, burst: 10, clock: clock)
        guard let dir else {
            state = Mutex(State(store: TelemetryStore(limits: limits), lastSnapshot: Int(now())))
            tornLines = 0
            return
        }
        try DurableFile.makeDirectory(dir)
        DurableFile.removeLeftovers(in: dir)
        var journal = TelemetryJournal(dir: dir)
        var store = TelemetryStore(limits: limits)
        var from = 0
        if DurableFile.exists(journal.snapshotPath) {
            let path = journal.snapshotPath
            (store, from) = try TelemetryCodec.restore(limits: limits) { (line: (ArraySlice<UInt8>) throws(MeshError) -> Void) throws(MeshError) in
                if try TelemetryJournal.forEachLine(path, line) { throw MeshError(.telemetryCorrupt, "\(path) ends in a torn line") }
            }
        }
        var torn = 0
        let found = journal.generations()
        for g in found where g >= from {
            // A line that does not read back (a damaged disk) is skipped and counted, like a torn last one: the
            // control plane must start, and telemetry is not worth refusing to.
            let tornLast = try TelemetryJournal.forEachLine(journal.path(g)) { (line: ArraySlice<UInt8>) throws(MeshError) in
                guard let (report, t) = try? TelemetryCodec.readJournalLine(line) else { torn += 1; return }
                store.ingest(report, now: t)
            }
            if tornLast { torn += 1 }
        }
        tornLines = torn
        let next = max(from, (found.last ?? -1) + 1)
        _ = try journal.open(generation: next)
        try DurableFile.syncDirectory(dir)
        state = Mutex(State(store: store, journal: journal, lastSnapshot: Int(now())))
    }

    deinit {
        state.withLock { s in
            if let fd = s.journal?.fd, fd >= 0 { Glibc.close(fd) }
        }
    }

    /// Counts `report` (unless a duplicate) and calls `done` with the ack once it is durable, or the failure.
    public func ingest(_ report: TelemetryReport, done: @escaping @Sendable (Result<TelemetryAck, MeshError>) -> Void) {
        let t = Int(now())
        let line = TelemetryCodec.journalLine(report, receivedAt: t)
        let outcome = state.withLock { s -> (counted: Bool, error: MeshError?, sync: Bool) in
            if let journal = s.journal, s.store.lastSeq(source: report.source.description, instance: report.instance)
                .map({ report.seq > $0 }) ?? true {
                do throws(MeshError) { try journal.write(line) } catch { return (false, error, false) }
            }
            let counted = s.store.ingest(report, now: t)
            guard s.journal != nil else { return (counted, nil, false) }
            let ack: @Sendable (MeshError?) -> Void = { e in done(e.map { .failure($0) } ?? .success(TelemetryAck(seq: report.seq, duplicate: !counted))) }
            s.pending.append(ack)
            if s.syncing { return (counted, nil, false) }
            s.syncing = true
            return (counted, nil, true)
        }
        if let e = outcome.error { return done(.failure(e)) }
        if outcome.counted { counted.notify(report) }
        if state.withLock({ $0.journal == nil }) { return done(.success(TelemetryAck(seq: report.seq, duplicate: !outcome.counted))) }
        if outcome.sync { fsyncQueue.async { [self] in flush() } }
    }

    /// On `fsyncQueue`: one fsync for every ack waiting; again if more arrived meanwhile.
    private func flush() {
        let (fd, acks) = state.withLock { s in
            defer { s.pending.removeAll() }
            return (s.journal?.fd ?? -1, s.pending)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let ok = fsync(fd) == 0
        fsyncSeconds.observe(seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        let error = ok ? nil : MeshError(.telemetryJournal, "fsync of the telemetry journal failed: errno \(errno)")
        let again = state.withLock { s -> Bool in
            if s.pending.isEmpty { s.syncing = false; return false }
            return true
        }
        for a in acks { a(error) }
        if again { fsyncQueue.async { [self] in flush() } }
    }

    /// Snapshots when `snapshotInterval` has passed since the last one (called from the server's tick).
    public func snapshotIfDue() {
        let t = Int(now())
        let due = state.withLock { s -> Bool in
            guard s.journal != nil, !s.snapshotting, t - s.lastSnapshot >= Self.snapshotInterval else { return false }
            s.snapshotting = true
            return true
        }
        if due { snapshotQueue.async { [self] in _ = try? snapshot() } }
    }

    /// Writes a snapshot now and starts a new journal (at clean shutdown; blocks).
    public func close() throws {
        guard state.withLock({ $0.journal != nil }) else { return }
        state.withLock { $0.snapshotting = true }
        try snapshotQueue.sync { try snapshot() }
    }

    /// Copy the store and switch journals under the lock; fsync the old journal (its acks), then write the
    /// snapshot and delete the journals it covers.
    private func snapshot() throws {
        defer { state.withLock { $0.snapshotting = false } }
        let t = Int(now())
        let taken = try state.withLock { s throws(MeshError) -> (TelemetryStore, TelemetryJournal, Int32, [@Sendable (MeshError?) -> Void])? in
            guard var journal = s.journal else { return nil }
            s.store.expire(now: t)
            let old = try journal.open(generation: journal.generation + 1)
            s.journal = journal
            s.lastSnapshot = t
            defer { s.pending.removeAll() }
            return (s.store, journal, old, s.pending)
        }
        guard let (store, journal, old, acks) = taken else { return }
        // The acks waiting were for appends to the old journal: this fsync covers them (on the fsync queue, so
        // no flush is using the old descriptor when it closes).
        fsyncQueue.sync {
            let start = DispatchTime.now().uptimeNanoseconds
            let ok = fsync(old) == 0
            fsyncSeconds.observe(seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            Glibc.close(old)
            var error = ok ? nil : MeshError(.telemetryJournal, "fsync of the telemetry journal failed: errno \(errno)")
            do throws(MeshError) { try DurableFile.syncDirectory(journal.dir) } catch let e { error = error ?? e }
            for a in acks { a(error) }
        }
        try journal.writeSnapshot { (sink: ([UInt8]) throws(MeshError) -> Void) throws(MeshError) in
            try TelemetryCodec.snapshot(store, journal: journal.generation, to: sink)
        }
        journal.remove(below: journal.generation)
    }

    // MARK: reading

    /// Summed from a copy of the store (copy-on-write: taken in O(1) under the lock), so a large query never
    /// holds up ingestion.
    public func graph(since: Int, service: String?, identity: String?) -> GraphAnswer {
        let t = Int(now())
        let store = state.withLock { $0.store }
        return store.graph(since: since, now: t, service: service, identity: identity)
    }

    public func sidecars() -> TelemetrySidecarList {
        let t = Int(now())
        let store = state.withLock { $0.store }
        return TelemetrySidecarList(sidecars: store.sidecars(now: t))
    }

    /// A consistent reading of the figures `/metrics` shows.
    public func reading() -> (totals: TelemetryStore.Totals, edges: Int, entries: Int, reporting: Int, refused: Int) {
        let t = Int(now())
        return state.withLock { s in
            (s.store.totals, s.store.distinctEdges, s.store.entries, s.store.reporting(now: t, window: Self.reportingWindow), s.refused)
        }
    }

    /// A refused report: counted always, logged within the rate limit.
    func refused(_ error: MeshError, peer: String) {
        state.withLock { $0.refused += 1 }
        if case .write(let held) = logLimiter.admit(error.errorCode.id) {
            refusals.notify(SecurityEvent(name: "telemetry-refused", fields: [
                ("code", error.errorCode.id), ("peer", peer), ("reason", error.reason), ("suppressedBefore", "\(held)")]))
        }
    }
}
