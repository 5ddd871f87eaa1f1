import MeshCore
import MeshTestSupport
import Testing

/// `identity.bootstrap.controlPlane`: one `"host:port"` as before, or a list of replicas in order.
@Suite struct ControlPlaneListConfigTests {
    typealias P = SidecarConfigParsingTests

    static func doc(_ controlPlane: String) -> String {
        let identity = #"{"trustDomain": "mesh.local", "certificate": "a.crt", "key": "a.key", "trustBundle": "ca.crt", "bootstrap": {"controlPlane": \#(controlPlane), "tokenFile": "t", "trustAnchor": "root.pem"}}"#
        return ConfigDoc.object([#""identity": \#(identity)"#, #""inbound": [\#(P.inb())]"#])
    }

    @Test func oneAddressIsAListOfOne() throws {
        let b = try P.parse(Self.doc(#""127.0.0.1:7443""#)).identity.bootstrap!
        #expect(b.controlPlanes == [HostPort(host: "127.0.0.1", port: 7443)])
        #expect(b.controlPlane == HostPort(host: "127.0.0.1", port: 7443))
    }

    @Test func aListKeepsItsOrder() throws {
        let b = try P.parse(Self.doc(#"["localhost:8443", "127.0.0.1:7443", "[::1]:9443"]"#)).identity.bootstrap!
        #expect(b.controlPlanes == [HostPort(host: "localhost", port: 8443), HostPort(host: "127.0.0.1", port: 7443),
                                    HostPort(host: "::1", port: 9443)])
        #expect(b.controlPlane == HostPort(host: "localhost", port: 8443))
    }

    @Test(arguments: [
        (doc("[]"), "config.bad-value", "identity.bootstrap.controlPlane: "),
        (doc(#"["127.0.0.1:1", "127.0.0.1:1"]"#), "config.bad-value", "identity.bootstrap.controlPlane[1]: "),
        (doc(#"["127.0.0.1:1", 7]"#), "config.wrong-type", "identity.bootstrap.controlPlane[1]: "),
        (doc("7"), "config.wrong-type", "identity.bootstrap.controlPlane: "),
        (doc("[" + (1...17).map { "\"127.0.0.1:\($0)\"" }.joined(separator: ",") + "]"), "config.out-of-range",
         "identity.bootstrap.controlPlane: "),
    ])
    func refusesBadLists(json: String, code: String, path: String) {
        expectMeshError(code, reasonPrefix: path) { _ = try P.parse(json) }
    }
}
