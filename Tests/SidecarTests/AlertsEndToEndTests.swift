import Foundation
import Glibc
import MeshTestSupport
import Testing

/// Black box: a control plane with a `probing` alert rule applied next to the mesh, and a frontend sidecar
/// whose app calls two destinations no rule allows (refused at frontend's egress). After one telemetry flush
/// the alert is firing in `meshctl alerts`, logged as `alert-firing`, and the rule's action quarantined the
/// prober: `meshctl quarantine list` shows it (automatic, by `alert:probe`).
@Suite("Alerts end to end", .serialized)
struct AlertsEndToEndTests {
    static let frontend = "spiffe://mesh.local/ns/shop/sa/frontend"
    static let alerts = """
    {"alerts": [{"name": "probe", "kind": "probing", "distinct": 2, "window": "30s", "severity": "critical",
                 "action": "quarantine", "quarantineFor": "1h"}]}
    """

    @Test func probingFiresAfterOneFlush() throws {
        let mesh = try ManagedMesh(rules: TelemetryEndToEndTests.allowFrontend, callers: [])
        defer { mesh.stop() }
        try Self.alerts.writeReplacing(toFile: "\(mesh.meshDir)/alerts.json")
        let applied = try mesh.apply(rules: TelemetryEndToEndTests.allowFrontend)
        #expect(applied.status == 0, "\(applied.stderr)")
        let p9090 = TCP.freePort(), ledger = TCP.freePort()
        let fe = try mesh.sidecar("frontend", outbound: [
            TelemetryEndToEndTests.outbound("payments-admin", to: 9090, listen: p9090, upstream: mesh.inPort),
            ["name": "ledger", "to": "shop/ledger", "port": 8080, "listen": "127.0.0.1:\(ledger)", "upstream": "127.0.0.1:\(mesh.inPort)",
             "expectIdentity": "spiffe://mesh.local/ns/shop/sa/ledger"]])
        try fe.waitReady(timeout: 20)
        let quiet = try mesh.cp.meshctl(["alerts"])
        #expect(quiet.status == 0 && quiet.stdout == "no alerts\n", "\(quiet.stderr)")
        #expect(TCP.httpGet(port: p9090) == "")
        #expect(TCP.httpGet(port: ledger) == "")
        #expect(fe.admin("POST", "/telemetry/flush").status == 200)

        var firing: [String: Any]?
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, firing == nil {
            let r = try mesh.cp.meshctl(["alerts", "-o", "json"])
            let answer = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            firing = (answer?["alerts"] as? [[String: Any]])?.first { $0["state"] as? String == "firing" }
            if firing == nil { usleep(50_000) }
        }
        let alert = try #require(firing)
        #expect(alert["rule"] as? String == "probe" && alert["subject"] as? String == Self.frontend)
        let evidence = alert["evidence"] as? [String: Any]
        #expect(evidence?["destinations"] as? [String] == ["shop/ledger:8080", "shop/payments:9090"])
        #expect(alert["action"] as? String == "quarantined for 3600s")
        let list = try mesh.cp.meshctl(["quarantine", "list"])
        #expect(list.status == 0 && list.stdout.contains(Self.frontend) && list.stdout.contains("alert:probe"), "\(list.stdout)\(list.stderr)")

        let table = try mesh.cp.meshctl(["alerts", "--watch", "--interval", "1s", "--count", "2"])
        let rows = table.stdout.split(separator: "\n").filter { $0.hasPrefix("firing") }
        #expect(table.status == 0 && rows.count == 2, "\(table.stdout)\(table.stderr)")
        #expect(rows.first?.hasPrefix("firing  critical  probe  /ns/shop/sa/frontend  ") == true, "\(table.stdout)")

        let log = (try? String(contentsOfFile: mesh.cp.logPath, encoding: .utf8)) ?? ""
        let line = log.split(separator: "\n").first { $0.contains("\"alert-firing\"") }
        #expect(line?.contains("\"rule\":\"probe\"") == true && line?.contains(Self.frontend) == true, "\(log.suffix(2000))")
        let metrics = try mesh.cp.meshctl(["metrics"])
        #expect(metrics.stdout.contains("mesh_alerts_firing{rule=\"probe\",severity=\"critical\"} 1"), "\(metrics.stdout)")
        #expect(metrics.stdout.contains("mesh_alerts_total{rule=\"probe\",severity=\"critical\"} 1"))
    }

    /// `action: throttle`: the risk-adaptive answer instead of a quarantine. A deny spike from frontend throttles
    /// it at every receiving sidecar (`meshctl throttle list`), by `alert:spiky`.
    @Test func denySpikeThrottlesTheCaller() throws {
        let mesh = try ManagedMesh(rules: TelemetryEndToEndTests.allowFrontend, callers: [])
        defer { mesh.stop() }
        try """
        {"alerts": [{"name": "spiky", "kind": "deny-spike", "threshold": 2, "window": "30s", "severity": "warning",
                     "action": "throttle", "throttlePerSecond": 1, "throttleFor": "10m"}]}
        """.writeReplacing(toFile: "\(mesh.meshDir)/alerts.json")
        #expect(try mesh.apply(rules: TelemetryEndToEndTests.allowFrontend).status == 0)
        let p9090 = TCP.freePort()
        let fe = try mesh.sidecar("frontend", outbound: [
            TelemetryEndToEndTests.outbound("payments-admin", to: 9090, listen: p9090, upstream: mesh.inPort)])
        try fe.waitReady(timeout: 20)
        for _ in 0..<3 { #expect(TCP.httpGet(port: p9090) == "") }
        #expect(fe.admin("POST", "/telemetry/flush").status == 200)
        var listed = ""
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, !listed.contains(Self.frontend) {
            listed = (try? mesh.cp.meshctl(["throttle", "list"]).stdout) ?? ""
            if !listed.contains(Self.frontend) { usleep(50_000) }
        }
        #expect(listed.contains(Self.frontend) && listed.contains("alert:spiky"), "\(listed)")
        let r = try mesh.cp.meshctl(["alerts", "-o", "json"])
        #expect(r.stdout.contains(#""action":"throttled to 1/s for 600s""#), "\(r.stdout)")
        #expect(try mesh.cp.meshctl(["quarantine", "list"]).stdout.contains(Self.frontend) == false)
    }
}
