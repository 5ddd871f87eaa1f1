import Synchronization
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS

/// One keep-alive mTLS connection to the control plane, shared by a sidecar's agents (policy polls, renewals,
/// telemetry reports), so they pay one TLS handshake per connection lifetime instead of one per call.
///
/// - Requests from several threads go out one at a time, first come first served (`TurnQueue`): a poll
///   loop cannot starve a report; a report waits at most for the exchange ahead of it (a poll's `wait`).
/// - The server is checked once per connection (secure naming); the connection is replaced when it is older
///   than `maxAgeSeconds`, idle for `maxIdleSeconds`, closed by the server, or when our certificate changed
///   (`identity` now returns another leaf: the next request presents the new one).
/// - A new connection resumes the TLS session of the one before (fewer CPU cycles on both sides when 10,000
///   sidecars re-dial at once). Session and client context belong to one certificate of ours: a renewal
///   starts afresh. A resumed connection checks the server's name and validity like a full one.
/// - A request that fails on a reused connection before any byte of the answer arrived (the server closed an
///   idle keep-alive meanwhile) is sent once more on a new connection. A timeout is never retried (the server
///   may be working on it), and single-use requests (a join token) must not come here at all.
/// - With several addresses (the replicas of a control plane) it fails over (`FailoverOrder`): it stays with
///   the replica that works, and after a failure dials the list in order, the failed replica last. Every agent
///   on the channel (long poll, reports, renewals) follows, as they share the one connection.
public final class ControlChannel: Sendable {
    /// Lifetimes, with their defaults.
    public struct Settings: Sendable {
        /// A connection is replaced after this long (default 600 s), so the server's identity is proven again
        /// now and then (its certificate renews, its roots rotate).
        public var maxAgeSeconds = 600.0
        /// A connection unused this long is replaced (default 45 s: below the control plane's 60 s idle close,
        /// so we rarely write into a connection the server is closing).
        public var maxIdleSeconds = 45.0
        /// Connect + TLS handshake deadline (default 10 s).
        public var connectTimeoutMs = 10_000
        public init() {}
    }

    /// Why a connection was made (the `reason` label of `mesh_control_channel_connects_total`).
    public enum ConnectReason: String, CaseIterable, Sendable {
        /// None was open: the first request, or the one before failed.
        case new
        /// Our certificate changed (renewal).
        case renewed
        /// Older than `maxAgeSeconds` or idle longer than `maxIdleSeconds`.
        case aged
        /// The server closed it or said `Connection: close`.
        case closed
        /// A request failed on a reused connection before any answer byte: sent again on a new one.
        case stale
    }

    public let addresses: [SocketAddress]
    /// The SPIFFE ID the control plane must present.
    public let expectServer: SPIFFEID?
    public let settings: Settings
    let clock: any Clock
    private let identitySource: Mutex<@Sendable () -> TLSIdentity>
    private let turns = TurnQueue()
    private let current = Mutex<Link?>(nil)
    private let connectCounts = Mutex<[ConnectReason: Int]>([:])
    private let failover: Mutex<FailoverOrder>
    /// Exchanges completed on a connection made for them, and on one that carried an earlier exchange.
    public let requestsOnNew = Atomic<Int>(0)
    public let requestsReused = Atomic<Int>(0)
    /// Calls that failed: no connection could be made, or the exchange failed (after the one retry, if any).
    public let failures = Atomic<Int>(0)
    /// Connections whose TLS handshake resumed an earlier session.
    public let resumedConnects = Atomic<Int>(0)
    /// The client context of our current certificate (built once per certificate, not per connection) and the
    /// session to offer on the next connection.
    private let resumption = Mutex<(leaf: String, context: TLSContext, session: TLSSession?)?>(nil)

    /// The open connection and the certificate it presents (its leaf's SHA-256).
    private final class Link: @unchecked Sendable {
        // @unchecked: used only by the caller holding the channel's turn.
        let connection: HTTPConnection
        let leaf: String
        /// The connection's session was kept for the next one.
        var sessionKept = false
        init(_ connection: HTTPConnection, leaf: String) {
            self.connection = connection
            self.leaf = leaf
        }
    }

    /// `identity` gives the certificate to present; it is asked before every request, and a different leaf
    /// than the connection's makes the channel reconnect.
    public init(addresses: [SocketAddress], expectServer: SPIFFEID?, settings: Settings = Settings(),
                clock: any Clock = SystemClock(), identity: @escaping @Sendable () -> TLSIdentity) {
        precondition(!addresses.isEmpty, "a control channel needs an address")
        // A replica that dies while we write (the failover case) resets the connection: that must be an
        // error of the call, not a SIGPIPE that ends the whole process.
        Syscall.ignoreSIGPIPE()
        self.addresses = addresses
        self.expectServer = expectServer
        self.settings = settings
        self.clock = clock
        identitySource = Mutex(identity)
        failover = Mutex(FailoverOrder(count: addresses.count))
    }

    /// A sidecar's channel: the configured control plane and its identity.
    public convenience init(settings bootstrap: BootstrapSettings, channel: Settings = Settings(),
                            identity: @escaping @Sendable () -> TLSIdentity) throws {
        self.init(addresses: try bootstrap.controlPlaneAddresses(), expectServer: bootstrap.controlPlaneIdentity,
                  settings: channel, identity: identity)
    }

    /// Replaces where the certificate comes from (the sidecar: the loaded identity at start, then the runtime's).
    public func follow(identity: @escaping @Sendable () -> TLSIdentity) {
        identitySource.withLock { $0 = identity }
    }

    /// Connections made so far, by reason (every reason, zeros included).
    public func connects() -> [(reason: ConnectReason, count: Int)] {
        let c = connectCounts.withLock { $0 }
        return ConnectReason.allCases.map { ($0, c[$0] ?? 0) }
    }

    /// All connections made so far (TLS handshakes with the control plane).
    public var connectsTotal: Int { connects().reduce(0) { $0 + $1.count } }

    /// The address in use (or last used; the first before any connect).
    public var activeAddress: SocketAddress { addresses[failover.withLock { $0.active }] }

    /// Connects that landed on another address than the one in use (failovers between replicas).
    public var failovers: Int { failover.withLock { $0.failovers } }

    /// Closes the open connection (the next request dials again).
    public func close() {
        turns.withTurn { current.withLock { $0 = nil } }
    }

    /// One exchange, in turn, within `timeoutMs` (counted from when it gets the connection).
    public func send(method: String, path: String, headers: HTTPHeaders, body: [UInt8], timeoutMs: Int,
                     limits: HTTPLimits) throws -> HTTPClient.Response {
        try turns.withTurn {
            let identity = identitySource.withLock { $0 }()
            let leaf = identity.leaf.sha256Fingerprint
            var link = current.withLock { $0 }
            var reason = ConnectReason.new
            if let l = link {
                let c = l.connection
                let now = clock.monotonicMs()
                if l.leaf != leaf { reason = .renewed }
                else if now - c.openedAtMs >= Int64(settings.maxAgeSeconds * 1000)
                    || now - c.lastUsedMs >= Int64(settings.maxIdleSeconds * 1000) { reason = .aged }
                else if !c.canCarry(maxAgeMs: .max, maxIdleMs: .max) { reason = .closed }
                if reason != .new { link = nil }
            }
            if link == nil {
                do { link = try connect(identity, leaf: leaf, limits: limits, reason: reason) } catch {
                    failed()
                    throw error
                }
            }
            let l = link!
            let reused = l.connection.requests > 0
            do {
                return try exchange(l, reused: reused, method, path, headers, body, timeoutMs, limits)
            } catch let e as MeshError where reused && !l.connection.answerStarted && e.errorCode != .httpTimeout {
                return try retry(identity, leaf, limits, method, path, headers, body, timeoutMs)
            } catch is SyscallError where reused && !l.connection.answerStarted {
                return try retry(identity, leaf, limits, method, path, headers, body, timeoutMs)
            } catch {
                failed()
                throw error
            }
        }
    }

    private func retry(_ identity: TLSIdentity, _ leaf: String, _ limits: HTTPLimits, _ method: String, _ path: String,
                       _ headers: HTTPHeaders, _ body: [UInt8], _ timeoutMs: Int) throws -> HTTPClient.Response {
        do {
            let fresh = try connect(identity, leaf: leaf, limits: limits, reason: .stale)
            return try exchange(fresh, reused: false, method, path, headers, body, timeoutMs, limits)
        } catch {
            failed()
            throw error
        }
    }

    private func exchange(_ l: Link, reused: Bool, _ method: String, _ path: String, _ headers: HTTPHeaders,
                          _ body: [UInt8], _ timeoutMs: Int, _ limits: HTTPLimits) throws -> HTTPClient.Response {
        let r = try l.connection.send(method: method, path: path, headers: headers, body: body, timeoutMs: timeoutMs,
                                      limits: limits)
        if reused { requestsReused.add(1, ordering: .relaxed) } else { requestsOnNew.add(1, ordering: .relaxed) }
        if !l.sessionKept, let session = l.connection.takeSession() {
            l.sessionKept = true
            resumption.withLock { r in if r?.leaf == l.leaf { r?.session = session } }
        }
        if !l.connection.reusable { current.withLock { $0 = nil } }
        return r
    }

    private func failed() {
        failures.add(1, ordering: .relaxed)
        failover.withLock { $0.failed() }
        current.withLock { $0 = nil }
    }

    /// The context for `leaf` (a new one, and no session, when our certificate changed) and the session to offer,
    /// if it is still usable. A session is offered once: the next comes from the connection it resumes. A session
    /// offered to another replica (after a failover) is simply not resumed there: a full handshake follows.
    private func clientContext(_ identity: TLSIdentity, leaf: String) throws -> (TLSContext, TLSSession?) {
        if let held = resumption.withLock({ r -> (TLSContext, TLSSession?)? in
            guard let r, r.leaf == leaf else { return nil }
            let session = r.session
            return (r.context, session)
        }) {
            let now = clock.wallSeconds()
            return (held.0, held.1.flatMap { $0.isUsable(now: now) ? $0 : nil })
        }
        let ctx = try TLSContext(role: .client, identity: identity, resumption: .stateful)
        resumption.withLock { $0 = (leaf, ctx, nil) }
        return (ctx, nil)
    }

    /// Dials the addresses in failover order, moving on only when the connection could not be made (refused,
    /// reset or timed out before the TLS handshake completed, or the server failed the check): no request
    /// byte was sent, so nothing is ever sent twice by moving on.
    private func connect(_ identity: TLSIdentity, leaf: String, limits: HTTPLimits, reason: ConnectReason) throws -> Link {
        current.withLock { $0 = nil }  // the old connection closes as its last reference goes
        let (ctx, offer) = try clientContext(identity, leaf: leaf)
        var lastError: (any Error)?
        for index in failover.withLock({ $0.order() }) {
            do {
                let c = try HTTPConnection(connecting: addresses[index], tls: ctx, resume: offer, expectServer: expectServer,
                                           timeoutMs: settings.connectTimeoutMs, limits: limits, clock: clock)
                connectCounts.withLock { $0[reason, default: 0] += 1 }
                failover.withLock { $0.connected(index) }
                if c.resumed { resumedConnects.add(1, ordering: .relaxed) }
                let link = Link(c, leaf: leaf)
                current.withLock { $0 = link }
                return link
            } catch {
                lastError = error
            }
        }
        throw lastError!
    }
}
