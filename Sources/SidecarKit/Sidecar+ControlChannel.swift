import MeshControlClient
import MeshCore
import MeshTLS

/// The sidecar's one keep-alive mTLS connection to the control plane: policy polls, renewals (and telemetry
/// reports) share it instead of paying a TLS handshake per call. Bootstrap (a join token) never uses it.
extension SidecarCommand {
    /// A channel when the identity comes from the control plane; it presents `identity` until the sidecar runs,
    /// then whatever identity is in force (`Sidecar.use(channel:)`).
    static func controlChannel(_ config: SidecarConfig, identity: TLSIdentity) -> ControlChannel? {
        guard let b = config.identity.bootstrap else { return nil }
        return try? ControlChannel(settings: b, identity: { identity })
    }
}

extension Sidecar {
    /// Shares `channel` with the agents (set before `start`): it follows the identity in force, so after a
    /// renewal's reload the next request reconnects with the new certificate.
    public func use(channel: ControlChannel?) {
        controlChannel = channel
        guard let channel else { return }
        let runtime = self.runtime
        channel.follow { runtime.state.identity }
        agent?.use(channel: channel)
    }

    /// A control-plane client whose calls go over the shared channel (nil when the sidecar has none: its
    /// identity is static). For the telemetry reporter: `sidecar.makeControlClient()?.report(batch)`.
    public func makeControlClient(timeoutMs: Int = 10_000) throws -> ControlPlaneClient? {
        guard let channel = controlChannel, let b = runtime.config.identity.bootstrap else { return nil }
        let ctx = try TLSContext(role: .client, identity: runtime.state.identity, resumption: .off)
        return try ControlPlaneClient(settings: b, tls: ctx, timeoutMs: timeoutMs, channel: channel)
    }
}
