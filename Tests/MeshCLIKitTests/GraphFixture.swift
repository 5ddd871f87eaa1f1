import MeshAPI
import MeshCore

/// A fixed graph: an allowed flow seen at both ends, an egress refusal an audit rule would allow, and two
/// refusals at the payments sidecar (no identity; a foreign trust domain). Times relative to `now`.
enum GraphFixture {
    static func counts(_ connections: Int, _ toDestination: Int, _ toCaller: Int, handshake: [Int: Int], duration: [Int: Int]) -> EdgeCounts {
        var c = EdgeCounts()
        c.connections = connections
        c.bytesToDestination = toDestination
        c.bytesToCaller = toCaller
        for (i, n) in handshake { c.handshake[i] = n }
        for (i, n) in duration { c.duration[i] = n }
        return c
    }

    static func answer(now: Int) -> GraphAnswer {
        let frontend = "spiffe://mesh.local/ns/shop/sa/frontend", orders = "spiffe://mesh.local/ns/shop/sa/orders"
        let allowed = counts(12, 1536, 300, handshake: [1: 10, 4: 2], duration: [3: 12])
        return GraphAnswer(from: now - 900, to: now, resolutionSeconds: 10, edges: [
            GraphEdge(key: EdgeKey(observer: .outbound, caller: orders, destination: "shop/ledger", port: 8080, allowed: false,
                                   rule: "default-deny", reason: "egress-not-allowed", shadowAllowed: true, shadowRule: "orders-to-ledger"),
                      counts: counts(3, 0, 0, handshake: [:], duration: [0: 3]), firstSeen: now - 125, lastSeen: now - 5),
            GraphEdge(key: EdgeKey(observer: .outbound, caller: frontend, destination: "shop/orders", port: 8080, allowed: true,
                                   rule: "frontend-to-orders", reason: "allowed"),
                      counts: allowed, firstSeen: now - 900, lastSeen: now - 10),
            GraphEdge(key: EdgeKey(observer: .inbound, caller: "spiffe://evil.local/ns/shop/sa/frontend", destination: "shop/payments",
                                   port: 8080, allowed: false, rule: "default-deny", reason: "foreign-trust-domain"),
                      counts: counts(1, 0, 0, handshake: [0: 1], duration: [0: 1]), firstSeen: now - 7200, lastSeen: now - 7200),
            GraphEdge(key: EdgeKey(observer: .inbound, caller: frontend, destination: "shop/orders", port: 8080, allowed: true,
                                   rule: "frontend-to-orders", reason: "allowed"),
                      counts: allowed, firstSeen: now - 900, lastSeen: now - 10),
            GraphEdge(key: EdgeKey(observer: .inbound, caller: EdgeKey.unauthenticatedCaller, destination: "shop/payments", port: 8080,
                                   allowed: false, rule: "default-deny", reason: "handshake-failed"),
                      counts: counts(2_000_000, 5_000_000_000, 0, handshake: [14: 2_000_000], duration: [12: 2_000_000]),
                      firstSeen: now - 90_000, lastSeen: now - 59),
        ])
    }
}
