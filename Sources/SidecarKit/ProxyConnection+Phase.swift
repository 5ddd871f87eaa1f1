/// The phases of a proxied connection, each holding the ends that exist in it, so no phase can touch an end it
/// does not have. Inbound: `downstreamHandshake → connecting → pumping`; outbound:
/// `opening → connecting → upstreamHandshake → pumping`. On an inbound `http` port whose app closed after an
/// answer, `pumping → connecting → pumping` dials the app again for the next request (`redialApp`). Any phase
/// becomes `closed`, only in `finish`, which drops both ends.
enum ProxyPhase {
    /// Outbound, just accepted: the checks before dialing run at once (no event is handled here).
    case opening(down: ProxyEnd)
    /// Inbound: mTLS handshake with the remote sidecar, then verify and authorize its identity.
    case downstreamHandshake(down: ProxyEnd)
    /// Dialing `up`: the app (inbound) or the remote sidecar (outbound).
    case connecting(down: ProxyEnd, up: ProxyEnd)
    /// Outbound: mTLS handshake with the remote sidecar, then check it is who it must be.
    case upstreamHandshake(down: ProxyEnd, up: ProxyEnd)
    /// Moving bytes both ways until both directions are closed.
    case pumping(down: ProxyEnd, up: ProxyEnd)
    /// Outbound `http`: requests carried one by one on pooled hops (the session owns those).
    case http(down: ProxyEnd, session: OutboundHTTPConnection)
    case closed

    /// The ends this phase holds (for teardown).
    var ends: (down: ProxyEnd?, up: ProxyEnd?) {
        switch self {
        case .opening(let down), .downstreamHandshake(let down), .http(let down, _): (down, nil)
        case .connecting(let down, let up), .upstreamHandshake(let down, let up), .pumping(let down, let up): (down, up)
        case .closed: (nil, nil)
        }
    }

    var isClosed: Bool { if case .closed = self { true } else { false } }

    /// A deadline that passes here refuses the peer (it never proved who it is) rather than failing a connection.
    var refusesOnDeadline: Bool { if case .downstreamHandshake = self { true } else { false } }
}
