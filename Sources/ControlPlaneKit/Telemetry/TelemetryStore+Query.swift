import MeshAPI
import MeshCore

/// Reading the store: the graph over a window and the instance table.
extension TelemetryStore {
    /// Every edge with counts in the last `since` seconds (fine tier up to 1 h, else coarse), summed, sorted
    /// deterministically. `service` keeps edges whose destination is `service` or whose caller is `identity`.
    public func graph(since: Int, now: Int, service: String? = nil, identity: String? = nil) -> GraphAnswer {
        let tier = since <= Self.spans[0] ? 0 : 1
        let res = Self.resolutions[tier]
        let from = (now - since) - (now - since) % res
        var summed: [EdgeKey: GraphEdge] = [:]
        for (start, bucket) in tiers[tier] where start >= from && start <= now {
            for (key, counts) in bucket {
                if let service, key.destination != service && key.caller != identity { continue }
                if var e = summed[key] {
                    e.counts.add(counts)
                    e.firstSeen = min(e.firstSeen, start)
                    e.lastSeen = max(e.lastSeen, start)
                    summed[key] = e
                } else {
                    summed[key] = GraphEdge(key: key, counts: counts, firstSeen: start, lastSeen: start)
                }
            }
        }
        return GraphAnswer(from: from, to: now, resolutionSeconds: res, edges: summed.values.sorted { Self.ordered($0.key, $1.key) })
    }

    /// destination, port, caller, observer, verdict, rule, reason, then the shadow verdict and rule.
    static func ordered(_ a: EdgeKey, _ b: EdgeKey) -> Bool {
        if a.destination != b.destination { return a.destination < b.destination }
        if a.port != b.port { return a.port < b.port }
        if a.caller != b.caller { return a.caller < b.caller }
        if a.observer != b.observer { return a.observer.rawValue < b.observer.rawValue }
        if a.allowed != b.allowed { return a.allowed }
        if a.rule != b.rule { return a.rule < b.rule }
        if a.reason != b.reason { return a.reason < b.reason }
        let sa = a.shadowAllowed.map { $0 ? 1 : 2 } ?? 0, sb = b.shadowAllowed.map { $0 ? 1 : 2 } ?? 0
        if sa != sb { return sa < sb }
        return (a.shadowRule ?? "") < (b.shadowRule ?? "")
    }

    /// Each remembered instance, by identity then instance.
    public func sidecars(now: Int) -> [TelemetrySidecarList.Row] {
        instances.values.sorted { ($0.identity, $0.instance) < ($1.identity, $1.instance) }.map { i in
            TelemetrySidecarList.Row(identity: i.identity, instance: i.instance, lastSeq: i.lastSeq, lastReport: i.lastReport,
                                     secondsAgo: now - i.lastReport, policyVersion: i.policyVersion, reports: i.reports,
                                     duplicates: i.duplicates, edges: i.edges, foldedConnections: i.foldedConnections,
                                     droppedBatches: i.droppedBatches)
        }
    }

    /// Instances whose last report is at most `window` seconds old.
    public func reporting(now: Int, window: Int) -> Int {
        instances.values.reduce(0) { $0 + (now - $1.lastReport <= window ? 1 : 0) }
    }

    /// The last accepted seq of (source, instance); nil when unknown.
    public func lastSeq(source: String, instance: String) -> Int? { instances[Self.instanceKey(source, instance)]?.lastSeq }
}
