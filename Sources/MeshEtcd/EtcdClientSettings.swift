import MeshCore
import MeshNet
import MeshTLS

/// How `EtcdClient` reaches a cluster. Every limit has a default chosen for a LAN cluster with etcd's default
/// election timeout (1 s): a dead member is noticed and skipped well within the control plane's 5 s budget.
public struct EtcdClientSettings: Sendable {
    /// Member client URLs, `http://host:port` or `https://host:port` (host: an IP literal or `localhost`; no DNS).
    public var endpoints: [String]
    /// Budget of one request to one member, from sending to the whole answer. Default 2 s.
    public var requestTimeoutMs: Int = 2_000
    /// Budget of connecting (and the TLS handshake) to one member. Default 1 s.
    public var dialTimeoutMs: Int = 1_000
    /// Back-off between rounds over all members, for reads and for re-connecting a watch: starts here, doubles,
    /// capped by `backoffMaxMs`. Defaults 100 ms → 2 s.
    public var backoffInitialMs: Int = 100
    public var backoffMaxMs: Int = 2_000
    /// A read gives up (store.unavailable) once this long has passed without any member answering. Default 5 s.
    public var readRetryBudgetMs: Int = 5_000
    /// A member that failed to connect or timed out is not asked again for this long (unless all are). Default 2 s.
    public var skipFailedMemberMs: Int = 2_000
    /// A watch whose stream carried nothing for this long probes its member with a linearizable read (needs a
    /// live member with quorum); a failed probe moves the watch to another member. Default 1 s.
    public var watchProbeIntervalMs: Int = 1_000
    /// CA certificate(s) (PEM) that sign the members' server certificates; required for `https` endpoints.
    public var caFile: String?
    /// Client certificate and key (PEM), presented when both are set (etcd `--client-cert-auth`).
    public var certFile: String?
    public var keyFile: String?

    public init(endpoints: [String]) {
        self.endpoints = endpoints
    }
}

/// One parsed member URL.
struct EtcdEndpoint: Sendable {
    let url: String
    let address: SocketAddress
    let host: String
    let tls: TLSContext?

    /// Parses every URL and builds the TLS contexts (one per member: the server name is part of a context).
    static func all(_ s: EtcdClientSettings) throws -> [EtcdEndpoint] {
        guard !s.endpoints.isEmpty else { throw MeshError(.storeUnavailable, "no etcd endpoints configured") }
        var trust: [Certificate] = []
        var chain: [Certificate] = []
        var key: PrivateKey?
        if let ca = s.caFile { trust = try Certificate.parseChain(pem: try FileIO.readAll(ca, limit: 1 << 20).get(), maxCount: 16) }
        if let c = s.certFile, let k = s.keyFile {
            chain = try Certificate.parseChain(pem: try FileIO.readAll(c, limit: 1 << 20).get())
            key = try PrivateKey(pem: try FileIO.readAll(k, limit: 1 << 20).get())
        }
        return try s.endpoints.map { url in
            let secure: Bool
            var rest: Substring
            if url.hasPrefix("https://") { secure = true; rest = url.dropFirst(8) }
            else if url.hasPrefix("http://") { secure = false; rest = url.dropFirst(7) }
            else { throw MeshError(.storeUnavailable, "etcd endpoint \(url) must start with http:// or https://") }
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else {
                throw MeshError(.storeUnavailable, "etcd endpoint \(url) has no port")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let address = try SocketAddress(HostPort(host: host, port: port))
            var tls: TLSContext?
            if secure {
                guard !trust.isEmpty else { throw MeshError(.storeUnavailable, "etcd endpoint \(url) is https but no CA file is set") }
                tls = try TLSContext.pkiClient(trust: trust, clientChain: chain, clientKey: key, serverName: host)
            }
            return EtcdEndpoint(url: url, address: address, host: host, tls: tls)
        }
    }
}
