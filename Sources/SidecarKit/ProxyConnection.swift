#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshPolicy
import MeshNet
import MeshTLS

/// One proxied connection: the accepted socket (`down`) and the one we dial (`up`). Inbound, `down` is mTLS
/// from a remote sidecar and `up` is plaintext to the app; outbound, `down` is plaintext from the app and
/// `up` is mTLS to a remote sidecar. Phases (`ProxyPhase`) run in order and hold the ends that exist in them;
/// a connection ends only through `finish`.
final class ProxyConnection: EventHandler {
    let direction: Direction
    let context: LoopContext
    let state: SidecarState
    let listener: String
    let listenPort: UInt16
    let peer: SocketAddress
    var phase: ProxyPhase
    var timer: TimerID?
    var lastActivity: Int64
    let startedAt: Int64
    /// Set once the peer's certificate is verified (so the handshake is done).
    var peerIdentity: SPIFFEID?
    /// The peer's verified leaf, for the deny list (serial, notBefore).
    var peerLeaf: Certificate?
    var holdsHandshakeSlot = false
    var handshakeStartNs: Int64 = 0
    /// The audit rules' verdict when it differed from the enforced one (for the telemetry edge).
    var shadowVerdict: Verdict?
    /// The rule that allowed this connection (inbound decision or egress), for its telemetry edge.
    var allowRule: String?
    /// Inbound: the service port the listener serves (0: not configured), for the telemetry edge.
    var servicePort = 0
    /// Microseconds the mTLS handshake took, once it finished.
    var handshakeUs: Int?
    /// Outbound: the destination service and port, for logs (the authorizer decides by the listener).
    var destination: (service: ServiceKey, port: Int)?
    /// Outbound: the endpoint dialed and its balancer (`Endpoints/ProxyConnection+Endpoints.swift`).
    var dial = UpstreamDial()
    /// Inbound on an `http` port, after authorization: the request engine (nil: bytes are pumped as they are).
    var http: InboundHTTP?
    /// Inbound: the listener speaks `http` (decided at authorization; the engine starts once the app is dialled).
    var speaksHTTP = false
    /// Set when the connection came through the transparent listener (see `ProxyConnection+Transparent`).
    var transparent: TransparentTarget?
    var loop: EventLoop { context.loop }
    var runtime: SidecarRuntime { context.sidecar }

    private init(direction: Direction, fd: Int32, peer: SocketAddress, listener: String, port: UInt16,
                 context: LoopContext, phase: ProxyPhase) {
        self.direction = direction
        self.context = context
        self.state = context.sidecar.state
        self.listener = listener
        self.listenPort = port
        self.peer = peer
        self.phase = phase
        lastActivity = context.loop.now
        startedAt = context.loop.now
    }

    // MARK: start

    /// mTLS from a remote sidecar: handshake (with a deadline and a slot in the loop's handshake budget),
    /// verify, authorize, then dial the app.
    static func startInbound(fd: Int32, peer: SocketAddress, listener l: InboundListener, context: LoopContext) {
        let down = ProxyEnd(fd: fd)
        let c = ProxyConnection(direction: .inbound, fd: fd, peer: peer, listener: l.name, port: l.listen.port,
                                context: context, phase: .downstreamHandshake(down: down))
        c.servicePort = l.servicePort ?? 0
        c.opened()
        if c.ownCertificateExpired() { return }
        do {
            try down.startTLS(c.state.inboundTLS)
            try context.loop.register(fd, .read, c)
        } catch {
            c.finish(reason: .internalError, detail: "\(error)", refused: true)
            return
        }
        c.holdsHandshakeSlot = true
        c.handshakeStartNs = c.runtime.clock.monotonicNs()
        context.handshakesInProgress += 1
        c.armDeadline(ms: c.runtime.config.limits.handshakeTimeoutMs, reason: .handshakeTimeout)
    }

    /// Plaintext from our app: dial the remote sidecar, handshake, check it is who it must be, then pump.
    /// `requestArrived`: the listener defers accept, so the app's first bytes are already here.
    static func startOutbound(fd: Int32, peer: SocketAddress, listener l: OutboundListener, context: LoopContext,
                              requestArrived: Bool = false) {
        // Decided once, on the connection's own state, before it is registered: a pooled (http) connection joins
        // the epoll set only when it must wait (read at once when its request is already here: a `Connection:
        // close` client is then answered and closed without any `epoll_ctl`).
        var upstream: SidecarState.Upstream?
        var pooled = false
        guard let (c, down) = openOutbound(fd: fd, peer: peer, listener: l.name, port: l.listen.port, context: context,
                                           destination: l.destination.flatMap { d in l.destinationPort.map { (d, $0) } },
                                           lazily: { c in
                                               upstream = c.state.upstreams[l.name]
                                               pooled = upstream.map { c.outboundProtocol(l, $0) == .http } ?? false
                                               return pooled
                                           }) else { return }
        guard let upstream else {
            c.finish(reason: .noEndpoint, detail: "no endpoint for \(l.destination.map { "\($0)" } ?? l.name)\(l.destinationPort.map { ":\($0)" } ?? "")",
                     refused: true)
            return
        }
        // Both ends enforce: egress the mesh's policy does not allow never leaves this sidecar.
        let verdict = c.egressVerdict(c.state)
        if let verdict, case .deny(let rule, let why) = verdict {
            c.finish(reason: why == .quarantined ? .identityQuarantined : .egressNotAllowed, detail: c.destination.map { "to \($0.service):\($0.port)" }, refused: true, rule: rule)
            return
        }
        c.allowRule = verdict?.rule ?? "\(l.name)/expect"
        if pooled { return c.startPooledHTTP(down, upstream: upstream, target: .listener(l.name), readNow: requestArrived) }
        c.dialUpstream(down, upstream)
    }

    /// The app's side of a connection going out (an outbound listener's or a transparently intercepted one):
    /// counted, refused at once if our own certificate has expired, registered with no interest (an L4 connection
    /// waits until the upstream is verified; `lazily` says whether to leave it out of the epoll set until it asks
    /// for something). nil when it already ended.
    static func openOutbound(fd: Int32, peer: SocketAddress, listener: String, port: UInt16, context: LoopContext,
                             destination: (ServiceKey, Int)? = nil,
                             lazily: (ProxyConnection) -> Bool = { _ in false }) -> (ProxyConnection, ProxyEnd)? {
        let down = ProxyEnd(fd: fd)
        let c = ProxyConnection(direction: .outbound, fd: fd, peer: peer, listener: listener, port: port,
                                context: context, phase: .opening(down: down))
        c.destination = destination
        c.opened()
        if c.ownCertificateExpired() { return nil }
        let deferred = lazily(c)
        do {
            try context.loop.register(fd, .none, c, lazily: deferred)
        } catch {
            c.finish(reason: .internalError, detail: "\(error)", refused: true)
            return nil
        }
        return (c, down)
    }

    /// Fail closed with a distinct reason once our own certificate has expired (the control plane was away
    /// for too long): no peer would accept it, and we must not pretend otherwise.
    private func ownCertificateExpired() -> Bool {
        let notAfter = state.identity.leafNotAfter
        guard notAfter <= runtime.clock.wallSeconds() else { return false }
        finish(reason: .ownCertificateExpired, detail: "our certificate expired at \(UTCTime.iso8601(notAfter, milliseconds: true))", refused: true)
        return true
    }

    private func opened() {
        let stats = runtime.stats.of(direction)
        stats.opened.add(1, ordering: .relaxed)
        stats.active.add(1, ordering: .relaxed)
        context.connections[ObjectIdentifier(self)] = self
    }

    // MARK: events

    func ready(fd: Int32, _ r: Readiness) {
        if r.hangUp && endGoneUnheard(fd, r) { return }
        switch phase {
        case .pumping(let down, let up):
            if let h = http { h.noteReady(fd == down.fd, r); serviceHTTP(down: down, up: up) } else { service(fd: fd, r, down: down, up: up) }
        case .downstreamHandshake(let down):
            driveHandshake(down)
        case .connecting(let down, let up):
            if fd == up.fd, r.writable { connected(down, up) }
        case .upstreamHandshake(_, let up):
            if fd == up.fd { driveHandshake(up) }
        case .http(_, let session):
            session.appReady(r)
        case .opening, .closed:
            return
        }
    }

    // MARK: handshake and authorization

    func driveHandshake(_ end: ProxyEnd) {
        guard let tls = end.tls else { return }
        switch tls.handshake() {
        case .wantRead: setInterest(end, .read)
        case .wantWrite: setInterest(end, .write)
        case .failed(let why, let detail):
            finish(reason: CloseReason(why), detail: detail, refused: true)
        case .done:
            cancelTimer()
            releaseHandshakeSlot()
            let stats = runtime.stats.of(direction)
            stats.handshakes.add(1, ordering: .relaxed)
            if tls.isResumed { stats.handshakesResumed.add(1, ordering: .relaxed) }
            let tookNs = runtime.clock.monotonicNs() - handshakeStartNs
            handshakeUs = Int(tookNs / 1000)
            stats.handshakeSeconds.observe(seconds: Double(tookNs) / 1e9)
            switch phase {
            case .downstreamHandshake(let down): authorizeInbound(tls, down)
            case .upstreamHandshake(let down, let up): verifyUpstream(tls, down, up)
            default: return
            }
        }
    }

    /// Decided on the state current now, not the one seen at accept: a reload or a new slice that landed while
    /// the handshake ran was re-checked without this connection (it had no identity yet).
    private func authorizeInbound(_ tls: TLSStream, _ down: ProxyEnd) {
        let current = runtime.state
        switch tls.verifyPeer(now: runtime.clock.wallSeconds()) {
        case .failure(let why):
            finish(reason: CloseReason(why), detail: nil, refused: true)
        case .success(let id):
            peerIdentity = id
            peerLeaf = tls.peerChain().first
            if isRevoked(id, in: current) { return finish(reason: .identityRevoked, detail: nil, refused: true, rule: "revoked") }
            if isQuarantined(id, in: current) { return finish(reason: .identityQuarantined, detail: nil, refused: true, rule: "quarantine") }
            switch inboundVerdict(id, in: current) {
            case .deny(let rule, let reason):
                finish(reason: CloseReason(reason), detail: nil, refused: true, rule: rule)
            case .allow(let rule):
                if let limit = current.authorizer.rateLimit(rule: rule, peer: id, now: runtime.clock.wallSeconds()),
                   !context.buckets.admit(.init(identity: id, rule: rule), limit: limit, now: Double(loop.now) / 1000) {
                    runtime.stats.count(rateLimited: rule)
                    return finish(reason: .rateLimited, detail: "over \(ThrottleList.text(limit.connectionsPerSecond)) new connections per second",
                                  refused: true, rule: rule)
                }
                allowRule = rule
                recordDecision(allowed: true, reason: "allowed", rule: rule, detail: nil)
                speaksHTTP = inboundProtocol(current) == .http
                guard let app = current.appAddresses[listener] else {
                    finish(reason: .noAppAddress, detail: nil, refused: true)
                    return
                }
                setInterest(down, .none)
                connect(down, to: app)
            }
        }
    }

    /// Secure naming and egress, both on the state current now (see `authorizeInbound`).
    private func verifyUpstream(_ tls: TLSStream, _ down: ProxyEnd, _ up: ProxyEnd) {
        let current = runtime.state
        let expected = expectedServer(in: current)
        switch tls.verifyPeer(expecting: expected, now: runtime.clock.wallSeconds()) {
        case .failure(let why):
            finish(reason: CloseReason(why), detail: expected.map { "expected \($0)" }, refused: true)
        case .success(let id):
            peerIdentity = id
            peerLeaf = tls.peerChain().first
            if isRevoked(id, in: current) { return finish(reason: .identityRevoked, detail: expected.map { "expected \($0)" }, refused: true, rule: "revoked") }
            if isQuarantined(id, in: current) { return finish(reason: .identityQuarantined, detail: nil, refused: true, rule: "quarantine") }
            if let v = egressVerdict(current, countShadow: false), case .deny(let rule, _) = v {
                finish(reason: .egressNotAllowed, detail: "egress no longer allowed (generation \(current.generation))",
                       refused: true, rule: rule)
                return
            }
            recordDecision(allowed: true, reason: "server-verified", rule: "\(listener)/expect", detail: nil)
            startPumping(down, up)
        }
    }

    /// Continuous verification: after a reload or a policy update, and when a grant expires, a connection whose
    /// peer the policy no longer allows ends now (`permission-revoked`), as does an outbound one whose upstream
    /// must now be someone else or whose egress is no longer allowed. Egress is re-checked in every phase (also
    /// while dialing or handshaking); a connection still handshaking is decided on the current state when its
    /// handshake ends.
    func recheck(with new: SidecarState) {
        guard !phase.isClosed else { return }
        if let id = peerIdentity, isRevoked(id, in: new) {
            finish(reason: .identityRevoked, detail: "revoked (generation \(new.generation))", refused: true, rule: "revoked", reset: true)
            return
        }
        if let id = peerIdentity, isQuarantined(id, in: new) {
            finish(reason: .identityQuarantined, detail: "quarantined (generation \(new.generation))", refused: true, rule: "quarantine", reset: true)
            return
        }
        if direction == .outbound, let v = egressVerdict(new, countShadow: false), !v.isAllowed {
            finish(reason: .permissionRevoked, detail: "egress no longer allowed (generation \(new.generation))",
                   refused: true, rule: v.rule, reset: true)
            return
        }
        guard let id = peerIdentity else { return }
        if direction == .inbound {
            let verdict = inboundVerdict(id, in: new, countShadow: false)
            if !verdict.isAllowed {
                finish(reason: .permissionRevoked, detail: "no longer allowed after reload (generation \(new.generation))",
                       refused: true, rule: verdict.rule, reset: true)
            }
        } else if expectedServer(in: new) != id {
            finish(reason: .serverIdentityChanged, detail: "upstream must now present \(expectedServer(in: new).map { "\($0)" } ?? "nothing")",
                   refused: true, rule: "\(listener)/expect", reset: true)
        }
    }
}
