/// Checks on outbound listeners beyond their syntax: they carry this sidecar's identity to whoever reaches them.
extension SidecarConfig {
    /// Secure naming must match the destination (`to` names a service; only its identity may answer), and a
    /// listener other hosts can reach needs `allowNonLoopback: true` (else the sidecar is an open proxy wearing
    /// our identity). Run after the listener-conflict checks, so those keep their codes.
    static func checkOutbound(_ outbound: [OutboundListener], trustDomain: TrustDomain) throws(MeshError) {
        for (i, l) in outbound.enumerated() {
            if let to = l.destination {
                let wanted = "spiffe://\(trustDomain.name)/ns/\(to.namespace)/sa/\(to.name)"
                if l.expectIdentity.description != wanted {
                    throw MeshError(.configExpectIdentityMismatch,
                                    "outbound[\(i)].expectIdentity: \(l.expectIdentity) is not the identity of \(to) (\(wanted))")
                }
            }
            if !l.allowNonLoopback && !l.listen.hostIsLoopback {
                throw MeshError(.configOutboundNotLoopback,
                                "outbound[\(i)].listen: \(l.listen) is reachable from other hosts; use a loopback address or set allowNonLoopback: true")
            }
        }
    }
}

extension HostPort {
    /// True when every address the host stands for is loopback (`127.0.0.0/8`, `::1`, `localhost`, and
    /// IPv4-mapped `::ffff:127.x.y.z`); false for wildcards.
    package var hostIsLoopback: Bool {
        let a = HostAddresses(host)
        let v6Loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
        return !a.isWildcard && !a.addresses.isEmpty
            && a.addresses.allSatisfy { ($0.count == 4 && $0[0] == 127) || $0 == v6Loopback }
    }
}
