import Foundation
import MeshCore
import MeshTestSupport
import Testing

/// The request engine's limits come from the sidecar config's `http` section (defaults documented in
/// mesh-config/README.md): a tighter header count there is what the receiving sidecar enforces.
@Suite struct L7LimitsConfigTests {
    @Test func httpSectionParsesWithDefaultsAndBounds() throws {
        let base = #"{"identity": {"trustDomain": "mesh.local", "certificate": "c", "key": "k", "trustBundle": "b"}, "inbound": [{"name": "api", "listen": "127.0.0.1:15443", "forwardTo": "127.0.0.1:8080", "allow": []}]"#
        let plain = try SidecarConfig.parse(json: Array((base + "}").utf8), baseDirectory: "/tmp")
        #expect(plain.http == HTTPSettings())
        #expect(plain.http.maxHeaderBytes == 32_768 && plain.http.maxHeaderCount == 100 && plain.http.headTimeoutMs == 10_000)
        let tight = try SidecarConfig.parse(json: Array((base + #", "http": {"maxHeaderCount": 5, "lingerMs": 0}}"#).utf8), baseDirectory: "/tmp")
        #expect(tight.http.maxHeaderCount == 5 && tight.http.lingerMs == 0 && tight.http.maxHeaderBytes == 32_768)
        expectMeshError("config.out-of-range") { _ = try SidecarConfig.parse(json: Array((base + #", "http": {"maxHeaderCount": 0}}"#).utf8), baseDirectory: "/tmp") }
        expectMeshError("config.unknown-field") { _ = try SidecarConfig.parse(json: Array((base + #", "http": {"maxHeaders": 5}}"#).utf8), baseDirectory: "/tmp") }
    }

    @Test func theReceivingSidecarEnforcesTheConfiguredHeaderCount() throws {
        let f = try L7Fixture(paymentsExtra: ["http": ["maxHeaderCount": 5]])
        defer { f.stop() }
        let c = try f.connect()
        c.send("GET /ok HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n")
        #expect(c.response()?.status == 200)
        let over = try f.connect()
        over.send("GET /over HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-A: b\r\n", count: 6) + "\r\n")
        let r = over.response()
        #expect(r?.status == 431 && r?.body.contains("http.too-many-headers") == true)
        #expect(f.backend.requestTexts.count == 1)
    }
}
