import MeshHTTP
import MeshObservability
import Synchronization

/// The control plane's HTTP server as `/metrics` shows it: refusals by reason, open connections, parked long
/// polls. The API is built before the server exists, so the server attaches a reader when it starts; until
/// then (and in-process tests without a server) every value reads zero, every reason still listed.
public final class ControlServerStats: Sendable {
    /// One reading, taken on the server's loop (where its counts live).
    public struct Reading: Sendable {
        public var refusals: [String: Int] = [:]
        public var connectionsOpen = 0
        public var longPollsParked = 0
    }

    /// Every reason the metric lists, zero included: the HTTP server's and the control plane's own.
    public static let reasons = HTTPServerRefusal.allCases.map(\.rawValue) + [ControlServer.longPollsFull]

    private let reader = Mutex<(@Sendable () -> Reading)?>(nil)

    func attach(_ read: @escaping @Sendable () -> Reading) { reader.withLock { $0 = read } }

    public func read() -> Reading { reader.withLock { $0 }?() ?? Reading() }

    /// `mesh_control_http_refusals_total{reason}`, `mesh_control_connections_open`, `mesh_control_long_polls_parked`.
    public func metricFamilies() -> [MetricFamily] {
        let r = read()
        return [
            MetricFamily("mesh_control_http_refusals_total", .counter, help: "Connections and requests the control plane's HTTP server refused or reaped, by reason.",
                         Self.reasons.map { MetricSample(["reason": $0], .int(r.refusals[$0] ?? 0)) }),
            MetricFamily("mesh_control_connections_open", .gauge, help: "Connections open to the control plane's HTTP server.",
                         [MetricSample(.int(r.connectionsOpen))]),
            MetricFamily("mesh_control_long_polls_parked", .gauge, help: "Policy long polls parked, waiting for an answer.",
                         [MetricSample(.int(r.longPollsParked))]),
        ]
    }
}
