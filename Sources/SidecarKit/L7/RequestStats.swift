import Synchronization
import MeshObservability

/// Per-request counters of `http` ports: `mesh_http_requests_total{direction,method,route,status_class,verdict}`
/// and `mesh_http_request_duration_seconds{direction}`. Every label comes from a closed set: methods folded to
/// the standard ones or `other`, route the deciding rule's path pattern (from configuration, never the raw
/// path; `-` when the rule has none), status class `1xx`…`5xx`. Updated once per request under a short lock.
public final class RequestStats: Sendable {
    public struct Key: Hashable, Sendable {
        public let direction: Direction
        public let method: String
        public let route: String
        public let statusClass: String
        public let verdict: String
    }

    /// The table, and the entry counted last: a request like the one before it (the usual case: one route, one
    /// method, `2xx`) is counted by comparing the key, without hashing its five strings twice.
    private struct Counts {
        var table: [Key: Tally] = [:]
        var last: (key: Key, tally: Tally)?
    }

    /// A count that is changed in place (a class: no dictionary write per request).
    private final class Tally {
        var n = 0
    }

    private let counts = Mutex<Counts>(Counts())
    /// Time from a request's head to the end of its answer (the app's, or our refusal).
    public let latency = Direction.allCases.map { _ in Histogram.request() }

    public init() {}

    /// A method as a label: itself when standard, else `other` (compared, not hashed: methods are short).
    static func methodLabel(_ m: String) -> String {
        switch m {
        case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE": m
        default: "other"
        }
    }

    private static let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    /// From a table: this runs for every request, and interpolation would build the string each time.
    static func statusClass(_ status: Int) -> String {
        (100...599).contains(status) ? classes[status / 100 - 1] : "other"
    }

    public func count(_ direction: Direction, method: String, route: String?, status: Int, allowed: Bool, seconds: Double) {
        let key = Key(direction: direction, method: Self.methodLabel(method), route: route ?? "-",
                      statusClass: Self.statusClass(status), verdict: allowed ? "allow" : "deny")
        counts.withLock { c in
            if let last = c.last, last.key == key { return last.tally.n += 1 }
            // Not `[key, default:]`: the dictionary's modify coroutines allocate their frames on every call.
            let tally: Tally
            if let t = c.table[key] {
                tally = t
            } else {
                tally = Tally()
                c.table[key] = tally
            }
            tally.n += 1
            c.last = (key, tally)
        }
        latency[direction == .inbound ? 0 : 1].observe(seconds: seconds)
    }

    public func snapshot() -> [Key: Int] { counts.withLock { $0.table.mapValues(\.n) } }

    /// Both families, for `/stats` and `/metrics`, once some request was counted (a sidecar without `http`
    /// ports renders what it always did).
    func add(to snap: inout StatsSnapshot) {
        let counted = snapshot()
        guard !counted.isEmpty else { return }
        let c = counted.sorted { ($0.key.direction.rawValue, $0.key.route, $0.key.method, $0.key.statusClass, $0.key.verdict)
            < ($1.key.direction.rawValue, $1.key.route, $1.key.method, $1.key.statusClass, $1.key.verdict) }
        snap.add("mesh_http_requests_total", .counter,
                 help: "HTTP requests on http ports, by direction, method (or other), route (the rule's path pattern), status class and verdict.",
                 c.map { MetricSample(["direction": $0.key.direction.rawValue, "method": $0.key.method, "route": $0.key.route,
                                       "status_class": $0.key.statusClass, "verdict": $0.key.verdict], .int($0.value)) })
        snap.add("mesh_http_request_duration_seconds", .histogram,
                 help: "Time from a request's head to the end of its answer, by direction.",
                 Direction.allCases.enumerated().map { MetricSample(["direction": $0.element.rawValue], .histogram(latency[$0.offset].snapshot())) })
    }
}

extension Histogram {
    /// 100 µs … 10 s: request latencies.
    static func request() -> Histogram {
        Histogram(bounds: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    }
}
