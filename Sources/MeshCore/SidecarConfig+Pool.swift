/// Pooled mesh hops on the calling side of `http` ports: the keep-alive mTLS connections to remote sidecars that
/// requests from many app connections share. Every limit has a default (documented in `mesh-config/README.md`).
public struct PoolSettings: Sendable, Equatable {
    /// Idle hops kept per endpoint per event loop; a hop released beyond it is closed.
    public var maxIdlePerEndpoint: Int = 256
    /// Idle hops kept per outbound listener per event loop (all endpoints together).
    public var maxIdlePerLoop: Int = 1024
    /// An idle hop unused for this long is closed. Below the remote sidecar's idle timeout (default 1 h), so we,
    /// not the peer, end a quiet hop, and below what middleboxes usually keep.
    public var idleTimeoutMs: Int = 60_000
    /// Requests a hop carries before it is closed (0: no limit), so hops rotate onto new endpoints and keys.
    public var maxRequestsPerHop: Int = 10_000
    /// Fresh hops tried for one request that never reached the peer (connect or handshake failed).
    public var maxRetries: Int = 2
    public init() {}
}

extension SidecarConfig {
    /// `"pool": {...}`: every field optional.
    static func parsePool(_ node: JSONNode) throws(MeshError) -> PoolSettings {
        let r = try node.object(fields: ["maxIdlePerEndpoint", "maxIdlePerLoop", "idleTimeoutMs", "maxRequestsPerHop", "maxRetries"])
        var p = PoolSettings()
        func read(_ key: String, _ range: ClosedRange<Int>, _ field: WritableKeyPath<PoolSettings, Int>) throws(MeshError) {
            if let node = r.optional(key) { p[keyPath: field] = try node.int(in: range) }
        }
        try read("maxIdlePerEndpoint", 0...4_096, \.maxIdlePerEndpoint)
        try read("maxIdlePerLoop", 0...65_536, \.maxIdlePerLoop)
        try read("idleTimeoutMs", 100...3_600_000, \.idleTimeoutMs)
        try read("maxRequestsPerHop", 0...100_000_000, \.maxRequestsPerHop)
        try read("maxRetries", 0...5, \.maxRetries)
        return p
    }
}
