import MeshCore
import MeshNet
import MeshPolicy
import Testing
@testable import SidecarKit

/// How an original destination maps through the slice (no sockets): virtual IP, external declaration, endpoint
/// IP, the sidecar's own listeners, and everything else refused.
@Suite struct TransparentRoutesTests {
    static func frontendSlice() throws -> ServiceSlice {
        let doc = #"""
        {"trustDomain": "mesh.local", "services": [
          {"namespace": "shop", "name": "payments", "ports": [8080], "address": "10.1.0.5:15443"},
          {"namespace": "shop", "name": "ledger", "ports": [8080], "address": "10.1.0.6:15443"},
          {"namespace": "shop", "name": "frontend", "ports": [8080]}],
         "rules": [{"name": "fe", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}]}
        """#
        let policy = try MeshPolicy.load(files: [(name: "mesh.json", bytes: Array(doc.utf8))])
        return try #require(policy.compile(version: 1).slice(for: ServiceKey(namespace: "shop", name: "frontend")))
    }

    static func config(external: [String]) throws -> SidecarConfig {
        let list = external.map { "\"\($0)\"" }.joined(separator: ",")
        let doc = """
        {"identity": {"trustDomain": "mesh.local", "certificate": "c.crt", "key": "c.key", "trustBundle": "ca.crt",
                      "bootstrap": {"controlPlane": "127.0.0.1:7000", "tokenFile": "t", "trustAnchor": "a.pem"}},
         "policy": {"fromControlPlane": true, "lastKnownGood": "p.json"},
         "inbound": [{"name": "api", "port": 8080, "listen": "0.0.0.0:15443", "forwardTo": "127.0.0.1:8080", "allow": []}],
         "transparent": {"externalDestinations": [\(list)]}}
        """
        return try SidecarConfig.parse(json: Array(doc.utf8), baseDirectory: "/x")
    }

    static func addr(_ s: String) throws -> SocketAddress { try SocketAddress(HostPort(parsing: s)) }

    @Test func mapsByVirtualIPExternalEndpointAndRefusesTheRest() throws {
        let slice = try Self.frontendSlice()
        let routes = TransparentRoutes(slice: slice, config: try Self.config(external: ["10.1.0.0/16:5432"]))
        let payments = ServiceKey(namespace: "shop", name: "payments")
        // Only the slice's destinations (payments) have a virtual IP; ledger is not one of frontend's.
        #expect(Array(routes.virtualIPs.keys) == [payments])
        let vip = VirtualIPs.text(routes.virtualIPs[payments]!)
        guard case .mesh(let d, let port, let up) = routes.route(try Self.addr("\(vip):8080")) else { Issue.record("VIP not mapped"); return }
        let endpoint = try Self.addr("10.1.0.5:15443")
        #expect(d.service == payments && port == 8080 && up.endpoints == [endpoint])
        // The endpoint's IP on any port is payments (egress rules decide the port) unless declared external.
        guard case .mesh(_, let p2, _) = routes.route(try Self.addr("10.1.0.5:9090")) else { Issue.record("endpoint IP not mapped"); return }
        #expect(p2 == 9090)
        guard case .external = routes.route(try Self.addr("10.1.0.5:5432")) else { Issue.record("external not passed"); return }
        guard case .external = routes.route(try Self.addr("10.1.200.1:5432")) else { Issue.record("external CIDR not passed"); return }
        // ledger's address is not in frontend's slice: not a mesh destination for it.
        guard case .notMesh = routes.route(try Self.addr("10.1.0.6:8080")) else { Issue.record("ledger mapped"); return }
        guard case .notMesh = routes.route(try Self.addr("240.240.0.1:8080")) else { Issue.record("unassigned VIP mapped"); return }
        guard case .notMesh = routes.route(try Self.addr("[2001:db8::1]:443")) else { Issue.record("IPv6 mapped"); return }
    }

    @Test func ownListenersAreLoops() throws {
        let routes = TransparentRoutes(slice: try Self.frontendSlice(), config: try Self.config(external: []))
        for own in ["127.0.0.1:15001", "127.0.0.1:15000", "127.0.0.1:15443", "127.0.0.5:15443"] {
            guard case .loop = routes.route(try Self.addr(own)) else { Issue.record("\(own) not a loop"); continue }
        }
        guard case .notMesh = routes.route(try Self.addr("127.0.0.1:15002")) else { Issue.record("15002 is not ours"); return }
    }

    @Test func withoutASliceNothingIsMesh() throws {
        let routes = TransparentRoutes(slice: nil, config: try Self.config(external: []))
        #expect(routes.virtualIPs.isEmpty)
        guard case .notMesh = routes.route(try Self.addr("10.1.0.5:8080")) else { Issue.record("mapped without a slice"); return }
    }
}
