import MeshCore
import MeshNet

/// Which endpoint an outbound connection dialed, through which balancer, and how many dials it made.
struct UpstreamDial {
    var balancer: EndpointBalancer?
    /// Where the retries may go (the listener's upstream, or a transparent destination's).
    var upstream: SidecarState.Upstream?
    /// The endpoint in use (reported to the balancer exactly once, then nil).
    var endpoint: Int?
    var attempts = 0
}

/// Outbound dials through the listener's `EndpointBalancer`: pick, and when the dial or the handshake fails
/// before any byte of the app was forwarded (the app's socket is not even read until the upstream is verified),
/// eject that endpoint and dial another, up to `EndpointBalancer.maxDialAttempts`, so the app never sees the
/// dead replica.
extension ProxyConnection {
    /// `key` names the balancer (default: the listener; transparent connections use one per destination service).
    func dialUpstream(_ down: ProxyEnd, _ upstream: SidecarState.Upstream, key: String? = nil, avoiding: Int? = nil) {
        let b = dial.balancer ?? context.balancer(for: key ?? listener, upstream: upstream)
        dial.balancer = b
        dial.upstream = upstream
        guard let i = b.pick(nowNs: runtime.clock.monotonicNs(), avoiding: avoiding) else {
            finish(reason: .noEndpoint, detail: destination.map { "no endpoint for \($0.service):\($0.port)" }, refused: true)
            return
        }
        dial.endpoint = i
        dial.attempts += 1
        b.started(i)
        connect(down, to: b.address(i))
    }

    /// Called by `finish` first: true when the failure was absorbed by dialing another endpoint.
    func retryElsewhere(reason: CloseReason) -> Bool {
        guard direction == .outbound, let b = dial.balancer, let i = dial.endpoint else { return false }
        let outcome: EndpointOutcome
        switch phase {
        case .opening, .connecting: outcome = .connectFailed  // opening: the connect call itself failed
        case .upstreamHandshake: outcome = .handshakeFailed
        default: return false
        }
        guard Self.isEndpointFailure(reason) else { return false }
        b.finished(i, outcome: outcome, nowNs: runtime.clock.monotonicNs())
        dial.endpoint = nil
        guard dial.attempts < min(EndpointBalancer.maxDialAttempts, b.endpoints.count),
              let down = phase.ends.down, let upstream = dial.upstream else { return false }
        cancelTimer()
        phase.ends.up?.close(on: loop, reset: true)
        phase = .opening(down: down)
        b.retried(i)
        dialUpstream(down, upstream, avoiding: i)
        return true
    }

    /// Called by `finish` (after `retryElsewhere` declined): tells the balancer how the use of its endpoint ended.
    func endpointFinished(reason: CloseReason) {
        guard let b = dial.balancer, let i = dial.endpoint else { return }
        dial.endpoint = nil
        let outcome: EndpointOutcome
        switch phase {
        case .pumping: outcome = reason == .tlsError ? .failed : .success
        case .opening, .connecting: outcome = reason == .upstreamUnreachable || reason == .upstreamConnectTimeout ? .connectFailed : .cancelled
        case .upstreamHandshake: outcome = Self.isEndpointFailure(reason) ? .handshakeFailed : .cancelled
        default: outcome = .cancelled
        }
        b.finished(i, outcome: outcome, nowNs: runtime.clock.monotonicNs())
    }

    /// The endpoint's fault (it did not answer, or did not prove it is who it must be), not a decision of ours
    /// or the app's going away.
    static func isEndpointFailure(_ r: CloseReason) -> Bool {
        switch r {
        case .upstreamUnreachable, .upstreamConnectTimeout, .handshakeFailed, .handshakeEOF, .handshakeTimeout, .notTLS,
             .plaintextHTTP, .protocolVersion, .wrongServerIdentity,
             .identityRevoked:  // this replica's certificate is on the deny list (a cloned key): another may be fine
            return true
        default:
            return r.rawValue.hasPrefix("cert-") || r.rawValue.hasPrefix("svid-")
        }
    }
}
