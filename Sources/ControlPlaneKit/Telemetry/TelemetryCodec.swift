import MeshAPI
import MeshCore

/// The on-disk forms of telemetry, one JSON document per line so that a file is read a line at a time:
/// - a journal line is one accepted report and the time it was received (`{"t": now, "report": …}`): replaying
///   it at that time puts it in the same buckets, and dedup by seq makes a replay idempotent;
/// - a snapshot is a header (format, the journal generation it is followed by, the totals), one line per
///   instance, and the buckets as `GraphAnswer`s of at most `chunk` edges (a bucket is a graph of its window).
enum TelemetryCodec {
    static let format = "mesh-telemetry-snapshot"
    /// Edges per snapshot line: keeps every line far below the parse limit.
    static let chunk = 1000
    static let lineLimits = StrictJSON.Limits(maxBytes: 16 << 20)

    static func journalLine(_ report: TelemetryReport, receivedAt: Int) -> [UInt8] {
        Array((JSONValue.object([("t", .int(receivedAt)), ("report", report.json)]).text + "\n").utf8)
    }

    static func readJournalLine(_ line: ArraySlice<UInt8>) throws(MeshError) -> (TelemetryReport, Int) {
        let doc = try StrictJSON.parse(line, limits: lineLimits)
        guard let t = doc["t"]?.intValue, let r = doc["report"] else {
            throw MeshError(.telemetryCorrupt, "a journal line needs \"t\" and \"report\"")
        }
        return (try TelemetryReport(json: r), t)
    }

    /// The snapshot in pieces of about `flushBytes`, handed to `sink` as they are made: a store of millions of
    /// entries is never encoded into one buffer.
    static func snapshot(_ s: TelemetryStore, journal: Int, flushBytes: Int = 1 << 20,
                         to sink: ([UInt8]) throws(MeshError) -> Void) throws(MeshError) {
        var out: [UInt8] = []
        func line(_ v: JSONValue) throws(MeshError) {
            out += Array(v.text.utf8)
            out.append(0x0a)
            if out.count >= flushBytes {
                try sink(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        let t = s.totals
        try line(.object([("format", .string(format)), ("journal", .int(journal)), ("accepted", .int(t.accepted)),
                          ("duplicates", .int(t.duplicates)), ("foldedEdges", .int(t.foldedEdges)),
                          ("evictedEntries", .int(t.evictedEntries)), ("evictedInstances", .int(t.evictedInstances)),
                          ("decisions", .object(t.decisions.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) }))]))
        for i in s.instances.values {
            try line(.object([("identity", .string(i.identity)), ("instance", .string(i.instance)), ("lastSeq", .int(i.lastSeq)),
                              ("lastReport", .int(i.lastReport)), ("policyVersion", .int(i.policyVersion)), ("reports", .int(i.reports)),
                              ("duplicates", .int(i.duplicates)), ("edges", .int(i.edges)),
                              ("foldedConnections", .int(i.foldedConnections)), ("droppedBatches", .int(i.droppedBatches))]))
        }
        for tier in 0..<2 {
            let res = TelemetryStore.resolutions[tier]
            for (start, bucket) in s.tiers[tier] {
                var part: [GraphEdge] = []
                part.reserveCapacity(min(chunk, bucket.count))
                for (key, counts) in bucket {
                    part.append(GraphEdge(key: key, counts: counts, firstSeen: start, lastSeen: start))
                    if part.count == chunk {
                        try line(GraphAnswer(from: start, to: start + res, resolutionSeconds: res, edges: part).json)
                        part.removeAll(keepingCapacity: true)
                    }
                }
                if !part.isEmpty { try line(GraphAnswer(from: start, to: start + res, resolutionSeconds: res, edges: part).json) }
            }
        }
        if !out.isEmpty { try sink(out) }
    }

    /// The whole snapshot as bytes (tests, small stores).
    static func snapshot(_ s: TelemetryStore, journal: Int) -> [UInt8] {
        var all: [UInt8] = []
        try! snapshot(s, journal: journal) { (piece: [UInt8]) throws(MeshError) in all += piece }
        return all
    }

    /// The store a snapshot holds, and the journal generation to replay from.
    static func restore(_ bytes: [UInt8], limits: TelemetryStore.Limits) throws(MeshError) -> (TelemetryStore, Int) {
        try restore(limits: limits) { (line: (ArraySlice<UInt8>) throws(MeshError) -> Void) throws(MeshError) in
            for l in bytes.split(separator: 0x0a) { try line(l) }
        }
    }

    /// The store a snapshot holds, its lines handed over one at a time by `lines` (a file read piecewise).
    static func restore(limits: TelemetryStore.Limits,
                        lines: ((ArraySlice<UInt8>) throws(MeshError) -> Void) throws(MeshError) -> Void) throws(MeshError) -> (TelemetryStore, Int) {
        var store = TelemetryStore(limits: limits)
        var journal = 0
        var first = true
        var empty = true
        try lines { (line: ArraySlice<UInt8>) throws(MeshError) in
            empty = false
            let doc = try StrictJSON.parse(line, limits: lineLimits)
            if first {
                guard doc["format"]?.stringValue == format, let j = doc["journal"]?.intValue else {
                    throw MeshError(.telemetryCorrupt, "not a telemetry snapshot")
                }
                journal = j
                var t = TelemetryStore.Totals()
                t.accepted = doc["accepted"]?.intValue ?? 0
                t.duplicates = doc["duplicates"]?.intValue ?? 0
                t.foldedEdges = doc["foldedEdges"]?.intValue ?? 0
                t.evictedEntries = doc["evictedEntries"]?.intValue ?? 0
                t.evictedInstances = doc["evictedInstances"]?.intValue ?? 0
                if case .object(let members)? = doc["decisions"] {
                    for (k, v) in members { t.decisions[k] = v.intValue ?? 0 }
                }
                store.totals = t
                first = false
            } else if let identity = doc["identity"]?.stringValue {
                guard let instance = doc["instance"]?.stringValue else { throw MeshError(.telemetryCorrupt, "an instance line needs an instance") }
                var i = TelemetryStore.Instance(identity: identity, instance: instance)
                i.lastSeq = doc["lastSeq"]?.intValue ?? 0
                i.lastReport = doc["lastReport"]?.intValue ?? 0
                i.policyVersion = doc["policyVersion"]?.intValue ?? 0
                i.reports = doc["reports"]?.intValue ?? 0
                i.duplicates = doc["duplicates"]?.intValue ?? 0
                i.edges = doc["edges"]?.intValue ?? 0
                i.foldedConnections = doc["foldedConnections"]?.intValue ?? 0
                i.droppedBatches = doc["droppedBatches"]?.intValue ?? 0
                store.instances[TelemetryStore.instanceKey(identity, instance)] = i
            } else {
                let g = try GraphAnswer(json: doc)
                guard let tier = TelemetryStore.resolutions.firstIndex(of: g.resolutionSeconds) else {
                    throw MeshError(.telemetryCorrupt, "a bucket of \(g.resolutionSeconds) s belongs to no tier")
                }
                for e in g.edges { store.insert(e.key, e.counts, tier: tier, start: g.from) }
            }
        }
        if first && !empty { throw MeshError(.telemetryCorrupt, "the snapshot has no header") }
        return (store, journal)
    }
}
