#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import Synchronization
import MeshHTTP
import MeshNet
import MeshTLS

/// `mesh-control serve`: the HTTPS API on one event loop per core (`loops`), plus a once-a-second tick that
/// moves CA rotations along and renews the control plane's own serving certificate (at half its life, or when
/// the issuing root or the bundle changes). Each loop has its own listening socket on the same address
/// (SO_REUSEPORT: the kernel spreads new connections over them, no hand-over between threads) and serves the
/// connections it accepted, long polls included, to the end. Use cases that write run on `work`, off the loops;
/// so does the tick's CA step. The connection and long-poll limits are global (atomic budgets shared by the loops).
public final class ControlServer: @unchecked Sendable {
    // @unchecked: each `servers[i]` is touched only on `loops[i]`'s thread after `start`; `servingNotAfter`,
    // `servingIssuedAt` and `bundleKey` only on `loop`'s (the first loop, which runs the tick). The long-poll
    // counts are atomics (any loop); `/metrics` reads only atomics and locked counters.
    public let controlPlane: ControlPlane
    /// The first loop: it runs the tick and the serving-certificate renewal.
    var loop: EventLoop { loops[0] }
    /// One per core by default (`--loops`).
    let loops: [EventLoop]
    var servers: [HTTPServer] = []
    var threads: [LoopThread] = []
    var servingIssuedAt = 0.0
    var servingNotAfter = 0.0
    var bundleKey = ""
    let log: @Sendable (String) -> Void
    let refusals: RefusalLog?
    let work = BlockingWork()
    /// Policy long polls waiting for an answer on all loops (a global budget), and those refused for want of a slot.
    let longPolls: ConnectionBudget
    let longPollsRefused = Atomic<Int>(0)
    /// The refusal reason of a long poll over `maxLongPolls` (logs and `/metrics`).
    static let longPollsFull = "long-polls-full"

    /// A refused or reaped connection: its stable reason (`HTTPServerRefusal` raw values, and
    /// `long-polls-full`), the running total for that reason, and who.
    public typealias RefusalLog = @Sendable (_ reason: String, _ total: Int, _ detail: String) -> Void

    /// `clock` drives the loops' timers (the long-poll wait, the tick). `refusals` hears every connection the
    /// server refused or reaped, with its stable reason. `loops`: event loops (threads) serving connections
    /// (default: one per core, `ControlServer.defaultLoops`).
    public init(controlPlane: ControlPlane, clock: any Clock = SystemClock(), log: @escaping @Sendable (String) -> Void = { _ in },
                refusals: RefusalLog? = nil, loops: Int = ControlServer.defaultLoops) throws {
        precondition(loops >= 1, "a control server needs a loop")
        self.controlPlane = controlPlane
        self.log = log
        self.refusals = refusals
        longPolls = ConnectionBudget(limit: controlPlane.settings.maxLongPolls)
        self.loops = try (0..<loops).map { try EventLoop(index: $0, clock: clock) }
    }

    /// One loop per online core (at least one).
    public static var defaultLoops: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Binds `address` on every loop (the first binding fixes the port when `address` asks for port 0) and
    /// starts one thread per loop.
    public func start(address: SocketAddress) throws {
        let ctx = try servingContext()
        let settings = controlPlane.settings
        var limits = HTTPServerLimits()
        limits.maxConnections = settings.maxConnections
        limits.requestTimeoutMs = settings.requestTimeoutMs
        limits.idleTimeoutMs = settings.idleTimeoutMs
        limits.maxHandshakes = settings.maxHandshakesPerLoop
        limits.listenBacklog = settings.listenBacklog
        let budget = ConnectionBudget(limit: settings.maxConnections)
        var serverLog: HTTPServerLog?
        if let log = refusals {
            serverLog = { (reason: HTTPServerRefusal, total: Int, detail: String) in log(reason.rawValue, total, detail) }
        }
        var bindTo = address
        for loop in loops {
            let router = ControlAPI.router(controlPlane, loop: loop, work: work)
            let server = try HTTPServer(loop: loop, address: bindTo, tls: ctx, limits: limits, reusePort: true, budget: budget,
                                        log: serverLog) { [self] req, respond in
                handle(req, router, respond)
            }
            servers.append(server)
            bindTo = server.address
        }
        controlPlane.replicaStatus.serving(at: "\(bindTo)", now: controlPlane.now())
        attachStats()
        scheduleTick()
        threads = loops.map { $0.startThread() }
    }

    /// On the connection's loop. Long polls hold their connection for up to 30 s: they get a budget of their
    /// own (global across loops), so they can never take the slots bootstraps and renewals need.
    private func handle(_ req: HTTPRequest, _ router: Router, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard req.path == "/v1/slice" else { return router.handle(req, respond: respond) }
        let max = longPolls.limit
        guard longPolls.tryAcquire() else {
            let total = longPollsRefused.add(1, ordering: .relaxed).newValue
            refusals?(Self.longPollsFull, total, req.peer.description)
            return respond(.error(MeshError(.controlLongPollsFull, "every long-poll slot (\(max)) is taken; retry later")))
        }
        router.handle(req) { [self] response in
            longPolls.release()
            respond(response)
        }
    }

    /// `/metrics` may run on any loop: it reads only atomics and locked counters, summed over the loops. Weak:
    /// the control plane must not keep a stopped server alive.
    private func attachStats() {
        controlPlane.serverStats.attach { [weak self] in
            guard let self else { return ControlServerStats.Reading() }
            return self.reading()
        }
    }

    /// The serving certificate lives at most a day (shorter with a shorter `certTTL`), renewed at half.
    static let maxServingLifetime = 86_400.0

    public var boundAddress: SocketAddress? { servers.first?.address }

    /// API connections open now, all loops (read from any thread: the counts are atomic).
    public var openConnections: Int { servers.reduce(0) { $0 + $1.openConnections } }

    /// Stops serving on every loop, then snapshots the telemetry (a clean shutdown leaves no journal to replay).
    public func stop() {
        for (loop, server) in zip(loops, servers) { loop.execute { server.close() } }
        for loop in loops { loop.stop() }
        for thread in threads { thread.join() }
        do { try controlPlane.telemetry.close() } catch { log("telemetry snapshot at shutdown failed: \(error)") }
    }

    /// The next tick is armed when this one has finished, so slow storage never piles ticks up.
    private func scheduleTick() {
        loop.schedule(afterMs: 1000) { [weak self] in
            guard let self else { return }
            let cp = controlPlane
            work.run { [self] in
                let issuerChanged: Bool
                do { issuerChanged = try cp.tick() } catch { log("tick failed: \(error)"); issuerChanged = false }
                do { try cp.expireQuarantines() } catch { log("tick failed: quarantine expiry: \(error)") }
                cp.telemetry.snapshotIfDue()
                do { try cp.expireThrottles() } catch { log("throttle expiry failed: \(error)") }
                cp.alertTick()
                cp.distribution.endpointsChanged(cp.distribution.endpoints.expire(now: cp.now()))
                loop.execute { [self] in
                    renewServingIfNeeded(issuerChanged: issuerChanged)
                    scheduleTick()
                }
            }
        }
    }

    /// On the loop: a new serving certificate when the issuer or the bundle changed, or at half its life.
    private func renewServingIfNeeded(issuerChanged: Bool) {
        do {
            let now = controlPlane.now()
            let halfLife = servingIssuedAt + (servingNotAfter - servingIssuedAt) / 2
            let bundleNow = controlPlane.ca.bundle.map(\.sha256Fingerprint).joined(separator: ",")
            if issuerChanged || now >= halfLife || bundleNow != bundleKey {
                let ctx = try servingContext()
                // Each server is confined to its loop. Tickets of the old context are not resumed by the new
                // one (its ticket keys are new): the first connection after a renewal is a full
                // handshake, and the client checks the new certificate's name.
                for (loop, server) in zip(loops, servers) { loop.execute { server.setTLS(ctx) } }
                log("serving certificate renewed (issuing root \(controlPlane.ca.issuing.id))")
            }
        } catch {
            log("tick failed: \(error)")
        }
    }

    /// A fresh key and certificate for our own identity, and a server context that accepts callers with or
    /// without a client certificate (tokens and operators have none). Client certificate validity is checked
    /// by the API, not OpenSSL: an expired one may still renew within the grace period.
    func servingContext() throws -> TLSContext {
        let cp = controlPlane
        let now = cp.now()
        let ca = cp.ca
        let key = try PrivateKey.generateP256()
        let lifetime = min(cp.settings.certTTL, Self.maxServingLifetime)
        let chain = try ca.sign(.svid(cp.identity, now: now, lifetime: lifetime), for: key)
        let identity = try TLSIdentity(chain: chain, key: key, trustBundle: ca.bundle, trustDomain: ca.trustDomain)
        cp.sliceSigner.use(key: key, chain: chain)  // slices are signed by the identity the sidecars connect to
        servingIssuedAt = now
        servingNotAfter = chain[0].notAfter
        bundleKey = ca.bundle.map(\.sha256Fingerprint).joined(separator: ",")
        return try TLSContext.apiServer(identity: identity, sessionLifetimeSeconds: cp.settings.tlsSessionLifetimeSeconds)
    }
}
