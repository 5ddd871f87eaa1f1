import MeshCore
import Testing
import MeshTestSupport

/// Issue 14: an outbound listener may name only its destination service and port; the endpoints come from the
/// control plane's slice, the identity to expect from `to`. A static `upstream` stays possible (and is the only
/// way without policy from the control plane).
@Suite struct EndpointOutboundConfigTests {
    static let managed = #""identity": {"trustDomain": "mesh.local", "certificate": "a.crt", "key": "a.key", "trustBundle": "ca.crt", "bootstrap": {"controlPlane": "127.0.0.1:8443", "tokenFile": "t", "trustAnchor": "ca.pem"}}, "policy": {"fromControlPlane": true, "lastKnownGood": "p.json"}"#

    static func parse(_ head: String, _ outbound: String) throws -> SidecarConfig {
        try SidecarConfig.parse(json: Array("{\(head), \"outbound\": [\(outbound)]}".utf8), baseDirectory: "/etc/mesh")
    }

    @Test func toAndPortAreEnoughWithPolicyFromTheControlPlane() throws {
        let c = try Self.parse(Self.managed, #"{"name": "payments", "listen": "127.0.0.1:9001", "to": "shop/payments", "port": 8080}"#)
        #expect(c.outbound[0].upstream == nil)
        #expect(c.outbound[0].expectIdentity.description == "spiffe://mesh.local/ns/shop/sa/payments")
        #expect(c.outbound[0].destination?.description == "shop/payments" && c.outbound[0].destinationPort == 8080)
    }

    @Test func aStaticUpstreamStaysPossibleAsTheFallback() throws {
        let c = try Self.parse(Self.managed, #"{"name": "payments", "listen": "127.0.0.1:9001", "to": "shop/payments", "port": 8080, "upstream": "10.0.0.5:15443"}"#)
        #expect(c.outbound[0].upstream?.description == "10.0.0.5:15443")
    }

    @Test func withoutPolicyFromTheControlPlaneAnUpstreamIsRequired() {
        expectMeshError("config.missing-field", reasonPrefix: "outbound[0].upstream: ") {
            _ = try Self.parse(ConfigDoc.identity, #"{"name": "payments", "listen": "127.0.0.1:9001", "to": "shop/payments", "port": 8080}"#)
        }
    }

    @Test func withoutToAnExpectIdentityIsRequired() {
        expectMeshError("config.missing-field") {
            _ = try Self.parse(ConfigDoc.identity, #"{"name": "payments", "listen": "127.0.0.1:9001", "upstream": "127.0.0.1:15443"}"#)
        }
    }

    @Test func anExpectIdentityThatIsNotTosStillFails() {
        expectMeshError("config.expect-identity-mismatch") {
            _ = try Self.parse(Self.managed, #"{"name": "payments", "listen": "127.0.0.1:9001", "to": "shop/payments", "port": 8080, "expectIdentity": "spiffe://mesh.local/ns/shop/sa/ledger"}"#)
        }
    }
}
