import Foundation
import MeshTestSupport
import Glibc
import Testing

/// Black box: the stats endpoint of a running sidecar, spoken to with real `curl` and plain sockets.
@Suite("Stats endpoint")
struct StatsEndpointTests {
    static func curl(_ args: [String]) -> (status: Int32, out: String) {
        guard let r = try? ChildProcess.run("/usr/bin/curl", ["-sS", "-m", "5"] + args) else { return (-1, "") }
        return (r.status, r.stdout)
    }

    @Test func curlSeesHealthReadinessStatsConfigAndRefusedDecisions() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        #expect(TCP.httpGet(port: mesh.frontendPort).hasSuffix("hello from payments\n"))
        #expect(TCP.httpGet(port: mesh.intruderPort) == "")
        let base = "http://127.0.0.1:\(mesh.payments.adminPort)"
        #expect(Self.curl(["\(base)/healthz"]).out == "ok\n")

        let ready = Self.curl(["-w", "%{http_code}", "-o", "/dev/null", "\(base)/ready"])
        #expect(ready.out == "200")

        let stats = try #require(mesh.payments.adminJSON("/stats"))
        let inbound = try #require(stats["inbound"] as? [String: Any])
        #expect((inbound["opened"] as? Int ?? 0) >= 2)
        let failures = try #require(stats["failures"] as? [[String: Any]])
        #expect(failures.contains { $0["reason"] as? String == "identity-not-allowed" && $0["count"] as? Int == 1 })

        let config = try #require(mesh.payments.adminJSON("/config"))
        let identity = try #require(config["identity"] as? [String: Any])
        #expect(identity["spiffeID"] as? String == "spiffe://mesh.local/ns/shop/sa/payments")
        #expect((identity["certificateSerial"] as? String)?.isEmpty == false)
        #expect((identity["notAfter"] as? String)?.hasPrefix("20") == true)
        let bundle = try #require(config["trustBundle"] as? [[String: Any]])
        #expect(bundle.first?["sha256"] as? String == mesh.pki.ca.certificate.sha256Fingerprint)
        #expect(config["generation"] as? Int == 1)

        let denied = Self.curl(["\(base)/decisions?verdict=deny"]).out
        let decisions = try #require((try JSONSerialization.jsonObject(with: Data(denied.utf8)) as? [String: Any])?["decisions"] as? [[String: Any]])
        let intruder = try #require(decisions.first { $0["identity"] as? String == "spiffe://mesh.local/ns/shop/sa/intruder" })
        #expect(intruder["verdict"] as? String == "deny")
        #expect(intruder["rule"] as? String == "default-deny")
        #expect(intruder["reason"] as? String == "identity-not-allowed")
        #expect(intruder["port"] as? Int == Int(mesh.inboundPort))
        #expect(decisions.allSatisfy { $0["verdict"] as? String == "deny" })
        let allowed = Self.curl(["\(base)/decisions?verdict=allow"]).out
        #expect(allowed.contains("spiffe://mesh.local/ns/shop/sa/frontend"))
        #expect(!allowed.contains("\"deny\""))
        #expect(Self.curl(["-w", "%{http_code}", "-o", "/dev/null", "\(base)/decisions?verdict=maybe"]).out == "400")
    }

    @Test func metricsAreValidPrometheusTextWithTheDocumentedFamilies() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        #expect(TCP.httpGet(port: mesh.frontendPort).hasSuffix("hello from payments\n"))
        #expect(TCP.httpGet(port: mesh.intruderPort) == "")
        _ = mesh.payments.waitForEvent { $0["reason"] as? String == "identity-not-allowed" }
        let text = Self.curl(["http://127.0.0.1:\(mesh.payments.adminPort)/metrics"]).out
        for family in ["mesh_connections_opened_total", "mesh_connections_closed_total", "mesh_connections_active",
                       "mesh_proxied_bytes_total", "mesh_tls_handshakes_total", "mesh_connection_failures_total",
                       "mesh_authz_decisions_total", "mesh_tls_handshake_duration_seconds_bucket",
                       "mesh_connection_duration_seconds_count", "mesh_certificate_expiry_timestamp_seconds",
                       "mesh_reloads_total", "mesh_config_generation"] {
            #expect(text.contains("\n\(family)"), "missing \(family)")
        }
        #expect(text.contains("mesh_authz_decisions_total{direction=\"inbound\",verdict=\"deny\",rule=\"default-deny\"} 1"))
        #expect(text.contains("mesh_authz_decisions_total{direction=\"inbound\",verdict=\"allow\",rule=\"http/allow/0\"} 1"))
        #expect(text.contains("mesh_connection_failures_total{direction=\"inbound\",reason=\"identity-not-allowed\"} 1"))
        // promtool (Debian's `prometheus` package) is the judge when it is installed.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            let r = try ChildProcess.run("/usr/bin/promtool", ["check", "metrics"], stdinText: text)
            #expect(r.status == 0, "promtool: \(r.stdout)\(r.stderr)")
        }
    }

    @Test func stateChangesNeedPOST() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        #expect(mesh.payments.admin("GET", "/reload").status == 405)
        #expect(mesh.payments.admin("POST", "/stats").status == 405)
        #expect(mesh.payments.admin("GET", "/nothing-here").status == 404)
        #expect(mesh.payments.admin("POST", "/reload").status == 200)
    }

    @Test func waitReadyExitsZeroForAReadySidecarAnd75WhenNothingAnswers() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let ok = try SidecarProcess.runToExit(["wait-ready", "--admin", "127.0.0.1:\(mesh.payments.adminPort)", "--timeout", "10"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("\"ready\":true"))
        let none = try SidecarProcess.runToExit(["wait-ready", "--admin", "127.0.0.1:\(TCP.freePort())", "--timeout", "1"])
        #expect(none.status == 75)
    }
}
