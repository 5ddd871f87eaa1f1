/// Telemetry to the control plane (issue 9): per-edge counts, cut into a batch every `intervalSeconds` and
/// reported over mTLS. In force only when the identity comes from a control plane (`identity.bootstrap`).
public struct TelemetrySettings: Sendable, Equatable {
    /// Default true: a sidecar with a control plane reports to it.
    public var enabled = true
    /// Seconds between batches (default 5; 1…300).
    public var intervalSeconds = 5
    /// Edge keys kept per table (default 1,024; 16…100,000): each loop's live table, the batch waiting for its
    /// acknowledgement and the one accumulating meanwhile. A new key beyond it is folded into an overflow edge.
    public var maxEdges = 1_024
    public init() {}

    public static let intervalRange = 1...300
    public static let maxEdgesRange = 16...100_000
}

extension SidecarConfig {
    /// True when this sidecar reports telemetry: enabled, and a control plane to report to.
    public var reportsTelemetry: Bool { telemetry.enabled && identity.bootstrap != nil }

    /// `telemetry`: `{"enabled": true, "intervalSeconds": 5, "maxEdges": 1024}`, every member optional.
    static func parseTelemetry(_ node: JSONNode, bootstrap: BootstrapSettings?) throws(MeshError) -> TelemetrySettings {
        let r = try node.object(fields: ["enabled", "intervalSeconds", "maxEdges"])
        var t = TelemetrySettings()
        if let n = r.optional("enabled") {
            t.enabled = try n.bool()
            if t.enabled && bootstrap == nil {
                throw n.error(.configBadValue, "telemetry needs a control plane to report to (identity.bootstrap)")
            }
        }
        if let n = r.optional("intervalSeconds") { t.intervalSeconds = try n.int(in: TelemetrySettings.intervalRange) }
        if let n = r.optional("maxEdges") { t.maxEdges = try n.int(in: TelemetrySettings.maxEdgesRange) }
        return t
    }
}
