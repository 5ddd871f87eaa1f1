import MeshObservability

/// The mesh-wide figures of the control plane's `GET /metrics`: who reports and polls, what telemetry was
/// received, kept, folded and evicted, decisions summed from reports, journal fsync and policy push latency.
enum TelemetryMetrics {
    /// "Polling": distinct identities whose long poll was heard within the last 60 s.
    static let pollingWindow = 60.0

    static func families(_ cp: ControlPlane) -> [MetricFamily] {
        let r = cp.telemetry.reading()
        let now = cp.now()
        let polling = cp.distribution.sidecars.reduce(0) { $0 + (now - $1.lastSeen <= pollingWindow ? 1 : 0) }
        var decisions: [MetricSample] = []
        for observer in ["inbound", "outbound"] {
            for verdict in ["allow", "deny"] {
                decisions.append(MetricSample(["observer": observer, "verdict": verdict], .int(r.totals.decisions["\(observer)/\(verdict)"] ?? 0)))
            }
        }
        return [
            MetricFamily("mesh_control_sidecars_reporting", .gauge, help: "Sidecar instances that sent telemetry within the last 60 s.",
                         [MetricSample(.int(r.reporting))]),
            MetricFamily("mesh_control_sidecars_polling", .gauge, help: "Sidecar identities whose policy long poll was heard within the last 60 s.",
                         [MetricSample(.int(polling))]),
            MetricFamily("mesh_control_telemetry_reports_total", .counter, help: "Telemetry reports received, by result.", [
                MetricSample(["result": "accepted"], .int(r.totals.accepted)),
                MetricSample(["result": "duplicate"], .int(r.totals.duplicates)),
                MetricSample(["result": "refused"], .int(r.refused)),
            ]),
            MetricFamily("mesh_control_telemetry_edges", .gauge, help: "Distinct edges held in the telemetry store.",
                         [MetricSample(.int(r.edges))]),
            MetricFamily("mesh_control_telemetry_bucket_entries", .gauge, help: "Edge entries held over all time buckets (bounded by the entry cap).",
                         [MetricSample(.int(r.entries))]),
            MetricFamily("mesh_control_telemetry_folded_total", .counter, help: "Report edges folded into overflow edges because the edge cap was reached.",
                         [MetricSample(.int(r.totals.foldedEdges))]),
            MetricFamily("mesh_control_telemetry_evicted_total", .counter, help: "Bucket entries evicted because the entry cap was reached.",
                         [MetricSample(.int(r.totals.evictedEntries))]),
            MetricFamily("mesh_control_telemetry_journal_fsync_seconds", .histogram, help: "Time of each fsync of the telemetry journal (one covers every report that arrived meanwhile).",
                         [MetricSample(.histogram(cp.telemetry.fsyncSeconds.snapshot()))]),
            MetricFamily("mesh_control_decisions_total", .counter, help: "Connections by observing end and verdict, summed from accepted telemetry reports.",
                         decisions),
            MetricFamily("mesh_control_policy_push_seconds", .histogram, help: "From a policy change to each parked long poll handed its new slice.",
                         [MetricSample(.histogram(cp.distribution.pushSeconds.snapshot()))]),
        ]
    }
}
