import MeshAlerts
import MeshAPI
import MeshCore
import Synchronization

/// Scripted telemetry for the evaluator: identities of `mesh.local`, refused or allowed edges.
enum A {
    static func id(_ name: String, ns: String = "shop") -> String { "spiffe://mesh.local/ns/\(ns)/sa/\(name)" }

    static func edge(_ caller: String, _ destination: String, port: Int = 8080, allowed: Bool = false, n: Int = 1,
                     observer: TelemetryObserver = .outbound) -> TelemetryEdge {
        var counts = EdgeCounts()
        counts.connections = n
        return TelemetryEdge(key: EdgeKey(observer: observer, caller: caller, destination: destination, port: port, allowed: allowed,
                                          rule: allowed ? "r" : "default-deny", reason: allowed ? "allowed" : "policy-denied"), counts: counts)
    }

    static func report(_ source: String, _ edges: [TelemetryEdge], version: Int = 1, seq: Int = 1) -> TelemetryReport {
        TelemetryReport(source: try! SPIFFEID(parsing: source), instance: "i1", seq: seq, policyVersion: version,
                        windowStart: 0, windowEnd: 0, edges: edges)
    }

    /// Records each quarantine asked for.
    final class Quarantines: Sendable {
        let calls = Mutex<[(String, Double?, String)]>([])
        var action: QuarantineAction {
            { [self] id, _, forSeconds, rule in
                calls.withLock { $0.append((id.description, forSeconds, rule)) }
                return .success(())
            }
        }
        var count: Int { calls.withLock { $0.count } }
    }
}
