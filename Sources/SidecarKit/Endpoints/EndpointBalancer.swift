import MeshNet

/// How a use of an endpoint ended, for the balancer to learn from.
enum EndpointOutcome: Sendable {
    /// Connected (and for mTLS, the peer proved the expected identity).
    case success
    /// TCP connect refused or timed out.
    case connectFailed
    /// The TLS handshake failed or the peer was not who it must be.
    case handshakeFailed
}

/// Picks which endpoint (a remote sidecar's inbound address) an outbound connection or pooled request goes to,
/// and learns from how that went. One per (event loop, outbound listener), owned by the loop's `LoopContext`:
/// touched only on that loop's thread, so it needs no lock. Shared by the L4 dial and the pooled L7 hops
/// (issues 13 and 14: one endpoint model). SEAM: round robin until load balancing and ejection land.
final class EndpointBalancer {
    struct Endpoint {
        let address: SocketAddress
        /// Connections or requests in flight through this loop.
        var active = 0
    }

    private(set) var endpoints: [Endpoint]
    private var next = 0

    init(addresses: [SocketAddress]) {
        endpoints = addresses.map { Endpoint(address: $0) }
    }

    /// The addresses this balancer was built from (to tell whether a new state changed them).
    var addresses: [SocketAddress] { endpoints.map(\.address) }

    /// The endpoint to use now (an index into `endpoints`), nil when there is none; `avoiding` is one that
    /// just failed for this same connection (a retry goes elsewhere when it can). `nowNs` is the loop's clock.
    func pick(nowNs: Int64, avoiding: Int? = nil) -> Int? {
        guard !endpoints.isEmpty else { return nil }
        var i = next % endpoints.count
        if endpoints.count > 1, i == avoiding { i = (i + 1) % endpoints.count }
        next = i + 1
        return i
    }

    func address(_ i: Int) -> SocketAddress { endpoints[i].address }

    /// A connection or request started using endpoint `i`.
    func started(_ i: Int) { if i < endpoints.count { endpoints[i].active += 1 } }

    /// … and ended with `outcome` at `nowNs`.
    func finished(_ i: Int, outcome: EndpointOutcome, nowNs: Int64) {
        if i < endpoints.count { endpoints[i].active -= 1 }
    }
}
