import MeshObservability
import Synchronization

/// A security event the control plane raises: a renewal from a cloned key, a revoked credential presented.
public struct SecurityEvent: Sendable {
    /// Stable: the log event's name and the metric's `event` label.
    public let name: String
    public let fields: [(String, String)]
}

/// Counts security events by name (a closed set) and tells observers (the server logs each one). Counting here,
/// not in the log, so `/metrics` needs no log parsing.
public final class SecurityEvents: Sendable {
    /// Every event name: the metric lists each, zero included.
    public static let names = ["clone-suspected", "revoked-credential", "quarantine-rate-limited"]
    private let counts = Mutex<[String: Int]>([:])
    public let observers = ChangeObservers<SecurityEvent>()

    func raise(_ name: String, _ fields: [(String, String)]) {
        counts.withLock { $0[name, default: 0] += 1 }
        observers.notify(SecurityEvent(name: name, fields: fields))
    }

    public func count(_ name: String) -> Int { counts.withLock { $0[name] ?? 0 } }

    /// `mesh_control_security_events_total{event}`, every event listed.
    public var metricFamily: MetricFamily {
        MetricFamily("mesh_control_security_events_total", .counter, help: "Security events raised by the control plane.",
                     Self.names.map { MetricSample(["event": $0], .int(count($0))) })
    }

    /// `mesh_control_security_events_total{event}` in the Prometheus text format.
    public func prometheus() -> String { PrometheusText.render(StatsSnapshot([metricFamily])) }
}
