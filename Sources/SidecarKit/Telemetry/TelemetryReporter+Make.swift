import MeshAPI
import MeshControlClient
import MeshCore
import MeshTLS

extension SidecarCommand {
    /// The production reporter: reports with our current workload certificate to the configured control plane,
    /// over the keep-alive connection the agents share (nil when the config does not report). The last flush at
    /// shutdown and a batch sent early because of refusals take a connection of their own: the shared one may
    /// be held by a parked poll.
    static func makeTelemetryReporter(_ runtime: SidecarRuntime, channel: ControlChannel?) -> TelemetryReporter? {
        let config = runtime.config
        guard config.reportsTelemetry, let bootstrap = config.identity.bootstrap else { return nil }
        @Sendable func client(timeoutMs: Int, shared: Bool) throws -> ControlPlaneClient {
            let ctx = try TLSContext(role: .client, identity: runtime.state.identity, resumption: .off)
            return try ControlPlaneClient(settings: bootstrap, tls: ctx, timeoutMs: timeoutMs, channel: shared ? channel : nil)
        }
        var random = SystemRandomNumberGenerator()
        let log = runtime.log, clock = runtime.clock
        return TelemetryReporter(
            settings: config.telemetry, instance: TelemetryReporter.makeInstance(using: &random),
            source: { runtime.state.identity.spiffeID }, policyVersion: { runtime.state.slice?.version ?? 0 },
            now: { clock.wallSeconds() }, log: { log.event($0, fields: $1) },
            send: { try client(timeoutMs: 10_000, shared: true).report($0) },
            finalSend: { try client(timeoutMs: Int(TelemetryReporter.finalFlushSeconds * 500), shared: false).report($0) },
            refusalSeen: { runtime.refusalSeen.exchange(false, ordering: .relaxed) },
            urgentSend: { try client(timeoutMs: 5_000, shared: false).report($0) })
    }
}
