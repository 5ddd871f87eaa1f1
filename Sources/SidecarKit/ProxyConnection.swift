#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshPolicy
import MeshNet
import MeshTLS

/// One proxied connection: the accepted socket (`down`) and the one we dial (`up`). Inbound, `down` is mTLS
/// from a remote sidecar and `up` is plaintext to the app; outbound, `down` is plaintext from the app and
/// `up` is mTLS to a remote sidecar. Phases run in order; a connection ends only through `finish`.
final class ProxyConnection: EventHandler {
    enum Phase { case downstreamHandshake, connecting, upstreamHandshake, pumping, closed }

    let direction: Direction
    let context: LoopContext
    let state: SidecarState
    let listener: String
    let listenPort: UInt16
    let peer: SocketAddress
    let down: ProxyEnd
    var up: ProxyEnd?
    var phase: Phase
    var timer: TimerID?
    var lastActivity: Int64
    let startedAt: Int64
    var bytesDownToUp = 0
    var bytesUpToDown = 0
    var peerIdentity: SPIFFEID?
    var rule: String?
    var holdsHandshakeSlot = false
    var handshakeDone = false
    var handshakeStartNs: Int64 = 0
    /// Outbound: the destination service and port, for logs (the authorizer decides by the listener).
    var destination: (service: ServiceKey, port: Int)?
    var loop: EventLoop { context.loop }
    var runtime: SidecarRuntime { context.sidecar }

    private init(direction: Direction, fd: Int32, peer: SocketAddress, listener: String, port: UInt16,
                 context: LoopContext, phase: Phase) {
        self.direction = direction
        self.context = context
        self.state = context.sidecar.state
        self.listener = listener
        self.listenPort = port
        self.peer = peer
        self.down = ProxyEnd(fd: fd)
        self.phase = phase
        lastActivity = context.loop.now
        startedAt = context.loop.now
    }

    // MARK: start

    /// mTLS from a remote sidecar: handshake (with a deadline and a slot in the loop's handshake budget),
    /// verify, authorize, then dial the app.
    static func startInbound(fd: Int32, peer: SocketAddress, listener l: InboundListener, context: LoopContext) {
        let c = ProxyConnection(direction: .inbound, fd: fd, peer: peer, listener: l.name, port: l.listen.port,
                                context: context, phase: .downstreamHandshake)
        c.opened()
        if c.ownCertificateExpired() { return }
        do {
            c.down.tls = try TLSStream(context: c.state.inboundTLS, fd: fd)
            try context.loop.register(fd, .read, c)
        } catch {
            c.finish(reason: "internal-error", detail: "\(error)", refused: true)
            return
        }
        c.holdsHandshakeSlot = true
        c.handshakeStartNs = c.runtime.clock.monotonicNs()
        context.handshakesInProgress += 1
        c.armDeadline(ms: c.runtime.config.limits.handshakeTimeoutMs, reason: PeerRejection.handshakeTimeout.rawValue)
    }

    /// Plaintext from our app: dial the remote sidecar, handshake, check it is who it must be, then pump.
    static func startOutbound(fd: Int32, peer: SocketAddress, listener l: OutboundListener, context: LoopContext) {
        let c = ProxyConnection(direction: .outbound, fd: fd, peer: peer, listener: l.name, port: l.listen.port,
                                context: context, phase: .connecting)
        if let d = l.destination, let p = l.destinationPort { c.destination = (d, p) }
        c.opened()
        if c.ownCertificateExpired() { return }
        do {
            try context.loop.register(fd, .none, c)
        } catch {
            c.finish(reason: "internal-error", detail: "\(error)", refused: true)
            return
        }
        guard let upstream = c.state.upstreams[l.name] else {
            c.finish(reason: Verdict.defaultDenyRule, detail: "no upstream named \(l.name)", refused: true)
            return
        }
        // Both ends enforce: egress the mesh's policy does not allow never leaves this sidecar.
        if let verdict = c.egressVerdict(c.state), case .deny(let rule, _) = verdict {
            c.finish(reason: "egress-not-allowed", detail: c.destination.map { "to \($0.service):\($0.port)" }, refused: true, rule: rule)
            return
        }
        c.connect(to: upstream.address)
    }

    /// Fail closed with a distinct reason once our own certificate has expired (the control plane was away
    /// for too long): no peer would accept it, and we must not pretend otherwise.
    private func ownCertificateExpired() -> Bool {
        let leaf = state.identity.leaf
        guard leaf.notAfter <= runtime.clock.wallSeconds() else { return false }
        finish(reason: "own-certificate-expired", detail: "our certificate expired at \(UTCTime.iso8601(leaf.notAfter, milliseconds: true))", refused: true)
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
        switch phase {
        case .downstreamHandshake:
            driveHandshake(down)
        case .connecting:
            if let up, fd == up.fd, r.writable { connected() }
        case .upstreamHandshake:
            if let up, fd == up.fd { driveHandshake(up) }
        case .pumping:
            service(fd: fd, r)
        case .closed:
            return
        }
    }

    // MARK: handshake and authorization

    private func driveHandshake(_ end: ProxyEnd) {
        guard let tls = end.tls else { return }
        switch tls.handshake() {
        case .wantRead: setInterest(end, .read)
        case .wantWrite: setInterest(end, .write)
        case .failed(let why, let detail):
            finish(reason: why.rawValue, detail: detail, refused: true)
        case .done:
            handshakeDone = true
            cancelTimer()
            releaseHandshakeSlot()
            let stats = runtime.stats.of(direction)
            stats.handshakes.add(1, ordering: .relaxed)
            if tls.isResumed { stats.handshakesResumed.add(1, ordering: .relaxed) }
            stats.handshakeSeconds.observe(seconds: Double(runtime.clock.monotonicNs() - handshakeStartNs) / 1e9)
            direction == .inbound ? authorizeInbound(tls) : verifyUpstream(tls)
        }
    }

    private func authorizeInbound(_ tls: TLSStream) {
        switch tls.verifyPeer() {
        case .failure(let why):
            finish(reason: why.rawValue, detail: nil, refused: true)
        case .success(let id):
            peerIdentity = id
            switch inboundVerdict(id, in: state) {
            case .deny(let rule, let reason):
                finish(reason: reason.rawValue, detail: nil, refused: true, rule: rule)
            case .allow(let rule):
                self.rule = rule
                recordDecision(allowed: true, reason: "allowed", rule: rule, detail: nil)
                guard let app = state.appAddresses[listener] else {
                    finish(reason: "no-app-address", detail: nil, refused: true)
                    return
                }
                setInterest(down, .none)
                connect(to: app)
            }
        }
    }

    private func verifyUpstream(_ tls: TLSStream) {
        let expected = state.authorizer.expectedServer(listener: listener)
        switch tls.verifyPeer(expecting: expected) {
        case .failure(let why):
            finish(reason: why.rawValue, detail: expected.map { "expected \($0)" }, refused: true)
        case .success(let id):
            peerIdentity = id
            rule = "\(listener)/expect"
            recordDecision(allowed: true, reason: "server-verified", rule: "\(listener)/expect", detail: nil)
            startPumping()
        }
    }

    /// The inbound decision, by the state's authorizer (counting the shadow verdict of audit rules, never
    /// enforcing it). Fails closed.
    func inboundVerdict(_ id: SPIFFEID, in s: SidecarState, countShadow: Bool = true) -> Verdict {
        let d = s.authorizer.inbound(listener: listener, peer: id, now: runtime.clock.wallSeconds())
        if countShadow, let shadow = d.shadow, shadow != d.enforced {
            runtime.stats.count(shadow: shadow, direction)
            runtime.log.event("shadow-decision", fields: [
                ("listener", .string(listener)), ("identity", .string(id.description)),
                ("enforced", .string(d.enforced.rule)), ("shadowVerdict", .string(shadow.isAllowed ? "allow" : "deny")),
                ("shadowRule", .string(shadow.rule))])
        }
        return d.enforced
    }

    /// The egress decision (nil when policy is static: the configured upstream is the permission).
    func egressVerdict(_ s: SidecarState) -> Verdict? {
        s.authorizer.outbound(listener: listener, now: runtime.clock.wallSeconds())
    }

    /// Continuous verification: after a reload or a policy update, and when a grant expires, a connection whose
    /// peer the policy no longer allows ends now (`permission-revoked`), as does an outbound one whose upstream
    /// must now be someone else or whose egress is no longer allowed.
    func recheck(with new: SidecarState) {
        guard phase != .closed, handshakeDone, let id = peerIdentity else { return }
        if direction == .outbound, let v = egressVerdict(new), !v.isAllowed {
            finish(reason: "permission-revoked", detail: "egress no longer allowed (generation \(new.generation))",
                   refused: true, rule: v.rule, reset: true)
            return
        }
        if direction == .inbound {
            let verdict = inboundVerdict(id, in: new, countShadow: false)
            if !verdict.isAllowed {
                finish(reason: "permission-revoked", detail: "no longer allowed after reload (generation \(new.generation))",
                       refused: true, rule: verdict.rule, reset: true)
            }
        } else if new.authorizer.expectedServer(listener: listener) != id {
            finish(reason: "server-identity-changed", detail: "upstream must now present \(new.authorizer.expectedServer(listener: listener).map { "\($0)" } ?? "nothing")",
                   refused: true, rule: "\(listener)/expect", reset: true)
        }
    }

    // MARK: dialing

    private func connect(to address: SocketAddress) {
        phase = .connecting
        do {
            let (fd, _) = try Socket.connect(address)
            let end = ProxyEnd(fd: fd)
            up = end
            Socket.setNoDelay(fd)
            try loop.register(fd, .write, self)
            end.interest = .write
        } catch {
            finish(reason: direction == .inbound ? "app-unreachable" : "upstream-unreachable", detail: "\(error)", refused: false)
            return
        }
        armDeadline(ms: runtime.config.limits.connectTimeoutMs,
                    reason: direction == .inbound ? "app-connect-timeout" : "upstream-connect-timeout")
    }

    private func connected() {
        guard let up else { return }
        let err = Socket.pendingError(up.fd)
        if err != 0 {
            finish(reason: direction == .inbound ? "app-unreachable" : "upstream-unreachable",
                   detail: String(cString: strerror(err)), refused: false)
            return
        }
        cancelTimer()
        if direction == .inbound {
            startPumping()
            return
        }
        do {
            let session = context.takeSession(for: listener, generation: state.generation)
            up.tls = try TLSStream(context: state.outboundTLS, fd: up.fd, resume: session)
        } catch {
            finish(reason: "internal-error", detail: "\(error)", refused: false)
            return
        }
        phase = .upstreamHandshake
        handshakeStartNs = runtime.clock.monotonicNs()
        armDeadline(ms: runtime.config.limits.handshakeTimeoutMs, reason: PeerRejection.handshakeTimeout.rawValue)
        driveHandshake(up)
    }

    // MARK: timers

    private func armDeadline(ms: Int, reason: String) {
        cancelTimer()
        timer = loop.schedule(afterMs: Int64(ms)) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.finish(reason: reason, detail: "deadline of \(ms) ms passed", refused: self.phase == .downstreamHandshake)
        }
    }

    func armIdleTimer(afterMs ms: Int64) {
        timer = loop.schedule(afterMs: ms) { [weak self] in
            guard let self else { return }
            self.timer = nil
            let idle = Int64(self.runtime.config.limits.idleTimeoutMs)
            let quiet = self.loop.now - self.lastActivity
            if quiet >= idle {
                self.finish(reason: "idle-timeout", detail: nil, refused: false)
            } else {
                self.armIdleTimer(afterMs: idle - quiet)
            }
        }
    }

    func cancelTimer() {
        if let t = timer { loop.cancel(t) }
        timer = nil
    }

    private func releaseHandshakeSlot() {
        if holdsHandshakeSlot {
            holdsHandshakeSlot = false
            context.handshakeEnded()
        }
    }

    func setInterest(_ end: ProxyEnd, _ interest: Interest) {
        if end.interest.rawValue != interest.rawValue {
            end.interest = interest
            loop.setInterest(end.fd, interest)
        }
    }
}
