import MeshCore
import MeshNet

/// How a use of an endpoint ended, for the balancer to learn from.
enum EndpointOutcome: Sendable {
    /// Connected (and for mTLS, the peer proved the expected identity), and the use ended normally.
    case success
    /// TCP connect refused or timed out.
    case connectFailed
    /// The TLS handshake failed or the peer was not who it must be.
    case handshakeFailed
    /// Connected, but the use failed later (reset, a pooled request's 5xx): counts toward outlier detection.
    case failed
    /// Ended for a reason of ours or the app's (a policy re-check, the app hung up) before it proved anything.
    case cancelled
}

/// Picks which endpoint (a remote sidecar's inbound address) an outbound connection or pooled request goes to,
/// and learns from how that went. One per (event loop, outbound listener), owned by the loop's `LoopContext`:
/// touched only on that loop's thread, so it needs no lock. Shared by the L4 dial and the pooled L7 hops
/// (issues 13 and 14: one endpoint model).
///
/// - Choice: power of two choices: two distinct endpoints at random among those not ejected, the one with fewer
///   uses in flight on this loop, then fewer uses so far (so sequential short connections spread evenly too);
///   full ties: the first drawn, itself random. Randomness is a seeded `SplitMix64`.
/// - Health: a connect or handshake failure ejects the endpoint for a back-off (`baseEjectionMs` 1 s, doubling
///   per ejection in a row up to `maxEjectionMs` 30 s, back to 1 s after a success). Outlier detection:
///   `outlierFailures` (5) failed uses in a row (`.failed`) eject it the same way.
/// - All ejected: rather than refuse, the least recently ejected one is tried (it is the likeliest to be back).
final class EndpointBalancer {
    static let baseEjectionMs: Int64 = 1_000
    static let maxEjectionMs: Int64 = 30_000
    static let outlierFailures = 5
    /// Dials of one connection (the first and the retries on other endpoints), at most; fewer with fewer endpoints.
    static let maxDialAttempts = 3

    struct Endpoint {
        let address: SocketAddress
        /// Connections or requests in flight through this loop.
        var active = 0
        /// Uses started through this loop (the tie-break: fewer first).
        var uses = 0
        var consecutiveFailures = 0
        /// Out until this monotonic time (ns); 0: in.
        var ejectedUntilNs: Int64 = 0
        var lastEjectedNs: Int64 = 0
        /// The next ejection's length.
        var backoffMs: Int64 = EndpointBalancer.baseEjectionMs
        let counters: EndpointCounters?
    }

    private(set) var endpoints: [Endpoint]
    private var random: SplitMix64

    /// `carrying`: the balancer these addresses replace (a new slice): endpoints still present keep their
    /// health and in-flight counts. `stats`/`listener`: where per-endpoint counters are published (nil: none).
    init(addresses: [SocketAddress], seed: UInt64 = UInt64.random(in: 0...UInt64.max), carrying old: EndpointBalancer? = nil,
         listener: String = "", stats: EndpointStatsTable? = nil) {
        random = SplitMix64(seed: seed)
        let previous = Dictionary((old?.endpoints ?? []).map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        endpoints = addresses.map { a in
            previous[a] ?? Endpoint(address: a, counters: stats?.counters(listener: listener, endpoint: a))
        }
        self.addresses = addresses
    }

    /// The addresses this balancer was built from (to tell whether a new state changed them). Kept, not
    /// derived: every pooled request asks for them twice.
    let addresses: [SocketAddress]

    /// The endpoint to use now (an index into `endpoints`), nil when there is none; `avoiding` is one that
    /// just failed for this same connection (a retry goes elsewhere when it can). `nowNs` is the loop's clock.
    func pick(nowNs: Int64, avoiding: Int? = nil) -> Int? {
        let n = endpoints.count
        guard n > 0 else { return nil }
        if n == 1 { return 0 }
        // Candidates without allocating: count the healthy ones, then draw by rank.
        var healthy = 0
        for i in 0..<n where i != avoiding && endpoints[i].ejectedUntilNs <= nowNs { healthy += 1 }
        if healthy == 0 { return leastRecentlyEjected(avoiding: avoiding) }
        if healthy == 1 { return nth(0, nowNs: nowNs, avoiding: avoiding) }
        let a = Int(random.next() % UInt64(healthy))
        var b = Int(random.next() % UInt64(healthy - 1))
        if b >= a { b += 1 }
        let x = nth(a, nowNs: nowNs, avoiding: avoiding), y = nth(b, nowNs: nowNs, avoiding: avoiding)
        let ex = endpoints[x], ey = endpoints[y]
        return (ey.active, ey.uses) < (ex.active, ex.uses) ? y : x
    }

    /// The `k`-th (from 0) endpoint in and not `avoiding`.
    private func nth(_ k: Int, nowNs: Int64, avoiding: Int?) -> Int {
        var seen = 0
        for i in 0..<endpoints.count where i != avoiding && endpoints[i].ejectedUntilNs <= nowNs {
            if seen == k { return i }
            seen += 1
        }
        return 0
    }

    private func leastRecentlyEjected(avoiding: Int?) -> Int {
        var best = avoiding == 0 ? 1 : 0
        for i in 0..<endpoints.count where i != avoiding && endpoints[i].lastEjectedNs < endpoints[best].lastEjectedNs { best = i }
        return best
    }

    func address(_ i: Int) -> SocketAddress { endpoints[i].address }

    /// True when `i` is taken out at `nowNs`.
    func isEjected(_ i: Int, nowNs: Int64) -> Bool { i < endpoints.count && endpoints[i].ejectedUntilNs > nowNs }

    /// A connection or request started using endpoint `i`.
    func started(_ i: Int) {
        guard i < endpoints.count else { return }
        endpoints[i].active += 1
        endpoints[i].uses += 1
        endpoints[i].counters?.active.add(1, ordering: .relaxed)
        endpoints[i].counters?.connections.add(1, ordering: .relaxed)
    }

    /// `i` proved healthy (connected and verified): its back-off and failure run start over.
    func succeeded(_ i: Int) {
        guard i < endpoints.count else { return }
        endpoints[i].consecutiveFailures = 0
        endpoints[i].backoffMs = Self.baseEjectionMs
        if endpoints[i].ejectedUntilNs != 0 {
            endpoints[i].ejectedUntilNs = 0
            endpoints[i].counters?.ejectedUntilMs.store(0, ordering: .relaxed)
        }
    }

    /// … and ended with `outcome` at `nowNs`.
    func finished(_ i: Int, outcome: EndpointOutcome, nowNs: Int64) {
        guard i < endpoints.count else { return }
        endpoints[i].active -= 1
        endpoints[i].counters?.active.subtract(1, ordering: .relaxed)
        switch outcome {
        case .success:
            succeeded(i)
        case .connectFailed, .handshakeFailed:
            endpoints[i].counters?.failures.add(1, ordering: .relaxed)
            eject(i, nowNs: nowNs)
        case .cancelled:
            break
        case .failed:
            endpoints[i].counters?.failures.add(1, ordering: .relaxed)
            endpoints[i].consecutiveFailures += 1
            if endpoints[i].consecutiveFailures >= Self.outlierFailures { eject(i, nowNs: nowNs) }
        }
    }

    /// A dial of `i` failed and the connection moved on to another endpoint.
    func retried(_ i: Int) { if i < endpoints.count { endpoints[i].counters?.retried.add(1, ordering: .relaxed) } }

    private func eject(_ i: Int, nowNs: Int64) {
        // Already out (another connection's failure of the same outage): the back-off does not double again.
        if endpoints[i].ejectedUntilNs > nowNs { return }
        let ms = endpoints[i].backoffMs
        endpoints[i].ejectedUntilNs = nowNs + ms * 1_000_000
        endpoints[i].lastEjectedNs = nowNs
        endpoints[i].backoffMs = min(ms * 2, Self.maxEjectionMs)
        endpoints[i].consecutiveFailures = 0
        if let c = endpoints[i].counters {
            c.ejections.add(1, ordering: .relaxed)
            let untilMs = Int(endpoints[i].ejectedUntilNs / 1_000_000)
            if c.ejectedUntilMs.load(ordering: .relaxed) < untilMs { c.ejectedUntilMs.store(untilMs, ordering: .relaxed) }
        }
    }
}
