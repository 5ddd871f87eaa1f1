import MeshCore
import MeshPolicy

/// The authorization answers a connection asks for: inbound, egress (both with the audit rules' shadow verdict,
/// counted once per connection) and the deny list.
extension ProxyConnection {
    /// The inbound decision, by the state's authorizer (counting the shadow verdict of audit rules, never
    /// enforcing it). Fails closed.
    func inboundVerdict(_ id: SPIFFEID, in s: SidecarState, countShadow: Bool = true) -> Verdict {
        let d = s.authorizer.inbound(listener: listener, peer: id, now: runtime.clock.wallSeconds())
        if countShadow { noteShadow(d, identity: id) }
        return d.enforced
    }

    /// The deny list: is the peer's identity (its certificate issued before the revocation) or serial revoked?
    func isRevoked(_ id: SPIFFEID, in s: SidecarState) -> Bool {
        guard let list = s.authorizer.revocations, !list.isEmpty else { return false }
        return list.revokes(id, serial: peerLeaf?.serialHex ?? "", notBefore: peerLeaf?.notBefore ?? 0)
    }

    /// The deny list's quarantine: is the peer's identity (caller inbound, server outbound) quarantined?
    func isQuarantined(_ id: SPIFFEID, in s: SidecarState) -> Bool {
        s.authorizer.revocations?.quarantines(id) ?? false
    }

    /// The egress decision (nil when policy is static: the configured upstream is the permission). Counts and
    /// logs the shadow verdict of audit rules like `inboundVerdict`, whether or not the connection proceeds;
    /// re-checks pass `countShadow: false` so a connection counts once.
    func egressVerdict(_ s: SidecarState, countShadow: Bool = true) -> Verdict? {
        guard let d = outboundDecision(in: s) else { return nil }
        if countShadow { noteShadow(d, identity: s.identity.spiffeID) }
        return d.enforced
    }

    /// A shadow verdict that differs from the enforced one: counted, logged (rate-limited per reason), and kept
    /// for this connection's telemetry edge.
    fileprivate func noteShadow(_ d: PolicyDecision, identity: SPIFFEID) {
        guard let shadow = d.shadow, shadow != d.enforced else { return }
        shadowVerdict = shadow
        runtime.stats.count(shadow: shadow, direction)
        runtime.log.refusal("shadow-decision", reason: "shadow-decision", fields: [
            ("direction", .string(direction.rawValue)), ("listener", .string(listener)), ("identity", .string(identity.description)),
            ("enforced", .string(d.enforced.rule)), ("shadowVerdict", .string(shadow.isAllowed ? "allow" : "deny")),
            ("shadowRule", .string(shadow.rule))])
    }
}
