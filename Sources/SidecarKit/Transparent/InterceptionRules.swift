import MeshCore

/// The iptables rules `mesh-sidecar init-iptables` installs (nat table, IPv4), as argument lists for `iptables`.
/// Everything lives in two chains of our own, `MESH_OUTPUT` and `MESH_PREROUTING`, reached by one jump each from
/// `OUTPUT` and `PREROUTING`: cleanup deletes exactly those jumps and chains and nothing else.
///
/// `MESH_OUTPUT` (the app's outgoing connections), first match wins:
/// 1. the sidecar's own traffic (`-m owner --uid-owner <proxy-uid>`, and `--gid-owner` when given) returns
///    untouched: its mTLS dials, its forwards to the DNS resolver and to the app are never looped into itself;
/// 2. with `--dns-port`: the app's UDP to port 53 goes to the sidecar's DNS responder;
/// 3. loopback destinations (127.0.0.0/8) return: the mesh's virtual addresses (240.240.0.0/16) are not loopback,
///    so they are still caught;
/// 4. excluded CIDRs and excluded ports return;
/// 5. all other TCP is redirected to the transparent listener (`--outbound-port`).
///
/// `MESH_PREROUTING` (connections arriving from the network), only with `--inbound-ports`: those ports (or every
/// port with `*`, except the excluded ones and the inbound port itself) are redirected to the sidecar's mTLS
/// listener (`--inbound-port`), so nothing reaches the app's port without the sidecar.
struct InterceptionRules: Equatable {
    static let outputChain = "MESH_OUTPUT"
    static let preroutingChain = "MESH_PREROUTING"

    var proxyUID: Int
    var proxyGID: Int?
    var outboundPort: UInt16 = 15001
    var inboundPort: UInt16 = 15443
    /// Service ports to redirect inbound; empty: no inbound redirect. `allInbound`: every port.
    var inboundPorts: [UInt16] = []
    var allInbound = false
    var excludeOutboundPorts: [UInt16] = []
    var excludeOutboundCIDRs: [String] = []
    var excludeInboundPorts: [UInt16] = []
    /// Redirect the app's UDP port 53 to this port (the DNS responder); nil: leave DNS alone.
    var dnsPort: UInt16?

    var hasInbound: Bool { allInbound || !inboundPorts.isEmpty }

    /// `iptables` argument lists that create the rules, in order (run after `cleanup`).
    var install: [[String]] {
        let o = Self.outputChain, p = Self.preroutingChain
        var c: [[String]] = [["-t", "nat", "-N", o]]
        c.append(["-t", "nat", "-A", o, "-m", "owner", "--uid-owner", "\(proxyUID)", "-j", "RETURN"])
        if let g = proxyGID { c.append(["-t", "nat", "-A", o, "-m", "owner", "--gid-owner", "\(g)", "-j", "RETURN"]) }
        if let d = dnsPort { c.append(["-t", "nat", "-A", o, "-p", "udp", "--dport", "53", "-j", "REDIRECT", "--to-ports", "\(d)"]) }
        c.append(["-t", "nat", "-A", o, "-d", "127.0.0.0/8", "-j", "RETURN"])
        for cidr in excludeOutboundCIDRs { c.append(["-t", "nat", "-A", o, "-d", cidr, "-j", "RETURN"]) }
        for port in excludeOutboundPorts { c.append(["-t", "nat", "-A", o, "-p", "tcp", "--dport", "\(port)", "-j", "RETURN"]) }
        c.append(["-t", "nat", "-A", o, "-p", "tcp", "-j", "REDIRECT", "--to-ports", "\(outboundPort)"])
        c.append(["-t", "nat", "-A", "OUTPUT", "-j", o])
        guard hasInbound else { return c }
        c.append(["-t", "nat", "-N", p])
        if allInbound {
            for port in excludeInboundPorts + [inboundPort] { c.append(["-t", "nat", "-A", p, "-p", "tcp", "--dport", "\(port)", "-j", "RETURN"]) }
            c.append(["-t", "nat", "-A", p, "-p", "tcp", "-j", "REDIRECT", "--to-ports", "\(inboundPort)"])
        } else {
            for port in inboundPorts where !excludeInboundPorts.contains(port) {
                c.append(["-t", "nat", "-A", p, "-p", "tcp", "--dport", "\(port)", "-j", "REDIRECT", "--to-ports", "\(inboundPort)"])
            }
        }
        c.append(["-t", "nat", "-A", "PREROUTING", "-j", p])
        return c
    }

    /// Cleanup, per hook and chain: the jump (to delete while it exists) and the chain (flushed and deleted
    /// when it exists).
    static let owned: [(hook: String, chain: String)] = [("OUTPUT", outputChain), ("PREROUTING", preroutingChain)]
}
