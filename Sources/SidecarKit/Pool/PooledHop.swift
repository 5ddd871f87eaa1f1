#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshTLS

/// Who a hop reports to while it is being dialled or is leased to one exchange.
protocol HopOwner: AnyObject {
    /// Connected, handshaken, and the peer proved the identity the listener expects.
    func hopEstablished(_ hop: PooledHop)
    /// Connect or handshake failed: nothing of the request reached the peer.
    func hopFailed(_ hop: PooledHop, detail: String)
    /// Readiness of a leased hop.
    func hopReady(_ hop: PooledHop, _ r: Readiness)
}

/// One keep-alive mTLS connection to a remote sidecar, shared over time by the requests of many app
/// connections: dialled for one request, then idle in its loop's `HopPool` (registered for read, so a close by
/// the peer is noticed at once), leased again, and closed for a reason (`HopCloseReason`). It owns its socket
/// and TLS stream (`end`); only `close` releases them.
final class PooledHop: EventHandler {
    enum State { case connecting, handshaking, leased, idle, closed }
    let end: ProxyEnd
    let address: SocketAddress
    /// The balancer's index of the endpoint at dial time, for `finished(_:outcome:)`.
    let endpoint: Int
    let target: HopTarget
    let context: LoopContext  // lives as long as its loop
    private let balancer: EndpointBalancer
    /// The client TLS context it was made with: a new identity or trust bundle makes it stale.
    let tls: ObjectIdentifier
    /// Strong, not weak: a weak reference gives every app connection a side table, and with it slower reference
    /// counting on every use. No cycle outlives an exchange: `close` and `HopPool.give` clear it.
    var owner: HopOwner?
    var state = State.connecting
    var peerIdentity: SPIFFEID?
    /// Exchanges started on this hop.
    var requests = 0
    var idleSinceMs: Int64 = 0
    private var timer: TimerID?
    private var startNs: Int64 = 0
    private var reported = false

    private init(fd: Int32, address: SocketAddress, endpoint: Int, target: HopTarget, context: LoopContext,
                 balancer: EndpointBalancer, tls: ObjectIdentifier) {
        end = ProxyEnd(fd: fd)
        self.address = address
        self.endpoint = endpoint
        self.target = target
        self.context = context
        self.balancer = balancer
        self.tls = tls
    }

    /// Starts a TCP connect to endpoint `i`; the owner hears `hopEstablished` or `hopFailed` later, never from
    /// inside this call (a synchronous failure throws instead).
    static func dial(endpoint i: Int, balancer: EndpointBalancer, target: HopTarget, context: LoopContext,
                     owner: HopOwner) throws -> PooledHop {
        let address = balancer.address(i)
        let (fd, _) = try Socket.connect(address)
        let state = context.sidecar.state
        let hop = PooledHop(fd: fd, address: address, endpoint: i, target: target, context: context,
                            balancer: balancer, tls: ObjectIdentifier(state.outboundTLS))
        hop.owner = owner
        Socket.setNoDelay(fd)
        do {
            try context.loop.register(fd, .write, hop)
        } catch {
            hop.end.close(on: context.loop, reset: true)
            hop.state = .closed
            throw error
        }
        hop.end.interest = .write
        balancer.started(i)
        hop.startNs = context.sidecar.clock.monotonicNs()
        hop.arm(ms: context.sidecar.config.limits.connectTimeoutMs, "connect")
        return hop
    }

    func ready(fd: Int32, _ r: Readiness) {
        switch state {
        case .connecting: if r.writable { connected() }
        case .handshaking: handshake()
        case .leased: owner?.hopReady(self, r)
        case .idle: idleEvent()
        case .closed: return
        }
    }

    private func connected() {
        let err = Socket.pendingError(end.fd)
        guard err == 0 else { return fail(.connectFailed, String(cString: strerror(err))) }
        let s = context.sidecar.state
        do {
            try end.startTLS(s.outboundTLS, resume: context.takeSession(for: target.key, generation: s.generation))
            end.tls?.keepRecordBuffers()  // a hop carries request after request: its buffers are reused, not re-made
        } catch {
            return fail(.handshakeFailed, "\(error)")
        }
        state = .handshaking
        arm(ms: context.sidecar.config.limits.handshakeTimeoutMs, "handshake")
        handshake()
    }

    private func handshake() {
        guard let t = end.tls else { return }
        switch t.handshake() {
        case .wantRead: setInterest(.read)
        case .wantWrite: setInterest(.write)
        case .failed(let why, let detail): fail(.handshakeFailed, "\(CloseReason(why).rawValue): \(detail)")
        case .done: verify(t)
        }
    }

    /// Secure naming on the state current now, as for an L4 connection (`ProxyConnection.verifyUpstream`).
    private func verify(_ t: TLSStream) {
        let runtime = context.sidecar
        let s = runtime.state
        // Nobody expected any more (the transparent destination left the slice): refuse rather than accept anyone.
        guard let expected = target.expectedServer(in: s) else {
            return fail(.handshakeFailed, "no server expected for \(target.key) any more")
        }
        switch t.verifyPeer(expecting: expected, now: runtime.clock.wallSeconds()) {
        case .failure(let why):
            fail(.handshakeFailed, "\(CloseReason(why).rawValue), expected \(expected)")
        case .success(let id):
            if let list = s.authorizer.revocations, let leaf = t.peerChain().first,
               list.revokes(id, serial: leaf.serialHex, notBefore: leaf.notBefore) || list.quarantines(id) {
                return fail(.handshakeFailed, "\(id) is revoked or quarantined")
            }
            cancelTimer()
            peerIdentity = id
            let stats = runtime.stats
            stats.outbound.handshakes.add(1, ordering: .relaxed)
            if t.isResumed { stats.outbound.handshakesResumed.add(1, ordering: .relaxed) }
            stats.outbound.handshakeSeconds.observe(seconds: Double(runtime.clock.monotonicNs() - startNs) / 1e9)
            stats.pool.opened.add(1, ordering: .relaxed)
            report(.success)
            state = .leased
            owner?.hopEstablished(self)
        }
    }

    private func fail(_ outcome: EndpointOutcome, _ detail: String) {
        report(outcome)
        let o = owner
        close(.dialFailed, reset: true)
        o?.hopFailed(self, detail: "\(address): \(detail)")
    }

    private func report(_ outcome: EndpointOutcome) {
        guard !reported else { return }
        reported = true
        balancer.finished(endpoint, outcome: outcome, nowNs: context.sidecar.clock.monotonicNs())
    }

    /// Idle hops are read only to notice the end: a close or reset by the peer, or bytes nobody asked for.
    /// TLS records that carry no data (session tickets) are consumed here.
    private func idleEvent() {
        switch probe(context.scratch) {
        case .some(let reason): close(reason, reset: reason == .error)
        case .none: return
        }
    }

    /// Health on reuse and while idle: nil when the hop can carry a request. One `recv(MSG_PEEK)` when TLS
    /// holds nothing; a TLS read only when bytes wait.
    func probe(_ buffer: UnsafeMutableRawBufferPointer) -> HopCloseReason? {
        if !end.hasBufferedInput {
            var b: UInt8 = 0
            let n = recv(end.fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if n == 0 { return .peerClosed }
            if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? nil : .peerClosed }
        }
        switch end.read(into: buffer) {
        case .wantRead, .wantWrite: return nil
        case .bytes: return .error
        case .eof, .failed: return .peerClosed
        }
    }

    func setInterest(_ i: Interest) {
        guard end.interest.rawValue != i.rawValue else { return }
        end.interest = i
        context.loop.setInterest(end.fd, i)
    }

    private func arm(ms: Int, _ what: String) {
        cancelTimer()
        // Strong capture (no side table for the hop): `cancelTimer` (established, `close`) drops the closure.
        timer = context.loop.schedule(afterMs: Int64(ms)) { [self] in
            self.timer = nil
            self.fail(what == "connect" ? .connectFailed : .handshakeFailed, "\(what) deadline of \(ms) ms passed")
        }
    }

    private func cancelTimer() {
        if let t = timer { context.loop.cancel(t) }
        timer = nil
    }

    /// The one teardown: keeps the TLS session for the next hop, closes the socket, counts. An idle hop is
    /// taken out of its pool first.
    func close(_ reason: HopCloseReason, reset: Bool = false) {
        guard state != .closed else { return }
        if state == .idle { context.hopPool(for: target.key).remove(self) }
        if state == .connecting || state == .handshaking { report(.connectFailed) }
        state = .closed
        owner = nil
        cancelTimer()
        if peerIdentity != nil, let t = end.tls, let s = t.takeSession() {
            context.keepSession(s, for: target.key, generation: context.sidecar.state.generation)
        }
        context.sidecar.stats.outbound.bytesFromUpstream.add(end.bytesRead, ordering: .relaxed)
        end.close(on: context.loop, reset: reset)
        context.sidecar.stats.pool.closed(reason, requests: requests)
    }
}
