import MeshCore
import MeshNet
import MeshPolicy

/// Where a redirected connection's original destination goes, decided from one state snapshot, first match: a mesh
/// service by its virtual IP, a declared external destination, a mesh service by the IP of one of its endpoints
/// (any port: the egress rules decide), this sidecar
/// itself (a loop), or nothing the sidecar knows (refused: egress default deny). Built once per state and loop.
struct TransparentRoutes {
    enum Route {
        /// A mesh service of the slice: dial one of `upstream`'s endpoints with mTLS, expecting its identity.
        case mesh(SliceDestination, port: Int, upstream: SidecarState.Upstream)
        /// Declared in `transparent.externalDestinations`: plain TCP to the original destination.
        case external
        /// The original destination is one of this sidecar's own listeners.
        case loop
        case notMesh
    }

    let virtualIPs: [ServiceKey: UInt32]
    private let byVirtualIP: [UInt32: ServiceKey]
    private let byEndpointIP: [UInt32: ServiceKey]
    /// Per service and port: its endpoints for that port (registered), else the service's `address`.
    private let upstreams: [ServiceKey: [Int: SidecarState.Upstream]]
    private let destinations: [ServiceKey: SliceDestination]
    private let external: [IPv4Destination]
    private let own: Set<SocketAddress>
    /// Ports this sidecar listens on with a wildcard address: a loopback destination on them is a loop too.
    private let ownWildcardPorts: Set<UInt16>

    init(slice: ServiceSlice?, config: SidecarConfig) {
        let dests = slice?.destinations ?? []
        virtualIPs = VirtualIPs.assign(dests.map(\.service))
        byVirtualIP = Dictionary(virtualIPs.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var endpointIPs: [UInt32: ServiceKey] = [:]
        var ups: [ServiceKey: [Int: SidecarState.Upstream]] = [:]
        var byKey: [ServiceKey: SliceDestination] = [:]
        for d in dests {  // key order: an IP two services share maps to the first
            byKey[d.service] = d
            let fallback = d.address.map { [$0] } ?? []
            for host in d.endpoints + fallback {
                if let ip = (try? SocketAddress(host))?.ipv4, endpointIPs[ip] == nil { endpointIPs[ip] = d.service }
            }
            for port in d.portNumbers {
                let listed = d.endpoints(port: port)
                let addresses = (listed.isEmpty ? fallback : listed).compactMap { try? SocketAddress($0) }
                if !addresses.isEmpty { ups[d.service, default: [:]][port] = SidecarState.Upstream(endpoints: addresses, protocol: .tcp) }
            }
        }
        byEndpointIP = endpointIPs
        upstreams = ups
        destinations = byKey
        external = config.transparent?.externalDestinations ?? []
        var mine: [HostPort] = config.inbound.map(\.listen) + config.outbound.map(\.listen)
        if let t = config.transparent { mine.append(t.listen) }
        if let d = config.dns { mine.append(d.listen) }
        if config.admin.enabled { mine.append(config.admin.listen) }
        own = Set(mine.compactMap { try? SocketAddress($0) })
        ownWildcardPorts = Set(mine.filter { $0.hostIsUnspecified }.map(\.port))
    }

    func route(_ original: SocketAddress) -> Route {
        if own.contains(original) || (original.isLoopback && ownWildcardPorts.contains(original.port)) { return .loop }
        guard let ip = original.ipv4 else { return .notMesh }
        let port = original.port
        // A virtual IP is always the mesh's; an explicit external declaration wins over an endpoint's IP.
        if let s = byVirtualIP[ip] { return mesh(s, port) }
        if external.contains(where: { $0.contains(ipv4: ip, port: port) }) { return .external }
        if let s = byEndpointIP[ip] { return mesh(s, port) }
        return .notMesh
    }

    private func mesh(_ s: ServiceKey, _ port: UInt16) -> Route {
        guard let d = destinations[s] else { return .notMesh }
        // A port no rule reaches has no upstream: the egress check refuses it (named after the policy, not "not mesh").
        let up = upstreams[s]?[Int(port)] ?? SidecarState.Upstream(endpoints: [], protocol: .tcp)
        return .mesh(d, port: Int(port), upstream: up)
    }
}

/// One loop's transparent listener state: its settings and the routes of the last state it saw (rebuilt when
/// the state is swapped). Touched only on its loop's thread.
final class TransparentIntake {
    let settings: TransparentSettings
    private var cached: (state: SidecarState, routes: TransparentRoutes)?

    init(settings: TransparentSettings) { self.settings = settings }

    func routes(for state: SidecarState) -> TransparentRoutes {
        if let c = cached, c.state === state { return c.routes }
        let r = TransparentRoutes(slice: state.slice, config: state.config)
        cached = (state, r)
        return r
    }
}
