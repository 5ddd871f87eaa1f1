import MeshCore
import MeshPolicy
import MeshTLS
import MeshNet

/// Everything a new connection needs to be decided, built once and swapped whole: TLS contexts for both
/// roles and the authorizer. Loops read the current snapshot once per new connection.
public final class SidecarState: Sendable {
    public let identity: TLSIdentity
    /// Our server context: inbound mTLS, requires a client certificate.
    public let inboundTLS: TLSContext
    /// Our client context: outbound mTLS, presents our certificate.
    public let outboundTLS: TLSContext
    /// Decides every connection: static allow lists or the control plane's slice, as the config says.
    public let authorizer: any Authorizer
    /// Outbound listener name → where it goes (who must answer: `authorizer.expectedServer`).
    public let upstreams: [String: Upstream]
    /// Outbound listener name → its configured `upstream` (the fallback when the slice has no endpoint).
    let staticUpstreams: [String: SocketAddress]
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
        authorizer = makeAuthorizer(config: o.config, trustDomain: o.identity.trustDomain, slice: slice)
        upstreams = Self.upstreams(o.config, slice: slice, statics: o.staticUpstreams)
        staticUpstreams = o.staticUpstreams
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

    /// Where an outbound listener's connections may go: one or more endpoints (static from the config, or the
    /// destination's live endpoints from the slice), every one of which must present `authorizer.expectedServer`.
    public struct Upstream: Sendable {
        public let endpoints: [SocketAddress]
        /// What the listener speaks (`http`: pooled L7 hops).
        public let `protocol`: PortProtocol
        /// The first endpoint (there is always at least one).
        public var address: SocketAddress { endpoints[0] }
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
        authorizer = makeAuthorizer(config: config, trustDomain: identity.trustDomain, slice: slice)
        var apps: [String: SocketAddress] = [:]
        for l in config.inbound { apps[l.name] = try SocketAddress(l.forwardTo) }
        var statics: [String: SocketAddress] = [:]
        for o in config.outbound { if let u = o.upstream { statics[o.name] = try SocketAddress(u) } }
        appAddresses = apps
        staticUpstreams = statics
        upstreams = Self.upstreams(config, slice: slice, statics: statics)
    }
}
