#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// Limits of an HTTP server, with their defaults.
public struct HTTPServerLimits: Sendable {
    /// Header and body caps (431 / 413 beyond).
    public var codec = HTTPLimits()
    /// From the first byte of a request to its last: slow headers and slow bodies are reaped (408).
    public var requestTimeoutMs: Int64 = 10_000
    /// A keep-alive connection with no request for this long is closed.
    public var idleTimeoutMs: Int64 = 60_000
    /// TLS handshake deadline (TLS servers only).
    public var handshakeTimeoutMs: Int64 = 10_000
    /// Open connections; beyond it new ones are closed at once (counted and logged as `max-connections`).
    /// Servers sharing a `ConnectionBudget` use the budget's limit instead.
    public var maxConnections = 256
    /// TLS handshakes in progress on this server's loop (default 256). Beyond it the server stops accepting
    /// until one finishes: the rest wait, already connected, in the kernel's listen queue (a storm then costs
    /// latency, not failed handshakes timed out half-way).
    public var maxHandshakes = 256
    /// `listen(2)` backlog asked for (default 4,096); the kernel caps it at `net.core.somaxconn`.
    public var listenBacklog = ListenBacklog.defaultRequested
    public init() {}
}

/// A refusal as the server's owner logs it: the reason, its running total, and who.
public typealias HTTPServerLog = @Sendable (_ reason: HTTPServerRefusal, _ total: Int, _ detail: String) -> Void

/// An HTTP/1.1 server on one event loop, plaintext or TLS (`tls` given: every caller must present a valid
/// certificate of our trust domain, and the handler sees its SPIFFE ID).
public final class HTTPServer: EventHandler, @unchecked Sendable {
    // @unchecked: all mutable state is confined to `loop`'s thread; `open` is atomic.
    public let loop: EventLoop
    let fd: Int32
    /// Set by `close` (on the loop thread).
    private var listenerClosed = false
    /// Swappable (on the loop thread) so a server can renew its own certificate without restarting.
    var tls: TLSContext?
    let limits: HTTPServerLimits
    let handler: HTTPHandler
    let log: HTTPServerLog?
    let open = Atomic<Int>(0)
    /// Connections open now on this server (refused ones never count): the owner's gauge.
    public var openConnections: Int { open.load(ordering: .relaxed) }
    /// The open-connection limit, this server's own or one shared with the servers of the other loops.
    public let budget: ConnectionBudget
    /// TLS handshakes in progress (on the loop), and whether accepting is paused because of them.
    var handshaking = 0
    private var handshakePaused = false
    /// Connections accepted so far (atomic: tests and the owner read it from other threads).
    let acceptedCount = Atomic<Int>(0)
    public var accepted: Int { acceptedCount.load(ordering: .relaxed) }
    /// TLS handshakes completed, and how many of them resumed an earlier session (any thread).
    let handshakesDone = Atomic<Int>(0)
    let handshakesResumed = Atomic<Int>(0)
    public var handshakes: (completed: Int, resumed: Int) {
        (handshakesDone.load(ordering: .relaxed), handshakesResumed.load(ordering: .relaxed))
    }
    /// Refusals and reaped connections by reason.
    public let refusals = HTTPServerCounters()
    /// Back-off when the process is out of file descriptors (as the sidecar's listeners do).
    public static let emfileBackoffMs: Int64 = 100
    private var acceptPaused = false
    /// The bound address (useful with port 0).
    public let address: SocketAddress
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
    var connections: [ObjectIdentifier: HTTPServerConnection] = [:]

    /// Binds now (so a busy port fails here); serving starts when the loop runs.
    /// `reusePort`: one listening socket per loop on the same address (SO_REUSEPORT), the kernel spreading new
    /// connections over them; `budget` shares the connection limit with those other servers.
    public init(loop: EventLoop, address: SocketAddress, tls: TLSContext? = nil, limits: HTTPServerLimits = HTTPServerLimits(),
                reusePort: Bool = false, budget: ConnectionBudget? = nil,
                log: HTTPServerLog? = nil, handler: @escaping HTTPHandler) throws {
        self.loop = loop
        self.tls = tls
        self.limits = limits
        self.log = log
        self.handler = handler
        self.budget = budget ?? ConnectionBudget(limit: limits.maxConnections)
        fd = try Socket.listen(address, reusePort: reusePort, backlog: ListenBacklog.effective(limits.listenBacklog))
        self.address = Socket.localAddress(fd) ?? address
        try loop.register(fd, .read, self)
    }

    deinit { scratch.deallocate() }

    /// New connections use `context` from now on; established ones keep theirs. Call on the loop thread.
    public func setTLS(_ context: TLSContext) { tls = context }

    /// Stops listening and closes every connection. Call on the loop thread.
    public func close() {
        guard !listenerClosed else { return }  // a second close must not close a reused fd number
        listenerClosed = true
        acceptPaused = false
        handshakePaused = false
        loop.deregister(fd)
        Glibc.close(fd)
        for c in Array(connections.values) { c.finish() }
    }

    public func ready(fd: Int32, _ readiness: Readiness) {
        while true {
            if tls != nil && handshaking >= limits.maxHandshakes { return pauseForHandshakes() }
            let accepted: IOResult<(Int32, SocketAddress)>
            do {
                accepted = try Socket.accept(self.fd)
            } catch {
                if error.errno == ECONNABORTED || error.errno == EPROTO { continue }  // that one is gone
                // EMFILE and friends: the listening socket stays readable, so pause instead of spinning.
                count(.acceptEMFILE, error.description)
                pauseAccepting()
                return
            }
            guard case .done(let (cfd, peer)) = accepted else { return }
            guard budget.tryAcquire() else {
                Glibc.close(cfd)
                count(.maxConnections, peer.description)
                continue
            }
            acceptedCount.add(1, ordering: .relaxed)  // TCP_NODELAY: inherited from the listener (`Socket.listen`)
            let c = HTTPServerConnection(server: self, fd: cfd, peer: peer)
            do {
                try c.start()
                connections[ObjectIdentifier(c)] = c
                open.add(1, ordering: .relaxed)
            } catch {
                if c.handshaking { handshaking -= 1 }
                budget.release()
                Glibc.close(cfd)
            }
        }
    }

    private func pauseAccepting() {
        guard !acceptPaused else { return }
        acceptPaused = true
        loop.setInterest(fd, .none)
        loop.schedule(afterMs: Self.emfileBackoffMs) { [weak self] in
            guard let self, self.acceptPaused else { return }
            self.acceptPaused = false
            if !self.handshakePaused { self.loop.setInterest(self.fd, .read) }
        }
    }

    /// Too many handshakes in progress: stop listening until one ends (`handshakeEnded`).
    private func pauseForHandshakes() {
        guard !handshakePaused else { return }
        handshakePaused = true
        if !acceptPaused { loop.setInterest(fd, .none) }
    }

    /// A handshake finished or its connection ended: accept again if we had paused for handshakes.
    func handshakeEnded() {
        handshaking -= 1
        guard handshakePaused, handshaking < limits.maxHandshakes else { return }
        handshakePaused = false
        if !acceptPaused { loop.setInterest(fd, .read) }
    }

    /// Counts a refusal and hands it to the owner's log.
    func count(_ reason: HTTPServerRefusal, _ detail: String) {
        let total = refusals.add(reason)  // counted whether or not anyone logs
        log?(reason, total, detail)
    }

    func ended(_ c: HTTPServerConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(c)) != nil {
            open.subtract(1, ordering: .relaxed)
            budget.release()
        }
    }
}
