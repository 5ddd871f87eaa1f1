import Foundation
import Glibc
import MeshAPI
import MeshTestSupport
import Testing

/// Black box, every part real: a control plane with a mesh applied, sidecars that take identity and policy from
/// it and report telemetry, and `meshctl graph`/`suggest` reading the result. The graph must equal what each
/// sidecar counted itself, survive a `kill -9` of the control plane without losing or doubling a count, and a
/// suggestion made from audit-mode traffic must allow exactly that traffic once applied.
@Suite("Telemetry end to end", .serialized)
struct TelemetryEndToEndTests {
    static let frontend = "spiffe://mesh.local/ns/shop/sa/frontend"
    static let ledger = "spiffe://mesh.local/ns/shop/sa/ledger"
    static let allowFrontend = """
    {"name": "frontend-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]},
     "to": {"services": ["shop/payments"]}, "ports": [8080]}
    """

    /// payments (managed, inbound 8080); frontend (managed) calling payments:8080 and payments:9090 (no rule:
    /// refused at frontend's egress); ledger with a static config (no egress check) calling payments:8080
    /// (refused by payments).
    static func mesh() throws -> (ManagedMesh, adminPort: UInt16) {
        let mesh = try ManagedMesh(rules: allowFrontend, callers: [])
        let fe = TCP.freePort(), fe9090 = TCP.freePort(), led = TCP.freePort()
        mesh.ports["frontend"] = fe
        mesh.ports["ledger"] = led
        mesh.sidecars["frontend"] = try mesh.sidecar("frontend", outbound: [
            outbound("payments", to: 8080, listen: fe, upstream: mesh.inPort),
            outbound("payments-admin", to: 9090, listen: fe9090, upstream: mesh.inPort)])
        mesh.sidecars["ledger"] = try mesh.sidecar("ledger", outbound: [
            outbound("payments", to: 8080, listen: led, upstream: mesh.inPort, managed: false)], managed: false)
        for s in mesh.sidecars.values { try s.waitReady(timeout: 20) }
        return (mesh, fe9090)
    }

    static func outbound(_ name: String, to port: Int, listen: UInt16, upstream: UInt16, managed: Bool = true) -> [String: Any] {
        var o: [String: Any] = ["name": name, "listen": "127.0.0.1:\(listen)", "upstream": "127.0.0.1:\(upstream)",
                                "expectIdentity": "spiffe://mesh.local/ns/shop/sa/payments"]
        if managed { o["to"] = "shop/payments"; o["port"] = port }
        return o
    }

    /// The sidecar's own counters for one direction: connections closed, bytes each way.
    static func stats(_ s: SidecarProcess, _ direction: String) -> (closed: Int, fromDown: Int, fromUp: Int, active: Int) {
        let d = (s.adminJSON("/stats")?[direction] as? [String: Any]) ?? [:]
        return (d["closed"] as? Int ?? -1, d["bytesFromDownstream"] as? Int ?? -1, d["bytesFromUpstream"] as? Int ?? -1,
                d["active"] as? Int ?? -1)
    }

    /// Waits (bounded) until no connection is open at any sidecar.
    static func settle(_ mesh: ManagedMesh) {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if mesh.sidecars.values.allSatisfy({ stats($0, "inbound").active == 0 && stats($0, "outbound").active == 0 }) { return }
            usleep(20_000)
        }
    }

    static func flushAll(_ mesh: ManagedMesh) -> [Int] {
        mesh.sidecars.keys.sorted().map { mesh.sidecars[$0]!.admin("POST", "/telemetry/flush").status }
    }

    static func graph(_ mesh: ManagedMesh) throws -> GraphAnswer {
        let r = try mesh.cp.meshctl(["graph", "--since", "15m", "-o", "json"])
        guard r.status == 0 else { throw TestFailure("meshctl graph: \(r.stderr)") }
        return try GraphAnswer(bytes: Array(r.stdout.utf8), limits: GraphAnswer.limits)
    }

    /// Per sidecar and direction, what the graph says it observed: connections and bytes each way.
    static func observed(_ g: GraphAnswer, _ service: String, _ observer: TelemetryObserver) -> (connections: Int, toDest: Int, toCaller: Int) {
        let id = "spiffe://mesh.local/ns/shop/sa/\(service)"
        let edges = g.edges.filter {
            $0.key.observer == observer && (observer == .inbound ? $0.key.destination == "shop/\(service)" : $0.key.caller == id)
        }
        return (edges.reduce(0) { $0 + $1.counts.connections }, edges.reduce(0) { $0 + $1.counts.bytesToDestination },
                edges.reduce(0) { $0 + $1.counts.bytesToCaller })
    }

    /// Every sidecar's graph totals equal its `/stats`, both directions, connections and bytes.
    static func expectGraphMatchesStats(_ mesh: ManagedMesh, _ g: GraphAnswer, sourceLocation: SourceLocation = #_sourceLocation) {
        for name in ["payments", "frontend", "ledger"] {
            let s = mesh.sidecars[name]!
            let inbound = stats(s, "inbound"), outbound = stats(s, "outbound")
            let gi = observed(g, name, .inbound), go = observed(g, name, .outbound)
            #expect(gi.connections == inbound.closed, "\(name) inbound", sourceLocation: sourceLocation)
            #expect(gi.toDest == inbound.fromDown && gi.toCaller == inbound.fromUp, "\(name) inbound bytes", sourceLocation: sourceLocation)
            #expect(go.connections == outbound.closed, "\(name) outbound", sourceLocation: sourceLocation)
            #expect(go.toDest == outbound.fromDown && go.toCaller == outbound.fromUp, "\(name) outbound bytes", sourceLocation: sourceLocation)
        }
    }

    static func traffic(_ mesh: ManagedMesh, admin9090: UInt16, allowed: Int, egressRefused: Int, inboundRefused: Int) {
        for _ in 0..<allowed { #expect(mesh.call("frontend").hasSuffix("hello from payments\n")) }
        for _ in 0..<egressRefused { #expect(TCP.httpGet(port: admin9090) == "") }
        for _ in 0..<inboundRefused { #expect(mesh.call("ledger") == "") }
        settle(mesh)
    }

    @Test func graphEqualsWhatEachSidecarCounted() throws {
        let (mesh, admin9090) = try Self.mesh()
        defer { mesh.stop() }
        Self.traffic(mesh, admin9090: admin9090, allowed: 5, egressRefused: 3, inboundRefused: 2)
        #expect(Self.flushAll(mesh) == [200, 200, 200])
        let g = try Self.graph(mesh)
        Self.expectGraphMatchesStats(mesh, g)
        func edge(_ observer: TelemetryObserver, _ caller: String, _ port: Int, allowed: Bool) -> GraphEdge? {
            g.edges.first { $0.key.observer == observer && $0.key.caller == caller && $0.key.port == port && $0.key.allowed == allowed }
        }
        #expect(edge(.inbound, Self.frontend, 8080, allowed: true)?.key.rule == "frontend-to-payments")
        #expect(edge(.inbound, Self.frontend, 8080, allowed: true)?.counts.connections == 5)
        #expect(edge(.outbound, Self.frontend, 8080, allowed: true)?.counts.connections == 5)
        #expect(edge(.outbound, Self.frontend, 9090, allowed: false)?.counts.connections == 3)
        #expect(edge(.outbound, Self.frontend, 9090, allowed: false)?.key.reason == "egress-not-allowed")
        #expect(edge(.inbound, Self.ledger, 8080, allowed: false)?.counts.connections == 2)
        // The table view names the refused edge too.
        let table = try mesh.cp.meshctl(["graph", "--since", "15m"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("egress-not-allowed"))
    }

    @Test func killedControlPlaneLosesAndDoublesNothing() throws {
        let (mesh, admin9090) = try Self.mesh()
        defer { mesh.stop() }
        Self.traffic(mesh, admin9090: admin9090, allowed: 3, egressRefused: 1, inboundRefused: 1)
        #expect(Self.flushAll(mesh) == [200, 200, 200])
        mesh.cp.kill9()
        // While it is away: traffic goes on, sidecars keep their counts (a flush cannot be acknowledged).
        Self.traffic(mesh, admin9090: admin9090, allowed: 4, egressRefused: 2, inboundRefused: 1)
        let away = Self.flushAll(mesh)
        #expect(away.allSatisfy { $0 == 503 }, "flush statuses with the control plane away: \(away)")
        try mesh.cp.start()
        // The batch each sidecar kept is delivered once; the acknowledged one before the kill is still there.
        var statuses: [Int] = []
        let deadline = Date().addingTimeInterval(20)
        repeat { statuses = Self.flushAll(mesh) } while statuses != [200, 200, 200] && Date() < deadline && { usleep(200_000); return true }()
        #expect(statuses == [200, 200, 200])
        Self.expectGraphMatchesStats(mesh, try Self.graph(mesh))
        // A second flush adds nothing (no new traffic): nothing is counted twice.
        #expect(Self.flushAll(mesh) == [200, 200, 200])
        Self.expectGraphMatchesStats(mesh, try Self.graph(mesh))
        #expect(Self.observed(try Self.graph(mesh), "payments", .inbound).connections == 9)
    }

    @Test func suggestionFromAuditTrafficAllowsExactlyThatTraffic() throws {
        let audit = """
        {"name": "frontend-to-payments", "action": "allow", "mode": "audit", "from": {"services": ["shop/frontend"]},
         "to": {"services": ["shop/payments"]}, "ports": [8080]}
        """
        let mesh = try ManagedMesh(rules: audit, callers: ["frontend", "ledger"])
        defer { mesh.stop() }
        // Audit mode: refused at frontend's egress, its shadow verdict (allow) counted there.
        for _ in 0..<3 { #expect(mesh.call("frontend") == "") }
        Self.settle(mesh)
        #expect(Self.flushAll(mesh).allSatisfy { $0 == 200 })
        let out = "\(mesh.cp.dir)/suggested-rules.json"
        let s = try mesh.cp.meshctl(["suggest", "--since", "15m", "--mesh-dir", mesh.meshDir, "-o", out])
        #expect(s.status == 0, "\(s.stderr)")
        let rules = try String(contentsOfFile: out, encoding: .utf8)
        #expect(rules.contains("\"shop/frontend\"") && rules.contains("\"shop/payments\"") && rules.contains("8080"))
        #expect(!rules.contains("shop/ledger"))
        // Apply the suggestion in place of the audit rule: the observed flow is allowed, the other is not.
        try rules.writeReplacing(toFile: "\(mesh.meshDir)/rules.json")
        try ManagedMesh.services.writeReplacing(toFile: "\(mesh.meshDir)/services.json")
        let applied = try mesh.cp.meshctl(["apply", "-f", mesh.meshDir])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(mesh.waitVersion("frontend", 2, timeout: 10))
        #expect(mesh.waitVersion("payments", 2, timeout: 10))
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        #expect(mesh.call("ledger") == "")
    }
}
