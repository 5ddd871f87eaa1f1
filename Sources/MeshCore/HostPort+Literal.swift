/// Address checks the policy's service addresses share with the sidecar config (both take IP literals only,
/// so no DNS lookup is ever on the data path).
extension HostPort {
    /// True when the host is an IPv4 or IPv6 literal.
    package var hostIsIPLiteral: Bool {
        let host = Array(self.host.utf8)
        return IPLiteral.ipv4(host) != nil || IPLiteral.ipv6(host[...]) != nil
    }

    /// True for `0.0.0.0` and `::`, which can be bound but not connected to.
    package var hostIsUnspecified: Bool { HostAddresses(host).isWildcard }
}
