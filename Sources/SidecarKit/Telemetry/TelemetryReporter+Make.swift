import MeshAPI
import MeshControlClient
import MeshCore
import MeshTLS

extension SidecarCommand {
    /// The production reporter: reports with our current workload certificate to the configured control plane,
    /// the way the policy agent calls it (nil when the config does not report).
    static func makeTelemetryReporter(_ runtime: SidecarRuntime) -> TelemetryReporter? {
        let config = runtime.config
        guard config.reportsTelemetry, let bootstrap = config.identity.bootstrap else { return nil }
        @Sendable func client(timeoutMs: Int) throws -> ControlPlaneClient {
            let ctx = try TLSContext(role: .client, identity: runtime.state.identity, resumption: .off)
            return try ControlPlaneClient(settings: bootstrap, tls: ctx, timeoutMs: timeoutMs)
        }
        var random = SystemRandomNumberGenerator()
        let log = runtime.log, clock = runtime.clock
        return TelemetryReporter(
            settings: config.telemetry, instance: TelemetryReporter.makeInstance(using: &random),
            source: { runtime.state.identity.spiffeID }, policyVersion: { runtime.state.slice?.version ?? 0 },
            now: { clock.wallSeconds() }, log: { log.event($0, fields: $1) },
            send: { try client(timeoutMs: 10_000).report($0) },
            finalSend: { try client(timeoutMs: Int(TelemetryReporter.finalFlushSeconds * 500)).report($0) })
    }
}
