#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP
import MeshNet
import MeshTLS

/// `mesh-control serve`: the HTTPS API on one event loop, plus a once-a-second tick that moves CA rotations
/// along and renews the control plane's own serving certificate (at half its life, or when the issuing root
/// or the bundle changes). Use cases that write run on `work`, off the loop; so does the tick's CA step.
public final class ControlServer: @unchecked Sendable {
    // @unchecked: `server`, `servingNotAfter`, `servingIssuedAt`, `bundleKey` and the long-poll counts are touched
    // only on `loop`'s thread after `start` (the `/metrics` reader too: it runs on the loop).
    public let controlPlane: ControlPlane
    let loop: EventLoop
    var server: HTTPServer?
    var thread: LoopThread?
    var servingIssuedAt = 0.0
    var servingNotAfter = 0.0
    var bundleKey = ""
    let log: @Sendable (String) -> Void
    let refusals: RefusalLog?
    let work = BlockingWork()
    /// Policy long polls waiting for an answer, and those refused for want of a slot (on `loop`'s thread).
    var longPolls = 0
    var longPollsRefused = 0
    /// The refusal reason of a long poll over `maxLongPolls` (logs and `/metrics`).
    static let longPollsFull = "long-polls-full"

    /// A refused or reaped connection: its stable reason (`HTTPServerRefusal` raw values, and
    /// `long-polls-full`), the running total for that reason, and who.
    public typealias RefusalLog = @Sendable (_ reason: String, _ total: Int, _ detail: String) -> Void

    /// `clock` drives the loop's timers (the long-poll wait, the tick). `refusals` hears every connection the
    /// server refused or reaped, with its stable reason.
    public init(controlPlane: ControlPlane, clock: any Clock = SystemClock(), log: @escaping @Sendable (String) -> Void = { _ in },
                refusals: RefusalLog? = nil) throws {
        self.controlPlane = controlPlane
        self.log = log
        self.refusals = refusals
        loop = try EventLoop(index: 0, clock: clock)
    }

    /// Binds `address` and starts serving on a new thread.
    public func start(address: SocketAddress) throws {
        let ctx = try servingContext()
        let router = ControlAPI.router(controlPlane, loop: loop, work: work)
        let settings = controlPlane.settings
        var limits = HTTPServerLimits()
        limits.maxConnections = settings.maxConnections
        limits.requestTimeoutMs = settings.requestTimeoutMs
        limits.idleTimeoutMs = settings.idleTimeoutMs
        var serverLog: HTTPServerLog?
        if let log = refusals {
            serverLog = { (reason: HTTPServerRefusal, total: Int, detail: String) in log(reason.rawValue, total, detail) }
        }
        server = try HTTPServer(loop: loop, address: address, tls: ctx, limits: limits, log: serverLog) { [self] req, respond in
            handle(req, router, respond)
        }
        controlPlane.replicaStatus.serving(at: "\(server!.address)", now: controlPlane.now())
        attachStats()
        scheduleTick()
        thread = loop.startThread()
    }

    /// On the loop. Long polls hold their connection for up to 30 s: they get a budget of their own, so they can
    /// never take the slots bootstraps and renewals need.
    private func handle(_ req: HTTPRequest, _ router: Router, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard req.path == "/v1/slice" else { return router.handle(req, respond: respond) }
        let max = controlPlane.settings.maxLongPolls
        guard longPolls < max else {
            longPollsRefused += 1
            refusals?(Self.longPollsFull, longPollsRefused, req.peer.description)
            return respond(.error(MeshError(.controlLongPollsFull, "every long-poll slot (\(max)) is taken; retry later")))
        }
        longPolls += 1
        let loop = self.loop
        router.handle(req) { [self] response in
            loop.execute { [self] in longPolls -= 1 }
            respond(response)
        }
    }

    /// `/metrics` reads on the loop (`adminOnLoop`), where `longPolls` and the server's connections live. Weak: the
    /// control plane must not keep a stopped server alive.
    private func attachStats() {
        controlPlane.serverStats.attach { [weak self] in
            var r = ControlServerStats.Reading()
            guard let self, let server = self.server else { return r }
            for reason in HTTPServerRefusal.allCases { r.refusals[reason.rawValue] = server.refusals[reason] }
            r.refusals[Self.longPollsFull] = self.longPollsRefused
            r.connectionsOpen = server.openConnections
            r.longPollsParked = self.longPolls
            return r
        }
    }

    /// The serving certificate lives at most a day (shorter with a shorter `certTTL`), renewed at half.
    static let maxServingLifetime = 86_400.0

    public var boundAddress: SocketAddress? { server?.address }

    /// API connections open now (read from any thread: the count is atomic).
    public var openConnections: Int { server?.openConnections ?? 0 }

    /// Stops serving, then snapshots the telemetry (a clean shutdown leaves no journal to replay).
    public func stop() {
        loop.execute { [self] in server?.close() }
        loop.stop()
        thread?.join()
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
                server?.setTLS(try servingContext())
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
        return try TLSContext.apiServer(identity: identity)
    }
}
