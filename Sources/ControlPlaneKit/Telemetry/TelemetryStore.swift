import MeshAPI
import MeshCore

/// The control plane's memory of telemetry: every report's edges added into time buckets of two tiers (10 s
/// for the last hour, 1 min for the last day), plus the per-instance dedup table. A pure value: the caller
/// passes the time in and serializes access (`TelemetryService`); copying it is cheap (copy-on-write), which is
/// how a snapshot is taken while ingestion goes on.
///
/// Memory is bounded by `Limits`: distinct edge keys (beyond: folded into an overflow edge), bucket entries
/// (beyond: the oldest fine buckets are evicted first) and instances (beyond: the one heard from longest ago).
public struct TelemetryStore: Sendable {
    public struct Limits: Sendable {
        /// Distinct edge keys over both tiers (default 100,000); a new key beyond it is folded into the overflow
        /// edge of its (observer, destination, port, verdict).
        public var maxEdges = 100_000
        /// Bucket entries (one edge in one bucket) over both tiers (default 2,000,000); at the cap the oldest fine
        /// bucket is evicted (then the oldest coarse one), and its entries counted as evicted.
        public var maxEntries = 2_000_000
        /// Sidecar instances remembered for dedup and `/v1/telemetry/sidecars` (default 50,000); beyond it the
        /// instance heard from longest ago is forgotten.
        public var maxInstances = 50_000
        public init() {}
    }

    /// One reporting sidecar process (its dedup state and the figures `/v1/telemetry/sidecars` shows).
    public struct Instance: Sendable, Equatable {
        public var identity: String
        public var instance: String
        public var lastSeq = 0
        public var lastReport = 0
        public var policyVersion = 0
        public var reports = 0
        public var duplicates = 0
        public var edges = 0
        public var foldedConnections = 0
        public var droppedBatches = 0
    }

    /// Running totals since the store was created (kept in the snapshot, so they survive a restart).
    public struct Totals: Sendable, Equatable {
        public var accepted = 0
        public var duplicates = 0
        /// Edges of reports folded into overflow edges because the key cap was reached.
        public var foldedEdges = 0
        /// Bucket entries evicted because the entry cap was reached (not counting normal expiry).
        public var evictedEntries = 0
        public var evictedInstances = 0
        /// Connections by observer and verdict (`inbound/allow` …), summed from accepted reports.
        public var decisions: [String: Int] = [:]
    }

    /// The two tiers: index 0 fine (10 s × 1 h), 1 coarse (60 s × 24 h).
    public static let resolutions = [10, 60]
    public static let spans = [3600, 86_400]

    public let limits: Limits
    /// tier → bucket start → edges.
    var tiers: [[Int: [EdgeKey: EdgeCounts]]] = [[:], [:]]
    /// Entries per distinct key; the stored key is the one shared by every bucket (interned strings).
    var keyRefs: [EdgeKey: Int] = [:]
    public private(set) var entries = 0
    var instances: [String: Instance] = [:]
    public internal(set) var totals = Totals()
    /// When buckets were last expired: at most once per fine bucket, not per report.
    var expiredAt = Int.min

    public init(limits: Limits = Limits()) { self.limits = limits }

    public var distinctEdges: Int { keyRefs.count }
    public var instanceCount: Int { instances.count }

    static func instanceKey(_ source: String, _ instance: String) -> String { source + " " + instance }

    /// Counts `report` unless its (source, instance, seq) was counted already; true when counted. Buckets are
    /// chosen by the report's `windowEnd` clamped to [now − 1 h, now].
    @discardableResult
    public mutating func ingest(_ report: TelemetryReport, now: Int) -> Bool {
        let id = Self.instanceKey(report.source.description, report.instance)
        if var known = instances[id], report.seq <= known.lastSeq {
            known.duplicates += 1
            instances[id] = known
            totals.duplicates += 1
            return false
        }
        expire(now: now)
        var rec = instances[id] ?? Instance(identity: report.source.description, instance: report.instance)
        if instances[id] == nil { makeRoomForInstance() }
        rec.lastSeq = report.seq
        rec.lastReport = now
        rec.policyVersion = report.policyVersion
        rec.reports += 1
        rec.edges = report.edges.count
        rec.foldedConnections += report.foldedConnections
        rec.droppedBatches += report.droppedBatches
        instances[id] = rec
        totals.accepted += 1

        let t = min(max(report.windowEnd, now - Self.spans[0]), now)
        for edge in report.edges {
            var key = edge.key
            if keyRefs[key] == nil && keyRefs.count >= limits.maxEdges {
                key = Self.overflow(key)
                totals.foldedEdges += 1
            }
            totals.decisions["\(key.observer.rawValue)/\(key.allowed ? "allow" : "deny")", default: 0] += edge.counts.connections
            for tier in 0..<2 { add(key, edge.counts, tier: tier, start: t - t % Self.resolutions[tier]) }
        }
        return true
    }

    /// The edge a new key is folded into when the key cap is reached.
    static func overflow(_ k: EdgeKey) -> EdgeKey {
        EdgeKey(observer: k.observer, caller: EdgeKey.overflowCaller, destination: k.destination, port: k.port,
                allowed: k.allowed, rule: EdgeKey.overflowCaller, reason: EdgeKey.overflowCaller)
    }

    mutating func add(_ key: EdgeKey, _ counts: EdgeCounts, tier: Int, start: Int) {
        if tiers[tier][start]?[key] != nil {
            tiers[tier][start]![key]!.add(counts)
            return
        }
        while entries >= limits.maxEntries, evictOldestBucket() {}
        insert(key, counts, tier: tier, start: start)
    }

    /// A new entry, its key interned.
    mutating func insert(_ key: EdgeKey, _ counts: EdgeCounts, tier: Int, start: Int) {
        var stored = key
        if let i = keyRefs.index(forKey: key) {
            stored = keyRefs.keys[i]
            keyRefs.values[i] += 1
        } else {
            keyRefs[key] = 1
        }
        tiers[tier][start, default: [:]][stored] = counts
        entries += 1
    }

    /// Evicts the oldest fine bucket, or the oldest coarse one when no fine bucket is left; false when empty.
    mutating func evictOldestBucket() -> Bool {
        for tier in 0..<2 {
            if let oldest = tiers[tier].keys.min() {
                totals.evictedEntries += drop(tier: tier, start: oldest)
                return true
            }
        }
        return false
    }

    /// Removes one bucket; returns how many entries it held.
    mutating func drop(tier: Int, start: Int) -> Int {
        guard let bucket = tiers[tier].removeValue(forKey: start) else { return 0 }
        for key in bucket.keys {
            if let i = keyRefs.index(forKey: key) {
                if keyRefs.values[i] <= 1 { keyRefs.remove(at: i) } else { keyRefs.values[i] -= 1 }
            }
        }
        entries -= bucket.count
        return bucket.count
    }

    /// Buckets that fell out of their tier's span go (expiry, not eviction).
    public mutating func expire(now: Int) {
        guard now >= expiredAt + Self.resolutions[0] || now < expiredAt else { return }
        expiredAt = now
        for tier in 0..<2 {
            let horizon = now - Self.spans[tier] - Self.resolutions[tier]
            for start in tiers[tier].keys.filter({ $0 < horizon }) { _ = drop(tier: tier, start: start) }
        }
    }

    mutating func makeRoomForInstance() {
        guard instances.count >= limits.maxInstances,
              let oldest = instances.min(by: { $0.value.lastReport < $1.value.lastReport })?.key else { return }
        instances.removeValue(forKey: oldest)
        totals.evictedInstances += 1
    }
}
