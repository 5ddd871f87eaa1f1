import MeshAPI
import MeshCore

/// What a connection contributes to telemetry: one edge, recorded once when it ends (like the `/stats`
/// counters, so the two add up to the same totals).
extension ProxyConnection {
    /// `refused`, `rule` and `reason` as `finish` got them; bytes as `/stats` counts them.
    func recordEdge(reason: CloseReason, refused: Bool, rule: String?, bytesIn: Int, bytesOut: Int) {
        guard context.edges != nil else { return }
        let own = state.identity.spiffeID
        let key: EdgeKey
        let reasonText = refused || reason != .closed ? reason.rawValue : "allowed"
        let ruleText = refused ? (rule ?? Verdict.defaultDenyRule) : (allowRule ?? rule ?? "(none)")
        switch direction {
        case .inbound:
            key = EdgeKey(observer: .inbound, caller: peerIdentity?.description ?? EdgeKey.unauthenticatedCaller,
                          destination: Self.service(of: own), port: servicePort, allowed: !refused, rule: ruleText,
                          reason: reasonText, shadowAllowed: shadowVerdict?.isAllowed, shadowRule: shadowVerdict?.rule)
        case .outbound:
            let dest = destination.map { $0.service.description }
                ?? state.authorizer.expectedServer(listener: listener).map(Self.service(of:)) ?? "unknown"
            key = EdgeKey(observer: .outbound, caller: own.description, destination: dest, port: destination?.port ?? 0,
                          allowed: !refused, rule: ruleText, reason: reasonText,
                          shadowAllowed: shadowVerdict?.isAllowed, shadowRule: shadowVerdict?.rule)
        }
        context.recordEdge(key, bytesToDestination: bytesIn, bytesToCaller: bytesOut, handshakeUs: handshakeUs,
                           durationUs: Int(loop.now - startedAt) * 1000)
    }

    /// `ns/name` of a mesh identity (`spiffe://td/ns/<ns>/sa/<name>`), `unknown` for any other shape.
    static func service(of id: SPIFFEID) -> String {
        let parts = id.path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa" else { return "unknown" }
        return "\(parts[2])/\(parts[4])"
    }
}
