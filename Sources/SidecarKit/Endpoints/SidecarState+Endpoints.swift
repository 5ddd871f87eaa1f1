import MeshCore
import MeshNet
import MeshPolicy

/// Where each outbound listener's connections go, rebuilt with every slice: the live endpoints the slice
/// carries for the listener's destination and port; else its static `upstream`; else the destination's
/// `address` from the mesh's services (a control plane that has no registrations yet, e.g. just restarted);
/// else no entry, and connections are refused `no-endpoint`.
extension SidecarState {
    static func upstreams(_ config: SidecarConfig, slice: ServiceSlice?, statics: [String: SocketAddress]) -> [String: Upstream] {
        var ups: [String: Upstream] = [:]
        for o in config.outbound {
            var endpoints: [SocketAddress] = []
            if let to = o.destination, let port = o.destinationPort, let d = slice?.outbound[to] {
                endpoints = d.endpoints(port: port).compactMap { try? SocketAddress($0) }
            }
            if endpoints.isEmpty, let s = statics[o.name] { endpoints = [s] }
            if endpoints.isEmpty, let to = o.destination, let a = slice?.outbound[to]?.address, let s = try? SocketAddress(a) {
                endpoints = [s]
            }
            if !endpoints.isEmpty { ups[o.name] = Upstream(endpoints: endpoints, protocol: o.protocol) }
        }
        return ups
    }
}
