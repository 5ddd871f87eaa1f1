import MeshCore
import MeshNet

/// Whether a sidecar may say it listens at an address: the address it reports must be its own, as far as the
/// control plane can tell from the connection. Otherwise any workload could point its service's callers at a
/// host of its choosing (they would still check the identity there, so this is about availability and traffic
/// steering, not impersonation).
enum EndpointAddressCheck {
    /// The address to record for `reported`, seen from a connection whose source is `peer`:
    /// - a wildcard (`0.0.0.0`, `::`) becomes the source IP, same port;
    /// - from a loopback source, a loopback address is accepted (a sidecar on the control plane's host);
    /// - otherwise the host must be the source's (`endpoint.address-mismatch`, 403).
    static func resolve(_ reported: HostPort, peer: SocketAddress) throws(MeshError) -> HostPort {
        let source = host(of: peer)
        if reported.hostIsUnspecified { return HostPort(host: source, port: reported.port) }
        guard let address = try? SocketAddress(reported) else {
            throw MeshError(.endpointBadRequest, "\(reported): not an IP address")
        }
        let claimed = host(of: address)
        if claimed == source { return HostPort(host: claimed, port: reported.port) }
        if peer.isLoopback && address.isLoopback { return HostPort(host: claimed, port: reported.port) }
        throw MeshError(.endpointAddressMismatch,
                        "\(reported): the host is not the address this request came from (\(source))")
    }

    /// The IP of `a` as text, without brackets or port; a v4-mapped IPv6 address as its IPv4 form.
    static func host(of a: SocketAddress) -> String {
        var text = a.description
        if let colon = text.lastIndex(of: ":") { text = String(text[..<colon]) }
        if text.hasPrefix("[") { text = String(text.dropFirst().dropLast()) }
        if text.lowercased().hasPrefix("::ffff:"), text.contains(".") { text = String(text.dropFirst(7)) }
        return text
    }
}
