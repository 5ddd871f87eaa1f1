import MeshCore
import MeshHTTP
import MeshObservability

/// The reporter on the stats endpoint: counters in `/metrics` (and `/stats`), and `POST /telemetry/flush`.
extension StatsSnapshot {
    static func addTelemetry(_ snap: inout StatsSnapshot, _ t: TelemetryReporter, liveEdges: Int) {
        let status = t.status
        snap.add("mesh_telemetry_reports_total", .counter, help: "Telemetry batches sent to the control plane, by result.", [
            MetricSample(["result": "acknowledged"], .int(t.acknowledged.load(ordering: .relaxed))),
            MetricSample(["result": "duplicate"], .int(t.duplicates.load(ordering: .relaxed))),
            MetricSample(["result": "failed"], .int(t.failed.load(ordering: .relaxed))),
            MetricSample(["result": "dropped"], .int(t.dropped.load(ordering: .relaxed))),
        ])
        snap.add("mesh_telemetry_edges", .gauge, help: "Edge keys held for telemetry now (loops' live tables, next batch, batch in flight).",
                 [MetricSample(.int(liveEdges + status.edgeKeys))])
        snap.add("mesh_telemetry_folded_connections_total", .counter,
                 help: "Connections folded into overflow edges because an edge table was full.",
                 [MetricSample(.int(status.foldedConnections))])
        snap.add("mesh_telemetry_pending_batch", .gauge, help: "1 while a batch waits for the control plane's acknowledgement.",
                 [MetricSample(.int(status.pendingSeq == nil ? 0 : 1))])
        snap.add("mesh_telemetry_last_ack_seq", .gauge, help: "Sequence number of the last batch the control plane acknowledged.",
                 [MetricSample(.int(status.lastAckSeq))])
    }
}

extension AdminServer {
    /// `POST /telemetry/flush` (loopback): cut and send a batch now; answers once it is acknowledged
    /// (`{"acknowledged":true,"seq":N,"duplicate":false}`; seq 0 when there was nothing to send) or failed.
    static func flushTelemetry(_ sidecar: Sidecar, _ req: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard req.peer.isLoopback else {
            return respond(.error(MeshError(.adminNotLoopback, "state changes are accepted only from loopback")))
        }
        guard let telemetry = sidecar.telemetry else {
            return respond(.error(MeshError(.telemetryDisabled, "this sidecar does not report telemetry (no control plane, or telemetry.enabled is false)")))
        }
        telemetry.requestFlush { result in
            switch result {
            case .success(let ack):
                respond(.json("{\"acknowledged\":true,\"seq\":\(ack?.seq ?? telemetry.status.lastAckSeq),\"duplicate\":\(ack?.duplicate ?? false)}\n"))
            case .failure(let e):
                respond(.error(MeshError(.telemetryFlushFailed, "\(e.code): \(e.reason)")))
            }
        }
    }
}
