import Foundation
import Glibc
import Testing

/// Issue 10, black box: each alert kind that can be scripted cheaply with real processes fires on its pattern
/// (and, where cheap, resolves when the pattern stops). A control plane with the mesh applied and an
/// `alerts.json` next to it; sidecars that take identity and policy from it; `POST /telemetry/flush` makes a
/// sidecar report at once; `meshctl alerts -o json` (and `--all` for resolved ones) is what is asserted.
/// Not here: `clone-suspected` (needs two live holders of one identity's key presenting different serials to the
/// control plane's clone detection) and `policy-out-of-sync` (needs a sidecar that keeps reporting an old policy
/// version while a newer one is applied, i.e. a control channel held back for longer than `after`).
@Suite("Alert kinds end to end", .serialized)
struct AlertKindsEndToEndTests {
    static let td = "spiffe://mesh.local"
    static let frontend = "\(td)/ns/shop/sa/frontend"
    static let ledger = "\(td)/ns/shop/sa/ledger"

    /// Writes `alerts.json` next to the mesh and re-applies it.
    static func alertRules(_ mesh: ManagedMesh, _ json: String) throws {
        try json.writeReplacing(toFile: "\(mesh.meshDir)/alerts.json")
        let applied = try mesh.apply(rules: TelemetryEndToEndTests.allowFrontend)
        #expect(applied.status == 0, "\(applied.stderr)")
    }

    /// A managed caller of payments:8080 that reports every second (`telemetry.intervalSeconds: 1`): its
    /// control-channel poll parks for the interval too, so `POST /telemetry/flush` (sent on that shared
    /// connection) answers within about a second instead of the default five.
    static func caller(_ mesh: ManagedMesh, _ name: String) throws -> SidecarProcess {
        let port = TCP.freePort()
        mesh.ports[name] = port
        let s = try mesh.sidecar(name, outbound: [TelemetryEndToEndTests.outbound("payments", to: 8080, listen: port, upstream: mesh.inPort)],
                                 extra: ["telemetry": ["intervalSeconds": 1]])
        mesh.sidecars[name] = s
        try s.waitReady(timeout: 20)
        return s
    }

    static func alerts(_ mesh: ManagedMesh, all: Bool = false) throws -> [[String: Any]] {
        let r = try mesh.cp.meshctl(all ? ["alerts", "--all", "-o", "json"] : ["alerts", "-o", "json"])
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return doc?["alerts"] as? [[String: Any]] ?? []
    }

    /// Polls (bounded) until an alert matches; `between` runs before each poll (traffic, flushes).
    static func waitAlert(_ mesh: ManagedMesh, all: Bool = false, timeout: Double = 6, between: () -> Void = {},
                          _ match: ([String: Any]) -> Bool) throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            between()
            if let a = try alerts(mesh, all: all).first(where: match) { return a }
            usleep(100_000)
        }
        return nil
    }

    static func `is`(_ a: [String: Any], rule: String, kind: String, subject: String, state: String) -> Bool {
        a["rule"] as? String == rule && a["kind"] as? String == kind && a["subject"] as? String == subject
            && a["state"] as? String == state
    }

    static func evidence(_ a: [String: Any]) -> [String: Any] { a["evidence"] as? [String: Any] ?? [:] }

    /// `probing` (no action): two refused destinations in a 2 s window fire; once the prober stops, the window
    /// empties and the alert resolves `resolveAfter` (1 s) later, leaving `meshctl alerts` and showing in `--all`.
    @Test func probingFiresAndResolvesWhenItStops() throws {
        let mesh = try ManagedMesh(rules: TelemetryEndToEndTests.allowFrontend, callers: [])
        defer { mesh.stop() }
        try Self.alertRules(mesh, """
        {"alerts": [{"name": "probe", "kind": "probing", "distinct": 2, "window": "2s", "resolveAfter": "1s",
                     "severity": "warning"}]}
        """)
        let p9090 = TCP.freePort(), ledger = TCP.freePort()
        let fe = try mesh.sidecar("frontend", outbound: [
            TelemetryEndToEndTests.outbound("payments-admin", to: 9090, listen: p9090, upstream: mesh.inPort),
            ["name": "ledger", "to": "shop/ledger", "port": 8080, "listen": "127.0.0.1:\(ledger)", "upstream": "127.0.0.1:\(mesh.inPort)",
             "expectIdentity": Self.ledger]])
        try fe.waitReady(timeout: 20)
        #expect(TCP.httpGet(port: p9090) == "")
        #expect(TCP.httpGet(port: ledger) == "")
        #expect(fe.admin("POST", "/telemetry/flush").status == 200)

        let firing = try #require(try Self.waitAlert(mesh) { Self.is($0, rule: "probe", kind: "probing", subject: Self.frontend, state: "firing") })
        #expect(Self.evidence(firing)["destinations"] as? [String] == ["shop/ledger:8080", "shop/payments:9090"])
        #expect(firing["action"] is NSNull && firing["severity"] as? String == "warning")

        // No more probing: window (2 s) + resolveAfter (1 s), plus a tick or two.
        let resolved = try #require(try Self.waitAlert(mesh, all: true, timeout: 8) {
            Self.is($0, rule: "probe", kind: "probing", subject: Self.frontend, state: "resolved")
        })
        #expect(resolved["id"] as? Int == firing["id"] as? Int)
        let resolvedAt = try #require(resolved["resolvedAt"] as? Int), firedAt = try #require(firing["firedAt"] as? Int)
        #expect(resolvedAt - firedAt >= 3, "fired \(firedAt), resolved \(resolvedAt)")
        #expect(try Self.alerts(mesh).isEmpty)
        let log = (try? String(contentsOfFile: mesh.cp.logPath, encoding: .utf8)) ?? ""
        #expect(log.split(separator: "\n").contains { $0.contains("\"alert-resolved\"") && $0.contains("\"rule\":\"probe\"") }, "\(log.suffix(2000))")
    }

    /// `new-edge` with `learningPeriod: 0s`: frontend's first (allowed) call to payments:8080 is an edge never
    /// seen before, so it fires at once, keyed by the edge; with `resolveAfter: 1s` it resolves once no new edge
    /// is seen; the same edge again is known, not a new alert.
    @Test func newEdgeFiresOnAnEdgeNeverSeenBefore() throws {
        let mesh = try ManagedMesh(rules: TelemetryEndToEndTests.allowFrontend, callers: [])
        defer { mesh.stop() }
        let fe = try Self.caller(mesh, "frontend")
        try Self.alertRules(mesh, """
        {"alerts": [{"name": "fresh", "kind": "new-edge", "learningPeriod": "0s", "resolveAfter": "1s", "severity": "info"}]}
        """)
        #expect(try Self.alerts(mesh).isEmpty)
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        #expect(fe.admin("POST", "/telemetry/flush").status == 200)

        let firing = try #require(try Self.waitAlert(mesh) { Self.is($0, rule: "fresh", kind: "new-edge", subject: Self.frontend, state: "firing") })
        #expect(firing["key"] as? String == "fresh|\(Self.frontend) -> shop/payments:8080")
        #expect(Self.evidence(firing)["destinations"] as? [String] == ["shop/payments:8080"])
        #expect(Self.evidence(firing)["detail"] as? String == "new edge \(Self.frontend) -> shop/payments:8080")

        let resolved = try #require(try Self.waitAlert(mesh, all: true) { Self.is($0, rule: "fresh", kind: "new-edge", subject: Self.frontend, state: "resolved") })
        #expect(resolved["id"] as? Int == firing["id"] as? Int)
        // The same edge once more (and payments' own report of it): learned, nothing new.
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        #expect(fe.admin("POST", "/telemetry/flush").status == 200)
        usleep(1_500_000)
        #expect(try Self.alerts(mesh).isEmpty)
        #expect(try Self.alerts(mesh, all: true).count == 1)
    }

    /// `unknown-identity`: a workload of our trust domain that no service declares (a sidecar holding a token for
    /// `batch/x`, static config) calls payments; payments refuses it and reports the inbound edge: fires for that
    /// identity, and resolves `resolveAfter` (1 s) after the last sighting.
    @Test func unknownIdentityFiresForAnUndeclaredCaller() throws {
        let mesh = try ManagedMesh(rules: TelemetryEndToEndTests.allowFrontend, callers: [])
        defer { mesh.stop() }
        try Self.alertRules(mesh, """
        {"alerts": [{"name": "who", "kind": "unknown-identity", "resolveAfter": "1s", "severity": "critical"}]}
        """)
        let stranger = "\(Self.td)/ns/batch/sa/x"
        let listen = TCP.freePort()
        let token = try mesh.cp.tokenFile("batch/x")
        try FileManager.default.createDirectory(atPath: "\(mesh.cp.dir)/x", withIntermediateDirectories: true)
        let cfg: [String: Any] = [
            "identity": ["trustDomain": "mesh.local", "certificate": "x/svid.crt", "key": "x/svid.key", "trustBundle": "x/bundle.crt",
                         "bootstrap": ["controlPlane": "127.0.0.1:\(mesh.cp.port)", "tokenFile": token,
                                       "trustAnchor": "\(mesh.cp.dataDir)/bundle.pem"]],
            "loops": 1, "log": ["logAllowed": true],
            "outbound": [TelemetryEndToEndTests.outbound("payments", to: 8080, listen: listen, upstream: mesh.inPort, managed: false)],
        ]
        let x = try SidecarProcess(name: "x", config: cfg, dir: mesh.cp.dir)
        mesh.cp.sidecars.append(x)
        try x.waitReady(timeout: 20)
        #expect(TCP.httpGet(port: listen) == "")  // refused by payments (default-deny)
        let payments = mesh.sidecars["payments"]!
        #expect(payments.admin("POST", "/telemetry/flush").status == 200)

        let firing = try #require(try Self.waitAlert(mesh) { Self.is($0, rule: "who", kind: "unknown-identity", subject: stranger, state: "firing") })
        #expect(Self.evidence(firing)["destinations"] as? [String] == ["shop/payments:8080"])
        #expect(Self.evidence(firing)["detail"] as? String == "not a declared service")
        #expect(firing["severity"] as? String == "critical")
        // Declared callers never raise it (payments itself reported; frontend is declared).
        #expect(try Self.alerts(mesh).allSatisfy { $0["subject"] as? String == stranger })

        let resolved = try #require(try Self.waitAlert(mesh, all: true) { Self.is($0, rule: "who", kind: "unknown-identity", subject: stranger, state: "resolved") })
        #expect(resolved["id"] as? Int == firing["id"] as? Int)
    }

    /// `sidecar-stale` (`after: 2s`): frontend reports, then is stopped: stale for frontend, while ledger, which
    /// keeps reporting, is not. Frontend started again (same identity) and reporting: the alert resolves.
    @Test func sidecarStaleWhenAReporterStopsAndResolvesWhenItIsBack() throws {
        let mesh = try ManagedMesh(rules: TelemetryEndToEndTests.allowFrontend, callers: [])
        defer { mesh.stop() }
        let fe = try Self.caller(mesh, "frontend")
        _ = try Self.caller(mesh, "ledger")  // refused at its egress: still an edge to report
        try Self.alertRules(mesh, """
        {"alerts": [{"name": "stale", "kind": "sidecar-stale", "after": "2s", "severity": "warning"}]}
        """)
        func report(_ name: String) {
            _ = mesh.call(name)
            _ = mesh.sidecars[name]!.admin("POST", "/telemetry/flush")
        }
        report("frontend")
        report("ledger")
        fe.stop()

        let firing = try #require(try Self.waitAlert(mesh, timeout: 8, between: { report("ledger") }) {
            Self.is($0, rule: "stale", kind: "sidecar-stale", subject: Self.frontend, state: "firing")
        })
        #expect((Self.evidence(firing)["detail"] as? String)?.hasPrefix("no report for ") == true, "\(firing)")
        #expect((Self.evidence(firing)["count"] as? Int ?? 0) >= 2)
        let all = try Self.alerts(mesh, all: true)
        #expect(all.contains { $0["subject"] as? String == Self.ledger } == false, "\(all)")

        // Back (same identity, same config): its first report resolves the alert at the next tick.
        let again = try SidecarProcess(name: "frontend", config: fe.config, dir: mesh.cp.dir)
        mesh.cp.sidecars.append(again)
        mesh.sidecars["frontend"] = again
        try again.waitReady(timeout: 20)
        report("frontend")
        let resolved = try #require(try Self.waitAlert(mesh, all: true) {
            Self.is($0, rule: "stale", kind: "sidecar-stale", subject: Self.frontend, state: "resolved")
        })
        #expect(resolved["id"] as? Int == firing["id"] as? Int)
    }

    /// `certificate-expiring`: certificates live 30 s (`--cert-ttl 30s`), the rule warns `within: 1m`: fires for
    /// the reporting identity at once. The rule re-applied with `within: 1s` (less than the life left): resolves.
    @Test func certificateExpiringFiresForTheReportingIdentity() throws {
        let mesh = try ManagedMesh(rules: TelemetryEndToEndTests.allowFrontend, callers: [], certTTL: 30)
        defer { mesh.stop() }
        _ = try Self.caller(mesh, "frontend")
        try Self.alertRules(mesh, """
        {"alerts": [{"name": "expiring", "kind": "certificate-expiring", "within": "1m", "severity": "warning"}]}
        """)
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        #expect(mesh.sidecars["frontend"]!.admin("POST", "/telemetry/flush").status == 200)

        let firing = try #require(try Self.waitAlert(mesh) {
            Self.is($0, rule: "expiring", kind: "certificate-expiring", subject: Self.frontend, state: "firing")
        })
        let left = Self.evidence(firing)["count"] as? Int ?? -1
        #expect(left > 0 && left <= 30, "\(firing)")
        #expect((Self.evidence(firing)["detail"] as? String)?.hasPrefix("certificate expires at 20") == true, "\(firing)")

        try Self.alertRules(mesh, """
        {"alerts": [{"name": "expiring", "kind": "certificate-expiring", "within": "1s", "severity": "warning"}]}
        """)
        let resolved = try #require(try Self.waitAlert(mesh, all: true) {
            Self.is($0, rule: "expiring", kind: "certificate-expiring", subject: Self.frontend, state: "resolved")
        })
        #expect(resolved["id"] as? Int == firing["id"] as? Int)
    }
}
