import MeshAPI

/// Per-edge counts over a window, bounded: at most `cap` keys of their own; a new key beyond that is folded
/// into its overflow edge (caller `(overflow)`, rule `(overflow)`, the rest of the key kept — destination, port,
/// observer, verdict and reason are bounded by the config and the policy, callers are not). So the table holds
/// at most `cap` keys plus one overflow edge per (observer, destination, port, verdict, reason), and
/// `foldedConnections` says how many connections lost their caller. Not thread-safe: a loop's table is touched
/// only on its thread, the reporter's only under its lock.
struct EdgeTable: Sendable {
    let cap: Int
    private(set) var edges: [EdgeKey: EdgeCounts] = [:]
    /// Connections counted in overflow edges.
    private(set) var foldedConnections = 0
    /// Keys of their own (not overflow edges); compared with `cap`.
    private(set) var ownKeys = 0

    static let overflowRule = "(overflow)"

    init(cap: Int) {
        precondition(cap > 0, "an edge table needs room for one key")
        self.cap = cap
    }

    var count: Int { edges.count }
    var isEmpty: Bool { edges.isEmpty }
    /// Connections counted, overflow included.
    var connections: Int { edges.values.reduce(0) { $0 + $1.connections } }

    /// The overflow edge `key` folds into.
    static func overflowKey(of key: EdgeKey) -> EdgeKey {
        EdgeKey(observer: key.observer, caller: EdgeKey.overflowCaller, destination: key.destination, port: key.port,
                allowed: key.allowed, rule: overflowRule, reason: key.reason)
    }

    static func isOverflow(_ key: EdgeKey) -> Bool { key.caller == EdgeKey.overflowCaller && key.rule == overflowRule }

    /// One ended connection (the data path: one hash probe, once per connection).
    mutating func record(_ key: EdgeKey, bytesToDestination: Int, bytesToCaller: Int, handshakeUs: Int?, durationUs: Int) {
        var one = EdgeCounts()
        one.record(bytesToDestination: bytesToDestination, bytesToCaller: bytesToCaller, handshakeUs: handshakeUs,
                   durationUs: durationUs)
        add(key, one)
    }

    /// Adds `counts` under `key`, or under its overflow edge when `key` is new and the table is full (an
    /// overflow edge itself always finds room: their number is bounded by the config, not by callers).
    mutating func add(_ key: EdgeKey, _ counts: EdgeCounts) {
        if edges[key] != nil {
            edges[key]!.add(counts)
        } else if Self.isOverflow(key) {
            edges[key] = counts
        } else if ownKeys < cap {
            edges[key] = counts
            ownKeys += 1
        } else {
            edges[Self.overflowKey(of: key), default: EdgeCounts()].add(counts)
            foldedConnections += counts.connections
        }
    }

    /// Adds every edge of `other` (folding what does not fit here), and what `other` had folded already.
    mutating func merge(_ other: EdgeTable) {
        for (key, counts) in other.edges { add(key, counts) }
        foldedConnections += other.foldedConnections
    }

    /// The edges in a stable order (for reports and tests).
    var sortedEdges: [TelemetryEdge] {
        edges.map { TelemetryEdge(key: $0.key, counts: $0.value) }.sorted { a, b in
            (a.key.observer.rawValue, a.key.destination, a.key.port, a.key.caller, a.key.rule, a.key.reason)
                < (b.key.observer.rawValue, b.key.destination, b.key.port, b.key.caller, b.key.rule, b.key.reason)
        }
    }
}
