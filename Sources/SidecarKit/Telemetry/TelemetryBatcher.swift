import MeshAPI
import MeshCore

/// The reporting state, apart from threads and sockets (so tests drive it with a fake `send`). At most one
/// batch is in flight: it keeps its `seq` and its content, unchanged, until the control plane acknowledges it
/// (a retry is then recognised as a duplicate and not counted twice), or refuses it as malformed (dropped,
/// counted). Meanwhile new traffic accumulates into the next batch, bounded by the same edge cap.
struct TelemetryBatcher: Sendable {
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
        guard evenIfEmpty || !accumulating.isEmpty else { return nil }
        let report = TelemetryReport(source: source, instance: instance, seq: nextSeq, policyVersion: policyVersion,
                                     windowStart: windowStart, windowEnd: max(windowStart, now), edges: accumulating.sortedEdges,
                                     foldedConnections: accumulating.foldedConnections, droppedBatches: droppedBatches)
        nextSeq += 1
        accumulating = EdgeTable(cap: cap)
        windowStart = max(windowStart, now)
        pending = report
        return report
    }

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
    var edgeKeys: Int { accumulating.count + (pending?.edges.count ?? 0) }
}
