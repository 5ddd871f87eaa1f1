import MeshCore
import MeshTLS
import MeshNet

/// Everything a new connection needs to be decided, built once and swapped whole: TLS contexts for both
/// roles and the per-listener rules. Loops read the current snapshot once per new connection.
public final class SidecarState: Sendable {
    public let identity: TLSIdentity
    /// Our server context: inbound mTLS, requires a client certificate.
    public let inboundTLS: TLSContext
    /// Our client context: outbound mTLS, presents our certificate.
    public let outboundTLS: TLSContext
    /// Inbound listener name → who may connect.
    public let allowLists: [String: AllowList]
    /// Outbound listener name → where it goes and who must answer.
    public let upstreams: [String: Upstream]
    /// Inbound listener name → the local app address.
    public let appAddresses: [String: SocketAddress]
    /// Increases with every swap; sessions cached under an older generation are dropped.
    public let generation: Int
    /// Wall-clock time this snapshot was built (identity files, bundle and allow lists were read then).
    public let loadedAt: Double
    /// The configuration this snapshot was built from.
    public let config: SidecarConfig
    /// With policy from the control plane: this service's slice of the mesh (nil until the first one arrives).
    public let slice: ServiceSlice?

    private init(copying o: SidecarState, slice: ServiceSlice?, generation: Int) {
        identity = o.identity
        inboundTLS = o.inboundTLS
        outboundTLS = o.outboundTLS
        allowLists = o.allowLists
        upstreams = o.upstreams
        appAddresses = o.appAddresses
        loadedAt = o.loadedAt
        config = o.config
        self.slice = slice
        self.generation = generation
    }

    /// The same state with another policy slice (TLS contexts shared, not rebuilt).
    public func with(slice: ServiceSlice, generation: Int) -> SidecarState {
        SidecarState(copying: self, slice: slice, generation: generation)
    }

    public struct Upstream: Sendable {
        public let address: SocketAddress
        public let expectIdentity: SPIFFEID
    }

    public init(config: SidecarConfig, identity: TLSIdentity, generation: Int, loadedAt: Double, slice: ServiceSlice? = nil) throws {
        self.slice = slice
        self.identity = identity
        self.generation = generation
        self.loadedAt = loadedAt
        self.config = config
        inboundTLS = try TLSContext(role: .server, identity: identity, resumption: config.tls.resumption,
                                    sessionCacheSize: config.tls.sessionCacheSize,
                                    sessionLifetimeSeconds: config.tls.sessionLifetimeSeconds)
        outboundTLS = try TLSContext(role: .client, identity: identity, resumption: config.tls.resumption)
        var lists: [String: AllowList] = [:]
        var apps: [String: SocketAddress] = [:]
        for l in config.inbound {
            lists[l.name] = AllowList(listener: l.name, trustDomain: identity.trustDomain, allowed: l.allow)
            apps[l.name] = try SocketAddress(l.forwardTo)
        }
        var ups: [String: Upstream] = [:]
        for o in config.outbound {
            ups[o.name] = Upstream(address: try SocketAddress(o.upstream), expectIdentity: o.expectIdentity)
        }
        allowLists = lists
        appAddresses = apps
        upstreams = ups
    }
}
