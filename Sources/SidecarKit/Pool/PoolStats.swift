import Synchronization
import MeshCore
import MeshObservability

/// Why a pooled hop was closed (a closed set: the metric's label values).
public enum HopCloseReason: String, Sendable, CaseIterable {
    /// The remote sidecar closed it (EOF or reset), noticed while idle, on reuse or during an exchange.
    case peerClosed = "peer-closed"
    /// Unused for `pool.idleTimeoutMs`.
    case idleTimeout = "idle-timeout"
    /// The response said `Connection: close` or was delimited by the end of the connection.
    case connectionClose = "connection-close"
    /// A broken exchange: a response we refuse, a TLS or socket error, or the app left mid-exchange.
    case error
    /// Connect or handshake failed, or the peer was not who it must be.
    case dialFailed = "dial-failed"
    /// Released while the pool was full.
    case poolFull = "pool-full"
    /// Our identity, the policy or the expected server changed since it was opened.
    case stale
    /// Carried `pool.maxRequestsPerHop` requests.
    case maxRequests = "max-requests"
    /// Became an app connection's tunnel (`Upgrade`) and ended with it.
    case upgraded
}

/// Counters of the pooled hops (all loops). Updated once per hop event or exchange, never per byte.
public final class PoolStats: Sendable {
    /// Hops whose mTLS handshake finished (new connections to remote sidecars).
    public let opened = Atomic<Int>(0)
    /// Requests sent on a hop taken from the pool (not freshly opened).
    public let reused = Atomic<Int>(0)
    /// Requests carried (exchanges started on a hop).
    public let requests = Atomic<Int>(0)
    /// Requests retried on a fresh hop because they provably never reached the peer.
    public let retries = Atomic<Int>(0)
    /// `502` answers sent to apps (the code is in the log line `bad-gateway`).
    public let badGateway = Atomic<Int>(0)
    /// Hops idle in the pools now.
    public let idle = Atomic<Int>(0)
    /// Requests per hop, observed when a hop closes.
    public let requestsPerHop = Histogram(bounds: [1, 2, 5, 10, 100, 1_000, 10_000, 100_000])
    private let closedCounts: [Counter] = HopCloseReason.allCases.map { _ in Counter() }

    init() {}

    func closed(_ reason: HopCloseReason, requests: Int) {
        closedCounts[HopCloseReason.allCases.firstIndex(of: reason)!].value.add(1, ordering: .relaxed)
        requestsPerHop.observe(seconds: Double(requests))
    }

    public func closedCount(_ reason: HopCloseReason) -> Int {
        closedCounts[HopCloseReason.allCases.firstIndex(of: reason)!].value.load(ordering: .relaxed)
    }
}

extension StatsSnapshot {
    /// The pool's counters are shown only where hops can exist: an outbound listener declared `http`, or a
    /// slice that declares some destination port `http`.
    static func usesPool(_ state: SidecarState) -> Bool {
        state.config.outbound.contains { $0.protocol == .http }
            || (state.slice?.destinations.contains { !$0.protocols.isEmpty } ?? false)
    }

    /// `mesh_pool_*`: the pooled hops of `http` outbound listeners.
    mutating func addPool(_ p: PoolStats) {
        func one(_ v: Int) -> [MetricSample] { [MetricSample(.int(v))] }
        add("mesh_pool_hops_opened_total", .counter, help: "Pooled hops opened (mTLS handshakes to remote sidecars for http ports).",
            one(p.opened.load(ordering: .relaxed)))
        add("mesh_pool_hops_closed_total", .counter, help: "Pooled hops closed, by reason.",
            HopCloseReason.allCases.map { MetricSample(["reason": $0.rawValue], .int(p.closedCount($0))) })
        add("mesh_pool_hops_idle", .gauge, help: "Pooled hops idle now (all loops).", one(p.idle.load(ordering: .relaxed)))
        add("mesh_pool_requests_total", .counter, help: "Requests carried on pooled hops.", one(p.requests.load(ordering: .relaxed)))
        add("mesh_pool_requests_reused_total", .counter, help: "Requests sent on a hop reused from the pool.",
            one(p.reused.load(ordering: .relaxed)))
        add("mesh_pool_retries_total", .counter, help: "Requests retried on a fresh hop (they never reached the peer).",
            one(p.retries.load(ordering: .relaxed)))
        add("mesh_pool_bad_gateway_total", .counter, help: "502 answers sent to apps for requests that could not be carried.",
            one(p.badGateway.load(ordering: .relaxed)))
        add("mesh_pool_requests_per_hop", .histogram, help: "Requests a hop carried, observed when it closed (buckets are counts).",
            [MetricSample(.histogram(p.requestsPerHop.snapshot()))])
    }

    /// The `/stats` JSON member `"pool"`.
    func poolJSON() -> String {
        let closed = HopCloseReason.allCases.map { "\"\($0.rawValue)\":\(int("mesh_pool_hops_closed_total", ["reason": $0.rawValue]))" }
        return "{\"opened\":\(int("mesh_pool_hops_opened_total")),\"reused\":\(int("mesh_pool_requests_reused_total")),"
            + "\"requests\":\(int("mesh_pool_requests_total")),\"retries\":\(int("mesh_pool_retries_total")),"
            + "\"badGateway\":\(int("mesh_pool_bad_gateway_total")),\"idle\":\(int("mesh_pool_hops_idle")),"
            + "\"closed\":{\(closed.joined(separator: ","))}}"
    }
}
