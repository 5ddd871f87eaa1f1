import Synchronization
import MeshNet

/// Counters of one endpoint of one outbound listener, summed over the loops (each loop's balancer adds to the
/// same one). Touched once per connection event, never per byte.
final class EndpointCounters: Sendable {
    let listener: String
    let endpoint: String
    /// Connections (or pooled requests) in flight now.
    let active = Atomic<Int>(0)
    /// Uses started, and those that failed (connect, handshake, or after `outlierFailures` in a row).
    let connections = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    /// Times some loop took it out, and until when (monotonic ms; the latest of the loops).
    let ejections = Atomic<Int>(0)
    let ejectedUntilMs = Atomic<Int>(0)
    /// Dials that failed here and were retried on another endpoint before the app saw an error.
    let retried = Atomic<Int>(0)

    init(listener: String, endpoint: String) {
        self.listener = listener
        self.endpoint = endpoint
    }
}

/// Every endpoint's counters, by (listener, endpoint), for `/stats` and `/metrics`. Bounded: at most
/// `maxEntries` (default 1,024) pairs; beyond it further endpoints share one `other` entry per listener, so a
/// control plane handing out many endpoints cannot grow the metrics without limit. Looked up only when a
/// balancer is built (a new slice), not per connection.
public final class EndpointStatsTable: Sendable {
    static let maxEntries = 1_024
    private let table = Mutex<[String: EndpointCounters]>([:])

    public init() {}

    func counters(listener: String, endpoint: SocketAddress) -> EndpointCounters {
        let name = endpoint.description
        return table.withLock { t in
            let key = listener + "\u{0}" + name
            if let c = t[key] { return c }
            if t.count >= Self.maxEntries {
                let other = listener + "\u{0}other"
                if let c = t[other] { return c }
                let c = EndpointCounters(listener: listener, endpoint: "other")
                t[other] = c
                return c
            }
            let c = EndpointCounters(listener: listener, endpoint: name)
            t[key] = c
            return c
        }
    }

    /// One row per (listener, endpoint), sorted.
    struct Row {
        let listener: String, endpoint: String
        let active: Int, connections: Int, failures: Int, ejections: Int, retried: Int
        let ejected: Bool
    }

    func rows(nowMs: Int64) -> [Row] {
        table.withLock { Array($0.values) }.map { c in
            Row(listener: c.listener, endpoint: c.endpoint, active: c.active.load(ordering: .relaxed),
                connections: c.connections.load(ordering: .relaxed), failures: c.failures.load(ordering: .relaxed),
                ejections: c.ejections.load(ordering: .relaxed), retried: c.retried.load(ordering: .relaxed),
                ejected: c.ejectedUntilMs.load(ordering: .relaxed) > Int(nowMs))
        }.sorted { ($0.listener, $0.endpoint) < ($1.listener, $1.endpoint) }
    }
}
