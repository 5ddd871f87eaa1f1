import MeshAPI
import MeshCore

/// Per-request records: the `/decisions` ring (with method and route), the log (refusals always, rate-limited
/// per reason like connection refusals; allows with `log.logAllowed`), and the telemetry edge of a refusal.
extension ProxyConnection {
    func recordRequest(allowed: Bool, method: String, route: String?, rule: String, reason: String, id: String, detail: String?) {
        runtime.stats.count(decision: allowed, rule: rule, direction)
        runtime.stats.decisions.record(Decision(time: runtime.clock.wallSeconds(), direction: direction, listener: listener,
                                                port: listenPort, peer: peer.description, identity: peerIdentity?.description,
                                                allowed: allowed, rule: rule, reason: reason, method: method, route: route))
        guard !allowed || runtime.config.log.logAllowed else { return }
        let fields: [(String, LogValue)] = [
            ("direction", .string(direction.rawValue)), ("listener", .string(listener)), ("peer", .string(peer.description)),
            ("identity", .optional(peerIdentity?.description)), ("verdict", .string(allowed ? "allow" : "deny")),
            ("reason", .string(reason)), ("rule", .string(rule)), ("method", .string(method)), ("route", .optional(route)),
            ("requestId", .string(id)), ("detail", .optional(detail)),
        ]
        if allowed { runtime.log.event("request-allowed", fields: fields) } else { runtime.log.refusal("request-refused", reason: reason, fields: fields) }
    }

    /// A refused request counts on the edge from its caller like a refused connection, under its rule and code
    /// (no bytes: the connection's own edge carries them when it ends).
    func recordRequestEdge(refused: Bool, rule: String, reason: String) {
        guard context.edges != nil, direction == .inbound else { return }
        runtime.refusalSeen.store(true, ordering: .relaxed)
        let key = EdgeKey(observer: .inbound, caller: peerIdentity?.description ?? EdgeKey.unauthenticatedCaller,
                          destination: Self.service(of: state.identity.spiffeID), port: servicePort, allowed: !refused,
                          rule: rule, reason: reason, shadowAllowed: nil, shadowRule: nil)
        context.recordEdge(key, bytesToDestination: 0, bytesToCaller: 0, handshakeUs: nil, durationUs: 0)
    }
}
