import MeshCore
import Testing
import MeshTestSupport

/// Hardening #12 b and c: an outbound listener must expect the identity of the service it names, and must not
/// be reachable from other hosts unless the config says so on purpose.
@Suite struct OutboundListenerSafetyTests {
    static func parse(_ outbound: String) throws -> SidecarConfig {
        try SidecarConfig.parse(json: Array(ConfigDoc.object([ConfigDoc.identity, #""outbound": [\#(outbound)]"#]).utf8),
                                baseDirectory: "/etc/mesh")
    }

    static func out(listen: String = "127.0.0.1:10001", to: String? = nil, expect: String = "spiffe://mesh.local/ns/shop/sa/payments",
                    extra: String = "") -> String {
        #"{"name": "payments", "listen": "\#(listen)", "upstream": "127.0.0.1:15444", "expectIdentity": "\#(expect)""#
            + (to.map { #", "to": "\#($0)", "port": 8080"# } ?? "") + extra + "}"
    }

    @Test func expectIdentityMustBeTheIdentityOfTheServiceNamedByTo() throws {
        _ = try Self.parse(Self.out(to: "shop/payments"))
        let e = expectMeshError("config.expect-identity-mismatch", reasonPrefix: "outbound[0].expectIdentity: ") {
            _ = try Self.parse(Self.out(to: "shop/payments", expect: "spiffe://mesh.local/ns/shop/sa/ledger"))
        }
        #expect(e?.kind.exitCode == 64)
        expectMeshError("config.expect-identity-mismatch", reasonPrefix: "outbound[0].expectIdentity: ") {
            _ = try Self.parse(Self.out(to: "other/payments"))
        }
    }

    @Test(arguments: ["0.0.0.0:10001", "[::]:10001", "10.0.0.5:10001", "192.0.2.1:10001", "[2001:db8::1]:10001"])
    func nonLoopbackOutboundListenerIsRefusedUnlessAllowed(_ listen: String) throws {
        let e = expectMeshError("config.outbound-not-loopback", reasonPrefix: "outbound[0].listen: ") {
            _ = try Self.parse(Self.out(listen: listen))
        }
        #expect(e?.kind.exitCode == 64)
        let allowed = try Self.parse(Self.out(listen: listen, extra: #", "allowNonLoopback": true"#))
        #expect(allowed.outbound[0].allowNonLoopback)
    }

    @Test(arguments: ["127.0.0.1:10001", "127.0.0.2:10001", "localhost:10001", "[::1]:10001", "[::ffff:127.0.0.1]:10001"])
    func loopbackOutboundListenerIsAccepted(_ listen: String) throws {
        #expect(try !Self.parse(Self.out(listen: listen)).outbound[0].allowNonLoopback)
    }
}
