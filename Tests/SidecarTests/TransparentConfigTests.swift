import MeshCore
import Testing
import MeshTestSupport

/// The `transparent` and `dns` sections: defaults, values, and what is refused.
@Suite struct TransparentConfigTests {
    static func parse(_ extra: String) throws -> SidecarConfig {
        let doc = """
        {"identity": {"trustDomain": "mesh.local", "certificate": "c.crt", "key": "c.key", "trustBundle": "ca.crt",
                      "bootstrap": {"controlPlane": "127.0.0.1:7000", "tokenFile": "t", "trustAnchor": "a.pem"}},
         "policy": {"fromControlPlane": true, "lastKnownGood": "p.json"}\(extra)}
        """
        return try SidecarConfig.parse(json: Array(doc.utf8), baseDirectory: "/x")
    }

    @Test func defaultsWhenTheSectionsAreEmpty() throws {
        let c = try Self.parse(#", "transparent": {}, "dns": {}"#)
        #expect(c.transparent == TransparentSettings())
        #expect(c.transparent?.listen == HostPort(host: "127.0.0.1", port: 15001) && c.transparent?.enabled == true)
        #expect(c.dns?.listen == HostPort(host: "127.0.0.1", port: 15053) && c.dns?.domain == "mesh.local")
        #expect(c.dns?.upstream == nil && c.dns?.maxInFlight == 256 && c.dns?.forwardTimeoutMs == 2_000)
    }

    @Test func externalDestinationsAndDNSValues() throws {
        let c = try Self.parse(#", "transparent": {"listen": "127.0.0.1:16001", "externalDestinations": ["10.1.2.3/8:443", "203.0.113.7:5432"]}, "dns": {"domain": "Cluster.Local", "upstream": "10.0.0.2:53", "maxInFlight": 8, "forwardTimeoutMs": 500}"#)
        let ext = try #require(c.transparent?.externalDestinations)
        #expect(ext.map(\.description) == ["10.0.0.0/8:443", "203.0.113.7/32:5432"])
        #expect(ext[0].contains(ipv4: 0x0AFF_0001, port: 443) && !ext[0].contains(ipv4: 0x0AFF_0001, port: 444) && !ext[0].contains(ipv4: 0x0B00_0001, port: 443))
        #expect(c.dns?.domain == "cluster.local" && c.dns?.upstream == HostPort(host: "10.0.0.2", port: 53))
    }

    @Test func refusals() {
        expectMeshError("config.bad-address") { _ = try Self.parse(#", "transparent": {"externalDestinations": ["10.0.0.0/33:1"]}"#) }
        expectMeshError("config.bad-address") { _ = try Self.parse(#", "transparent": {"externalDestinations": ["example.com:443"]}"#) }
        expectMeshError("config.bad-address") { _ = try Self.parse(#", "transparent": {"listen": "[::1]:15001"}"#) }
        expectMeshError("config.unknown-field") { _ = try Self.parse(#", "transparent": {"port": 1}"#) }
        expectMeshError("config.out-of-range") { _ = try Self.parse(#", "transparent": {}, "dns": {"maxInFlight": 0}"#) }
        for domain in ["-", "a.-b", "mesh..local", "mesh.local.", "mesh_local", ""] {
            expectMeshError("config.bad-value") { _ = try Self.parse(#", "transparent": {}, "dns": {"domain": "\#(domain)"}"#) }
        }
        // Without listeners and with transparent disabled there is nothing to do.
        expectMeshError("config.no-listeners") { _ = try Self.parse(#", "transparent": {"enabled": false}"#) }
    }
}
