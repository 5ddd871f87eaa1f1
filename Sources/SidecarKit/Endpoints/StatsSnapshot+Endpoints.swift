import MeshCore
import MeshHTTP
import MeshObservability

/// Per-endpoint counters in `/metrics` (`mesh_endpoint_*{listener,endpoint}`) and `/stats` (`endpoints`).
/// Label values are configured listener names and endpoint addresses (bounded by `EndpointStatsTable`).
extension StatsSnapshot {
    mutating func addEndpoints(_ table: EndpointStatsTable, nowMs: Int64) {
        let rows = table.rows(nowMs: nowMs)
        guard !rows.isEmpty else { return }  // no outbound connection yet: the families appear with the first
        func family(_ name: String, _ kind: MetricKind, _ help: String, _ pick: (EndpointStatsTable.Row) -> Int) {
            add(name, kind, help: help, rows.map { MetricSample(["listener": $0.listener, "endpoint": $0.endpoint], .int(pick($0))) })
        }
        family("mesh_endpoint_active", .gauge, "Outbound connections in flight to the endpoint now.") { $0.active }
        family("mesh_endpoint_connections_total", .counter, "Outbound connections (dials) made to the endpoint.") { $0.connections }
        family("mesh_endpoint_failures_total", .counter, "Dials, handshakes or uses of the endpoint that failed.") { $0.failures }
        family("mesh_endpoint_ejections_total", .counter, "Times the endpoint was taken out for a back-off.") { $0.ejections }
        family("mesh_endpoint_retries_total", .counter, "Failed dials of the endpoint retried on another endpoint (the app saw no error).") { $0.retried }
        family("mesh_endpoint_ejected", .gauge, "1 while some loop has the endpoint taken out.") { $0.ejected ? 1 : 0 }
    }

    /// `/stats`: `,"endpoints": [{"listener", "endpoint", "active", "connections", "failures", "ejections", "retries", "ejected"}]`.
    /// Empty when no outbound connection was made yet (the member is left out, as `/stats` was before).
    func endpointsJSON() -> String {
        let samples = family("mesh_endpoint_connections_total")?.samples ?? []
        guard !samples.isEmpty else { return "" }
        return ",\"endpoints\":[" + samples.map { s -> String in
            let l = s.label("listener") ?? "", e = s.label("endpoint") ?? ""
            let labels: KeyValuePairs<String, String> = ["listener": l, "endpoint": e]
            let head: String = "{\"listener\":\(JSONText.quote(l)),\"endpoint\":\(JSONText.quote(e)),"
            let active: Int = int("mesh_endpoint_active", labels), failures: Int = int("mesh_endpoint_failures_total", labels)
            let ejections: Int = int("mesh_endpoint_ejections_total", labels), retries: Int = int("mesh_endpoint_retries_total", labels)
            let ejected: Bool = int("mesh_endpoint_ejected", labels) == 1
            let counts: String = "\"active\":\(active),\"connections\":\(s.value.intValue),\"failures\":\(failures),"
            return head + counts + "\"ejections\":\(ejections),\"retries\":\(retries),\"ejected\":\(ejected)}"
        }.joined(separator: ",") + "]"
    }
}
