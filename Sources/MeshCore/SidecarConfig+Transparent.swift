/// Transparent interception (issue 14): the app's outbound TCP, redirected by `mesh-sidecar init-iptables`,
/// lands on one listener that reads the original destination and maps it to a mesh service through the slice.
public struct TransparentSettings: Sendable, Equatable {
    /// Default true once the section is present.
    public var enabled = true
    /// Where redirected connections arrive (default `127.0.0.1:15001`, the `--outbound-port` of init-iptables).
    public var listen = HostPort(host: "127.0.0.1", port: 15001)
    /// Non-mesh destinations the app may reach, passed through as plain TCP (no mTLS, no identity): everything
    /// else that is not a mesh service is refused (egress default deny). Default empty; at most 1,024 entries.
    public var externalDestinations: [IPv4Destination] = []
    public init() {}

    public static let maxExternalDestinations = 1_024
}

/// An IPv4 network and a port (`10.0.0.0/8:443`, `203.0.113.7:5432`): a declared external destination.
public struct IPv4Destination: Sendable, Hashable, CustomStringConvertible {
    /// Network address, host order, host bits zero.
    public let network: UInt32
    public let prefixLength: Int
    public let port: UInt16

    public init(network: UInt32, prefixLength: Int, port: UInt16) {
        self.prefixLength = prefixLength
        self.network = network & Self.mask(prefixLength)
        self.port = port
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length) }

    public func contains(ipv4 address: UInt32, port: UInt16) -> Bool {
        port == self.port && address & Self.mask(prefixLength) == network
    }

    /// `a.b.c.d[/len]:port`; nil when it is not that.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else { return nil }
        let net = text[..<colon]
        var length = 32
        var host = net
        if let slash = net.firstIndex(of: "/") {
            guard let l = Int(net[net.index(after: slash)...]), (0...32).contains(l) else { return nil }
            length = l
            host = net[..<slash]
        }
        guard let address = IPv4Destination.parseIPv4(String(host)) else { return nil }
        self.init(network: address, prefixLength: length, port: port)
    }

    /// A dotted-quad literal in host order (no leading zeros).
    public static func parseIPv4(_ text: String) -> UInt32? {
        guard let octets = IPLiteral.ipv4(Array(text.utf8)) else { return nil }
        return octets.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var description: String {
        let n = network
        return "\(n >> 24).\(n >> 16 & 255).\(n >> 8 & 255).\(n & 255)/\(prefixLength):\(port)"
    }
}

/// The sidecar's DNS responder for the app: mesh service names answered with their virtual IPs, everything
/// else forwarded to the system resolver.
public struct DNSSettings: Sendable, Equatable {
    public var enabled = true
    /// UDP address to answer on (default `127.0.0.1:15053`).
    public var listen = HostPort(host: "127.0.0.1", port: 15053)
    /// Names `<service>.<namespace>.<domain>` are the mesh's (default `mesh.local`).
    public var domain = "mesh.local"
    /// Where other names go (default: the first `nameserver` of `/etc/resolv.conf`, port 53, read at start).
    public var upstream: HostPort?
    /// Forwarded queries awaiting an answer at once (default 256; 1…65,536): beyond it a query gets SERVFAIL.
    public var maxInFlight = 256
    /// A forwarded query unanswered for this long is dropped and answered SERVFAIL (default 2,000 ms).
    public var forwardTimeoutMs = 2_000
    public init() {}

    public static let maxInFlightRange = 1...65_536
    public static let forwardTimeoutRange = 100...30_000
}

extension SidecarConfig {
    /// `transparent`: `{"enabled": true, "listen": "127.0.0.1:15001", "externalDestinations": ["10.0.0.0/8:443"]}`.
    static func parseTransparent(_ node: JSONNode) throws(MeshError) -> TransparentSettings {
        let r = try node.object(fields: ["enabled", "listen", "externalDestinations"])
        var t = TransparentSettings()
        if let n = r.optional("enabled") { t.enabled = try n.bool() }
        if let n = r.optional("listen") { t.listen = try hostPort(n) }
        if let n = r.optional("externalDestinations") {
            let items = try n.elements()
            guard items.count <= TransparentSettings.maxExternalDestinations else {
                throw n.error(.configOutOfRange, "at most \(TransparentSettings.maxExternalDestinations) external destinations")
            }
            for item in items {
                let text = try item.string()
                guard let d = IPv4Destination(parsing: text) else {
                    throw item.error(.configBadAddress, "\(text.debugDescription) is not an IPv4 address or CIDR with a port (10.0.0.0/8:443)")
                }
                t.externalDestinations.append(d)
            }
        }
        return t
    }

    /// `dns`: `{"listen": "127.0.0.1:15053", "domain": "mesh.local", "upstream": "10.0.0.2:53", …}`.
    static func parseDNS(_ node: JSONNode) throws(MeshError) -> DNSSettings {
        let r = try node.object(fields: ["enabled", "listen", "domain", "upstream", "maxInFlight", "forwardTimeoutMs"])
        var d = DNSSettings()
        if let n = r.optional("enabled") { d.enabled = try n.bool() }
        if let n = r.optional("listen") { d.listen = try hostPort(n) }
        if let n = r.optional("upstream") { d.upstream = try hostPort(n) }
        if let n = r.optional("domain") {
            let text = try n.string().lowercased()
            let labels = text.split(separator: ".", omittingEmptySubsequences: false)
            guard !text.isEmpty, text.utf8.count <= 200, labels.allSatisfy({ label in
                !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                    && label.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
            }) else {
                throw n.error(.configBadValue, "\(text.debugDescription) is not a DNS domain (labels of letters, digits and inner '-', joined by dots)")
            }
            d.domain = text
        }
        if let n = r.optional("maxInFlight") { d.maxInFlight = try n.int(in: DNSSettings.maxInFlightRange) }
        if let n = r.optional("forwardTimeoutMs") { d.forwardTimeoutMs = try n.int(in: DNSSettings.forwardTimeoutRange) }
        return d
    }

    /// An IPv4 literal and port (the data path never resolves names).
    private static func hostPort(_ node: JSONNode) throws(MeshError) -> HostPort {
        let text = try node.string()
        let hp: HostPort
        do { hp = try HostPort(parsing: text) } catch { throw node.error(error.errorCode, error.reason) }
        guard IPv4Destination.parseIPv4(hp.host) != nil else {
            throw node.error(.configBadAddress, "\(text.debugDescription): an IPv4 literal is required here")
        }
        return hp
    }
}
