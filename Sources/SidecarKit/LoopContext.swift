import MeshCore
import MeshNet
import MeshTLS

/// What one event loop owns besides its epoll set: the scratch buffer every connection on this loop reads
/// into, the handshake budget, and the resumable sessions per upstream. Touched only on the loop's thread.
final class LoopContext {
    let loop: EventLoop
    let sidecar: SidecarRuntime
    /// Reads land here and are written on at once; only what the receiver cannot take is copied out.
    let scratch: UnsafeMutableRawBufferPointer
    var handshakesInProgress = 0
    /// Token buckets of rate-limited callers on this loop (per-loop limits, no lock).
    var buckets = CallerBuckets()
    /// Telemetry: this loop's edges since the reporter last took them (nil: the sidecar does not report).
    var edges: EdgeTable?
    /// Every live proxied connection on this loop, for re-checking them when policy changes.
    var connections: [ObjectIdentifier: ProxyConnection] = [:]
    /// `http` ports: request ids and the verified-token cache of this loop (L7).
    var requestIDs = RequestIDs()
    let tokenReader = TokenReader()
    /// Listeners paused because the handshake budget is spent.
    var pausedListeners: [Listener] = []
    /// Per outbound listener: where its connections go (rebuilt when the listener's endpoints change).
    private var balancers: [String: EndpointBalancer] = [:]
    /// Per outbound `http` listener: idle pooled hops (`HopPool`).
    var hopPools: [String: HopPool] = [:]
    /// The pool and the balancer asked for last (pools are never dropped; a balancer is checked against the
    /// endpoints): a request on the same listener as the one before finds them by comparing its name, not by
    /// hashing it, twice per request.
    var lastHopPool: (listener: String, pool: HopPool)?
    private var lastBalancer: (listener: String, balancer: EndpointBalancer)?
    /// Sessions to resume, per outbound listener, with the state generation they belong to.
    private var sessions: [String: [TLSSession]] = [:]
    private var sessionGeneration = 0
    static let maxSessionsPerUpstream = 64

    init(loop: EventLoop, sidecar: SidecarRuntime, bufferBytes: Int) {
        self.loop = loop
        self.sidecar = sidecar
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferBytes, alignment: 16)
        if sidecar.config.reportsTelemetry { edges = EdgeTable(cap: sidecar.config.telemetry.maxEdges) }
    }

    deinit { scratch.deallocate() }

    /// The balancer of outbound `listener` for `upstream` (the state's current endpoints of that listener).
    func balancer(for listener: String, upstream: SidecarState.Upstream) -> EndpointBalancer {
        if let last = lastBalancer, last.listener == listener, last.balancer.addresses == upstream.endpoints {
            return last.balancer
        }
        if let b = balancers[listener], b.addresses == upstream.endpoints {
            lastBalancer = (listener, b)
            return b
        }
        let b = EndpointBalancer(addresses: upstream.endpoints, carrying: balancers[listener], listener: listener,
                                 stats: sidecar.stats.endpoints)
        balancers[listener] = b
        lastBalancer = (listener, b)
        return b
    }

    /// The newest session still usable now (never one past the upstream certificate's expiry).
    func takeSession(for upstream: String, generation: Int) -> TLSSession? {
        guard generation == sessionGeneration else { return nil }
        let now = sidecar.clock.wallSeconds()
        while let s = sessions[upstream]?.popLast() {
            if s.isUsable(now: now) { return s }
        }
        return nil
    }

    func keepSession(_ s: TLSSession, for upstream: String, generation: Int) {
        if generation != sessionGeneration {
            guard generation > sessionGeneration else { return }
            sessions.removeAll()
            sessionGeneration = generation
        }
        var list = sessions[upstream] ?? []
        if list.count >= Self.maxSessionsPerUpstream { list.removeFirst() }
        list.append(s)
        sessions[upstream] = list
    }

    /// Once a second while the policy has grants that expire: re-check live connections, so an expired grant
    /// ends the connections it allowed within a second.
    func scheduleExpiryChecks() {
        loop.schedule(afterMs: 1000) { [weak self] in
            guard let self else { return }
            let state = self.sidecar.state
            if let next = state.authorizer.nextExpiry(after: self.lastExpiryCheck), next <= self.sidecar.clock.wallSeconds() {
                self.recheck(with: state)
            }
            self.lastExpiryCheck = self.sidecar.clock.wallSeconds()
            self.scheduleExpiryChecks()
        }
    }

    var lastExpiryCheck: Double = 0

    /// Policy or identity changed: close the connections the new state no longer allows.
    func recheck(with state: SidecarState) {
        for c in Array(connections.values) { c.recheck(with: state) }
    }

    /// A handshake ended (either way): give the slot back and wake a paused listener.
    func handshakeEnded() {
        handshakesInProgress -= 1
        if let l = pausedListeners.popLast() { l.resume() }
    }

    var handshakeBudgetLeft: Bool { handshakesInProgress < sidecar.config.limits.maxConcurrentHandshakesPerLoop }
}
