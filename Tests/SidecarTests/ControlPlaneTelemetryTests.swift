import Foundation
import Glibc
import Testing
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshTLS
import MeshTestSupport

/// Black box: `POST /v1/telemetry`, `GET /v1/graph`, `GET /v1/telemetry/sidecars` and the telemetry figures of
/// `/metrics` on a real `mesh-control`, with certificates it issued.
@Suite("Control plane telemetry")
struct ControlPlaneTelemetryTests {
    static let cpID = try! SPIFFEID.workload("spiffe://mesh.local/ns/mesh-system/sa/mesh-control")

    static func address(_ cp: ControlPlaneFixture) throws -> SocketAddress { try SocketAddress(HostPort(host: "127.0.0.1", port: cp.port)) }

    /// A sidecar's client: a certificate for `service` issued by the control plane.
    static func sidecar(_ cp: ControlPlaneFixture, _ service: String) throws -> ControlPlaneClient {
        ControlPlaneClient(addresses: [try address(cp)], tls: try ControlPlaneLoadTests.workloadClient(cp, service), expectServer: cpID)
    }

    static func operatorClient(_ cp: ControlPlaneFixture) throws -> ControlPlaneClient {
        let bundle = try Certificate.parseChain(pem: Array(try Data(contentsOf: URL(fileURLWithPath: "\(cp.dataDir)/bundle.pem"))), maxCount: 16)
        let token = try String(contentsOfFile: "\(cp.dataDir)/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return ControlPlaneClient(addresses: [try address(cp)], tls: try TLSContext.client(trusting: bundle, trustDomain: TrustDomain("mesh.local")),
                                  expectServer: cpID, bearerToken: token)
    }

    static func id(_ service: String) -> SPIFFEID {
        let p = service.split(separator: "/")
        return try! SPIFFEID.workload("spiffe://mesh.local/ns/\(p[0])/sa/\(p[1])")
    }

    static func edge(_ caller: String, connections: Int, allowed: Bool = true) -> TelemetryEdge {
        var c = EdgeCounts()
        for i in 0..<connections { c.record(bytesToDestination: 100 + i, bytesToCaller: 1000, handshakeUs: 2_000, durationUs: 50_000) }
        return TelemetryEdge(key: EdgeKey(observer: .inbound, caller: caller, destination: "shop/api", port: 8080, allowed: allowed,
                                          rule: allowed ? "web-to-api" : "", reason: allowed ? "allowed" : "no-rule"), counts: c)
    }

    static func report(seq: Int, _ edges: [TelemetryEdge], source: String = "shop/api") -> TelemetryReport {
        let now = Int(Date().timeIntervalSince1970)
        return TelemetryReport(source: id(source), instance: "0a1b2c", seq: seq, policyVersion: 0, windowStart: now - 5, windowEnd: now, edges: edges)
    }

    /// `series → value` from the operator's `/metrics`.
    static func metrics(_ op: ControlPlaneClient) throws -> [String: Double] {
        let text = String(decoding: try op.exchange("GET", "/metrics").body, as: UTF8.self)
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = Double(parts[1]) { out[String(parts[0])] = v }
        }
        return out
    }

    /// `promtool check metrics` (Debian package `prometheus`) finds nothing to say; skipped where it is not installed.
    static func promtoolAccepts(_ text: String) throws {
        let path = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: path) else { return }
        let r = try ChildProcess.run(path, ["check", "metrics"], stdinText: text)
        let said = r.stdout + r.stderr
        #expect(r.status == 0 && said.isEmpty, "promtool: \(said)")
    }

    /// A report, then the graph gives back exactly its counts; a retry is a duplicate (not counted); a report for
    /// another identity is refused 403 `telemetry.wrong-source`; the figures show in `/metrics` and the sidecar list.
    @Test func reportGraphDuplicateAndWrongSource() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let api = try Self.sidecar(cp, "shop/api")
        let op = try Self.operatorClient(cp)
        let web = Self.id("shop/web").description
        let edges = [Self.edge(web, connections: 3), Self.edge(EdgeKey.unauthenticatedCaller, connections: 2, allowed: false)]
        #expect(try api.report(Self.report(seq: 1, edges)) == TelemetryAck(seq: 1, duplicate: false))
        #expect(try api.report(Self.report(seq: 1, edges)) == TelemetryAck(seq: 1, duplicate: true))
        let e = expectMeshError("telemetry.wrong-source") { _ = try api.report(Self.report(seq: 2, edges, source: "shop/web")) }
        #expect(e?.reason.hasSuffix("not for \(Self.id("shop/web"))") == true, "\(e?.reason ?? "")")

        let g = try op.graph(sinceSeconds: 900)
        #expect(g.resolutionSeconds == 10)
        #expect(g.edges.map(\.key) == [edges[0].key, edges[1].key])  // same destination and port: by caller
        let byCaller = Dictionary(uniqueKeysWithValues: g.edges.map { ($0.key.caller, $0) })
        #expect(byCaller[web]?.counts == edges[0].counts)
        #expect(byCaller[EdgeKey.unauthenticatedCaller]?.counts == edges[1].counts)
        #expect(try op.graph(sinceSeconds: 900, service: "shop/web").edges.map(\.key) == [edges[0].key])  // the caller is shop/web
        #expect(try op.graph(sinceSeconds: 900, service: "shop/db").edges.isEmpty)
        for path in ["/v1/graph", "/v1/telemetry/sidecars"] {  // operator only: a sidecar certificate is not enough
            let r = try api.send("GET", path)
            #expect(r.status == 401 && r.text.contains("auth.required"), "\(path): \(r.status)")
        }
        for since in ["2d", "25h", "0", "abc", "1.5", "-5"] {
            let bad = try op.send("GET", "/v1/graph?since=\(since)")
            #expect(bad.status == 400 && bad.text.contains("telemetry.bad-query"), "\(since): \(bad.status)")
        }
        for (since, resolution) in [("30s", 10), ("1h", 10), ("3601", 60), ("1d", 60)] {
            let r = try op.send("GET", "/v1/graph?since=\(since)")
            #expect(r.status == 200 && (try? GraphAnswer(bytes: r.body))?.resolutionSeconds == resolution, "\(since)")
        }
        let badService = try op.send("GET", "/v1/graph?service=shop")
        #expect(badService.status == 400 && badService.text.contains("telemetry.bad-query"))

        let rows = try op.telemetrySidecars().sidecars
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.identity == Self.id("shop/api").description && row.instance == "0a1b2c")
        #expect(row.lastSeq == 1 && row.reports == 1 && row.duplicates == 1 && row.edges == 2)

        let m = try Self.metrics(op)
        #expect(m["mesh_control_telemetry_reports_total{result=\"accepted\"}"] == 1)
        #expect(m["mesh_control_telemetry_reports_total{result=\"duplicate\"}"] == 1)
        #expect(m["mesh_control_telemetry_reports_total{result=\"refused\"}"] == 1)
        #expect(m["mesh_control_decisions_total{observer=\"inbound\",verdict=\"allow\"}"] == 3)
        #expect(m["mesh_control_decisions_total{observer=\"inbound\",verdict=\"deny\"}"] == 2)
        #expect(m["mesh_control_telemetry_edges"] == 2 && m["mesh_control_sidecars_reporting"] == 1)
        #expect(m["mesh_control_telemetry_journal_fsync_seconds_count"].map { $0 >= 1 } == true)
        try Self.promtoolAccepts(String(decoding: try op.exchange("GET", "/metrics").body, as: UTF8.self))
        let log = try String(contentsOfFile: cp.logPath, encoding: .utf8)
        #expect(log.contains("telemetry-refused") && log.contains("telemetry.wrong-source"))
    }

    /// `kill -9` right after the acks: the restarted control plane has exactly the acknowledged counts, and a
    /// re-sent report is a duplicate.
    @Test func acknowledgedReportsSurviveKill9() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let api = try Self.sidecar(cp, "shop/api")
        let web = Self.id("shop/web").description
        var expected = 0
        for seq in 1...20 {
            #expect(try api.report(Self.report(seq: seq, [Self.edge(web, connections: seq)])).duplicate == false)
            expected += seq
        }
        cp.kill9()
        try cp.start()
        let op = try Self.operatorClient(cp)
        let g = try op.graph(sinceSeconds: 3600)
        #expect(g.edges.count == 1)
        #expect(g.edges.first?.counts.connections == expected)
        #expect(try api.report(Self.report(seq: 20, [Self.edge(web, connections: 20)])).duplicate)
        #expect(try api.report(Self.report(seq: 21, [Self.edge(web, connections: 1)])).duplicate == false)
        #expect(try op.graph(sinceSeconds: 3600).edges.first?.counts.connections == expected + 1)
    }

    /// A parked long poll answered by an apply shows in `mesh_control_policy_push_seconds`, and its caller in
    /// `mesh_control_sidecars_polling`.
    @Test func pollingAndPolicyPushMetrics() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let mesh = "\(cp.dir)/mesh"
        try FileManager.default.createDirectory(atPath: mesh, withIntermediateDirectories: true)
        try ManagedMesh.services.writeReplacing(toFile: "\(mesh)/services.json")
        try "{\"rules\": []}".writeReplacing(toFile: "\(mesh)/rules.json")
        #expect(try cp.meshctl(["apply", "-f", mesh]).status == 0)
        let ctx = try ControlPlaneLoadTests.workloadClient(cp, "shop/payments")
        let first = try ControlPlaneClient(addresses: [try Self.address(cp)], tls: ctx, expectServer: Self.cpID).send("GET", "/v1/slice?version=-1")
        #expect(first.status == 200)
        let epoch = try #require(first.text.firstMatch(of: /epoch[\\":]+([0-9a-f]+)/)?.1)  // inside the signed document (a string)
        let op = try Self.operatorClient(cp)
        #expect(try Self.metrics(op)["mesh_control_policy_push_seconds_count"] == 0)
        let parked = try TLSTestConnection(port: cp.port, context: ctx, send: "GET /v1/slice?version=1&epoch=\(epoch) HTTP/1.1\r\nHost: cp\r\n\r\n")
        _ = parked
        var m = try Self.metrics(op)
        let deadline = Date().addingTimeInterval(5)
        while m["mesh_control_long_polls_parked"] != 1 && Date() < deadline { usleep(50_000); m = try Self.metrics(op) }
        #expect(m["mesh_control_long_polls_parked"] == 1 && m["mesh_control_sidecars_polling"] == 1, "\(m)")
        try """
        {"rules": [{"name": "ledger-to-payments", "action": "allow", "from": {"services": ["shop/ledger"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}]}
        """.writeReplacing(toFile: "\(mesh)/rules.json")
        let applied = try cp.meshctl(["apply", "-f", mesh])
        #expect(applied.status == 0, "\(applied.stderr)")
        m = try Self.metrics(op)
        #expect(m["mesh_control_policy_push_seconds_count"] == 1, "\(m)")
        #expect(m["mesh_control_long_polls_parked"] == 0)
    }

    /// `serve --telemetry-max-edges 1`: the second distinct edge is folded into the overflow edge, counted.
    @Test func edgeCapFlagFoldsIntoOverflow() throws {
        let cp = try ControlPlaneFixture(extraArgs: ["--telemetry-max-edges", "1"])
        defer { cp.stop() }
        let api = try Self.sidecar(cp, "shop/api")
        let web = Self.id("shop/web").description, db = Self.id("shop/db").description
        _ = try api.report(Self.report(seq: 1, [Self.edge(web, connections: 2), Self.edge(db, connections: 3)]))
        let op = try Self.operatorClient(cp)
        let g = try op.graph(sinceSeconds: 60)
        #expect(g.edges.map(\.key.caller) == [EdgeKey.overflowCaller, web])
        #expect(g.edges.map(\.counts.connections) == [3, 2])
        #expect(try Self.metrics(op)["mesh_control_telemetry_folded_total"] == 1)
    }
}
