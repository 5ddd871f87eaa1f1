import MeshAPI
import MeshCore

/// What a connection contributes to telemetry: one edge, recorded once when it ends (like the `/stats`
/// counters, so the two add up to the same totals).
extension ProxyConnection {
    /// `refused`, `rule` and `reason` as `finish` got them; bytes as `/stats` counts them. A connection that
    /// ended before it was decided (the peer left mid-handshake) is not allowed, rule `(undecided)`.
    func recordEdge(reason: CloseReason, refused: Bool, rule: String?, bytesIn: Int, bytesOut: Int) {
        guard context.edges != nil else { return }
        let own = state.identity.spiffeID
        let key: EdgeKey
        let allowed = !refused && allowRule != nil
        let reasonText = allowed && reason == .closed ? "allowed" : reason.rawValue
        let ruleText = refused ? (rule ?? Verdict.defaultDenyRule) : (allowRule ?? "(undecided)")
        switch direction {
        case .inbound:
            key = EdgeKey(observer: .inbound, caller: peerIdentity?.description ?? EdgeKey.unauthenticatedCaller,
                          destination: Self.service(of: own), port: servicePort, allowed: allowed, rule: ruleText,
                          reason: reasonText, shadowAllowed: shadowVerdict?.isAllowed, shadowRule: shadowVerdict?.rule)
        case .outbound:
            let dest = destination.map { $0.service.description }
                ?? state.authorizer.expectedServer(listener: listener).map(Self.service(of:)) ?? "unknown"
            key = EdgeKey(observer: .outbound, caller: own.description, destination: dest, port: destination?.port ?? 0,
                          allowed: allowed, rule: ruleText, reason: reasonText,
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
