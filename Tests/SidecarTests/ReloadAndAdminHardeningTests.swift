import Foundation
import Glibc
import Testing

/// Black box (hardening #12 a, f): a reload may not silently keep old listener facts, and the stats endpoint
/// answers only requests addressed to an IP literal or `localhost` (a DNS-rebinding page cannot read it).
@Suite("Reload and stats endpoint hardening")
struct ReloadAndAdminHardeningTests {
    @Test func reloadChangingInboundPortOrOutboundDestinationIsRefused() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        try mesh.payments.rewriteConfig { cfg in
            var inbound = cfg["inbound"] as! [[String: Any]]
            inbound[0]["port"] = 8080
            cfg["inbound"] = inbound
        }
        let r = mesh.payments.admin("POST", "/reload")
        #expect(r.status == 422 && r.body.contains("reload.listeners-changed"), "\(r.status) \(r.body)")
        try mesh.frontend.rewriteConfig { cfg in
            var outbound = cfg["outbound"] as! [[String: Any]]
            outbound[0]["to"] = "shop/payments"
            outbound[0]["port"] = 8080
            cfg["outbound"] = outbound
        }
        let f = mesh.frontend.admin("POST", "/reload")
        #expect(f.status == 422 && f.body.contains("reload.listeners-changed"), "\(f.status) \(f.body)")
        #expect(mesh.frontend.adminJSON("/config")?["generation"] as? Int == 1)
    }

    /// One GET with the given Host header (nil: none).
    static func get(_ port: UInt16, _ path: String, host: String?) -> (status: Int, body: String) {
        guard let fd = try? TCP.connect(port: port, timeoutSeconds: 5) else { return (0, "") }
        defer { close(fd) }
        let hostLine = host.map { "Host: \($0)\r\n" } ?? ""
        _ = TCP.sendAll(fd, Array("GET \(path) HTTP/1.1\r\n\(hostLine)Connection: close\r\n\r\n".utf8))
        let text = String(decoding: TCP.readToEOF(fd).bytes, as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }

    @Test func statsEndpointRefusesRebindingHostNames() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let port = mesh.payments.adminPort
        for host in ["evil.example", "evil.example:\(port)", "admin", "127.0.0.1.evil.example"] {
            for path in ["/config", "/decisions", "/stats"] {
                let r = Self.get(port, path, host: host)
                #expect(r.status == 403 && r.body.contains("admin.bad-host"), "Host \(host) \(path): \(r.status) \(r.body.prefix(80))")
            }
        }
        for host in ["127.0.0.1:\(port)", "127.0.0.1", "localhost:\(port)", "[::1]:\(port)", "10.1.2.3"] {
            #expect(Self.get(port, "/config", host: host).status == 200, "Host \(host)")
        }
        let metrics = Self.get(port, "/metrics", host: "127.0.0.1").body
        #expect(metrics.contains("mesh_admin_refused_total{reason=\"bad-host\"} 12"), "\(metrics.split(separator: "\n").filter { $0.contains("admin") })")
        #expect(mesh.payments.waitForEvent { $0["event"] as? String == "admin-refused" && $0["reason"] as? String == "bad-host" } != nil)
    }
}
