import MeshControlClient
import MeshObservability

/// The shared control-plane connection's counters (README metrics table): how often the sidecar pays a TLS
/// handshake with the control plane, and how many calls rode on a connection already open.
extension StatsSnapshot {
    mutating func addControlChannel(_ channel: ControlChannel) {
        add("mesh_control_channel_connects_total", .counter,
            help: "Connections (TLS handshakes) to the control plane on the shared channel, by why one was made.",
            channel.connects().map { MetricSample(["reason": $0.reason.rawValue], .int($0.count)) })
        add("mesh_control_channel_requests_total", .counter,
            help: "Calls answered on the shared control-plane channel, by whether their connection was new or reused.",
            [MetricSample(["connection": "new"], .int(channel.requestsOnNew.load(ordering: .relaxed))),
             MetricSample(["connection": "reused"], .int(channel.requestsReused.load(ordering: .relaxed)))])
        add("mesh_control_channel_failures_total", .counter,
            help: "Calls on the shared control-plane channel that failed (after the one retry of a stale connection).",
            [MetricSample(.int(channel.failures.load(ordering: .relaxed)))])
        add("mesh_control_channel_failovers_total", .counter,
            help: "Connections made to another control-plane replica than the one in use (bootstrap.controlPlane list).",
            [MetricSample(.int(channel.failovers))])
        add("mesh_control_channel_address", .gauge,
            help: "The control-plane replica the shared channel uses (or last used): 1 for that address.",
            [MetricSample(["address": "\(channel.activeAddress)"], .int(1))])
    }
}
