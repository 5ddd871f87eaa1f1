import MeshAPI
import MeshCore

/// The reporting state, apart from threads and sockets (so tests drive it with a fake `send`). At most one
/// batch is in flight: it keeps its `seq` and its content, unchanged, until the control plane acknowledges it
/// (a retry is then recognised as a duplicate and not counted twice), or refuses it as malformed (dropped,
/// counted). Meanwhile new traffic accumulates into the next batch, bounded by the same edge cap. A cut with
/// more than `edgesPerReport` edges goes out as several reports (consecutive seqs, same window), one at a time.
struct TelemetryBatcher: Sendable {
    /// At most this many edges per report: even with the longest names the wire admits (~3 KB an edge) a report
    /// stays under the control plane's 1 MiB request-body limit; a typical edge is ~0.6 KB.
    static let edgesPerReport = 300
    let instance: String
    let cap: Int
    /// The batch sent and not yet acknowledged.
    private(set) var pending: TelemetryReport?
    /// What the next batch will carry, since `windowStart`.
    private(set) var accumulating: EdgeTable
    private(set) var windowStart: Int
    private(set) var nextSeq = 1
    private(set) var lastAckSeq = 0
    /// Batches given up on (refused as malformed) since start.
    private(set) var droppedBatches = 0
    /// Connections folded into overflow edges since start (in the loops' tables and when merging).
    private(set) var foldedTotal = 0
    /// The rest of a cut too large for one report, sent as the next reports (before anything newer).
    private(set) var queued: ArraySlice<TelemetryEdge> = []
    private var queuedWindow = (start: 0, end: 0)

    init(instance: String, cap: Int, now: Int) {
        self.instance = instance
        self.cap = cap
        accumulating = EdgeTable(cap: cap)
        windowStart = now
    }

    /// Adds the tables taken from the loops (folding what does not fit).
    mutating func absorb(_ tables: [EdgeTable]) {
        let before = accumulating.foldedConnections
        for t in tables where !t.isEmpty || t.foldedConnections > 0 { accumulating.merge(t) }
        foldedTotal += accumulating.foldedConnections - before
    }

    /// The batch to send now: the pending one if any (unchanged), else a new one cut from the accumulating
    /// table (nil when there is nothing to report and `evenIfEmpty` is false).
    mutating func next(source: SPIFFEID, policyVersion: Int, now: Int, evenIfEmpty: Bool = false) -> TelemetryReport? {
        if let pending { return pending }
        var folded = 0
        if queued.isEmpty {
            guard evenIfEmpty || !accumulating.isEmpty else { return nil }
            queued = accumulating.sortedEdges[...]
            queuedWindow = (windowStart, max(windowStart, now))
            folded = accumulating.foldedConnections
            accumulating = EdgeTable(cap: cap)
            windowStart = max(windowStart, now)
        }
        let part = queued.prefix(Self.edgesPerReport)
        queued = queued.dropFirst(part.count)
        let report = TelemetryReport(source: source, instance: instance, seq: nextSeq, policyVersion: policyVersion,
                                     windowStart: queuedWindow.start, windowEnd: queuedWindow.end, edges: Array(part),
                                     foldedConnections: folded, droppedBatches: droppedBatches)
        nextSeq += 1
        pending = report
        return report
    }

    /// True when reports of an earlier cut are still to be sent.
    var hasQueued: Bool { !queued.isEmpty }

    /// The control plane counted (or had counted) the batch `ack.seq`; an answer for another one changes nothing.
    mutating func acknowledged(_ ack: TelemetryAck) -> Bool {
        guard let pending, ack.seq == pending.seq else { return false }
        self.pending = nil
        lastAckSeq = ack.seq
        return true
    }

    /// The control plane refused batch `seq` as malformed: it would never be accepted, so it is dropped.
    mutating func refused(seq: Int) -> Bool {
        guard let pending, pending.seq == seq else { return false }
        self.pending = nil
        droppedBatches += 1
        return true
    }

    /// Edge keys held here (the batch in flight and the accumulating one).
    var edgeKeys: Int { accumulating.count + (pending?.edges.count ?? 0) + queued.count }
}
