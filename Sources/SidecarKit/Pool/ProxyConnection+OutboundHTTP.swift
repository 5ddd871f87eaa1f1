import MeshCore
import MeshPolicy
import MeshNet

/// Where an outbound connection branches to pooled hops.
extension ProxyConnection {
    /// What the listener speaks: with policy from the control plane, what the mesh declares for the
    /// destination's port; otherwise the listener's `protocol`.
    /// Runs for every new connection: the slice is read through optional chaining, never bound (`if let` would
    /// copy the whole `ServiceSlice`, a retain and a release of each of its references).
    func outboundProtocol(_ l: OutboundListener, _ upstream: SidecarState.Upstream) -> PortProtocol {
        if let d = l.destination, let p = l.destinationPort, let declared = state.slice?.outbound[d]?.protocol(port: p) {
            return declared
        }
        return upstream.protocol
    }

    /// The egress check passed: read the app's requests and carry them on pooled hops. `readNow`: the first
    /// bytes are already here (deferred accept), so read them without waiting for a readiness event; the app end
    /// then joins the epoll set only if the exchange has to wait on it.
    func startPooledHTTP(_ down: ProxyEnd, upstream: SidecarState.Upstream, target: HopTarget, readNow: Bool) {
        let session = OutboundHTTPConnection(conn: self, app: down, upstream: upstream, target: target)
        phase = .http(down: down, session: session)
        lastActivity = loop.now
        armIdleTimer(afterMs: Int64(runtime.config.limits.idleTimeoutMs))
        if readNow { session.appReady(.readable) } else { setInterest(down, .read) }
    }
}
