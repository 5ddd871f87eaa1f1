@testable import MeshCLIKit
import Foundation
import MeshAPI
import MeshCore
import MeshTestSupport
import Testing

/// `meshctl graph|top|suggest` as a real process against a stub control plane answering a fixed graph.
@Suite(.serialized) struct MeshctlTelemetryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let meshDir = "\(root)/mesh-config/mesh"

    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// The example mesh's files (services, segments, rules).
    static func meshFiles() throws -> [(name: String, content: String)] {
        try ["rules.json", "segments.json", "services.json"].map { ($0, try String(contentsOfFile: "\(meshDir)/\($0)", encoding: .utf8)) }
    }

    @Test func graphPrintsTableJsonAndDot() throws {
        let answer = GraphFixture.answer(now: Self.now())
        let cp = try StubControlPlane(graph: answer)
        defer { cp.stop() }
        let t0 = Self.now()
        let table = try cp.meshctl(["graph"])
        let t1 = Self.now()
        #expect(table.status == 0, "\(table.stderr)")
        let expected = (t0...t1).map { GraphRendering.table(answer, now: $0, trustDomain: "mesh.local") + "\n" }
        #expect(expected.contains(table.stdout), "\(table.stdout)")
        #expect(table.stdout.contains("shop/orders                              shop/ledger:8080    outbound  deny     default-deny"))

        let json = try cp.meshctl(["graph", "--since", "1h", "--service", "shop/ledger", "-o", "json"])
        #expect(json.status == 0 && json.stdout == answer.json.text + "\n")
        let dot = try cp.meshctl(["graph", "--since", "90", "-o", "dot"])
        #expect(dot.status == 0 && dot.stdout == GraphRendering.dot(answer, trustDomain: "mesh.local") + "\n")
        #expect(cp.requests.withLock { $0 } == ["GET /v1/graph?since=900 Bearer stub-admin-token",
                                               "GET /v1/graph?since=3600&service=shop/ledger Bearer stub-admin-token",
                                               "GET /v1/graph?since=90 Bearer stub-admin-token"])
    }

    @Test func usageErrorsExit64WithoutAsking() throws {
        let cp = try StubControlPlane(graph: GraphFixture.answer(now: Self.now()))
        defer { cp.stop() }
        let cases: [([String], String)] = [
            (["graph", "-o", "yaml"], "meshctl: -o yaml: expected table, json or dot"),
            (["graph", "--since", "25h"], "meshctl: --since 25h: duration 25h is longer than 86400 s (at most 24h)"),
            (["graph", "--since", "soon"], "meshctl: --since soon: bad duration \"soon\": use 30s, 5m, 24h or 2d (at most 24h)"),
            (["graph", "--service", "ledger"], "meshctl: --service ledger:"),
            (["graph", "--since"], "meshctl: --since needs a value"),
            (["top", "--count", "0"], "meshctl: --count 0: expected a whole number above 0"),
            (["top", "--count", "x"], "meshctl: --count x: expected a whole number above 0"),
            (["top", "--interval", "fast"], "meshctl: --interval fast: bad duration"),
            (["suggest", "--since", "2d"], "meshctl: --since 2d: duration 2d is longer than 86400 s (at most 24h)"),
        ]
        for (args, message) in cases {
            let r = try cp.meshctl(args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.hasPrefix(message), "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args)")
        }
        #expect(cp.requests.withLock { $0 }.isEmpty)
        let help = try cp.meshctl(["help"])
        #expect(help.status == 0)
        for line in ["graph [--since 15m] [--service NS/NAME] [-o table|json|dot]", "top [--since 1m] [--interval 2s] [--count N]",
                     "suggest [--since 1h] [-o FILE] [--mesh-dir DIR]"] {
            #expect(help.stdout.contains(line), "\(line)")
        }
    }

    @Test func topPrintsCountFramesSeparatedByABlankLineWhenNotATerminal() throws {
        let answer = GraphFixture.answer(now: Self.now())
        let cp = try StubControlPlane(graph: answer)
        defer { cp.stop() }
        let started = Date()
        let r = try cp.meshctl(["top", "--since", "30s", "--interval", "0.3s", "--count", "3"])
        let took = Date().timeIntervalSince(started)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("\u{1B}"), "no ANSI codes into a pipe")
        let frames = r.stdout.components(separatedBy: "\n\n")
        #expect(frames.count == 3, "\(r.stdout)")
        for frame in frames {
            let lines = frame.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.first?.hasPrefix("meshctl top: ") == true && lines.first?.hasSuffix(", last 30s, every 0.3s") == true)
            #expect(lines.count == 8 || (frame == frames.last && lines.count == 9 && lines.last == ""), "\(frame)")
            #expect(lines.dropFirst().first?.hasPrefix("edges ") == true)
        }
        #expect(took >= 0.6, "two pauses of 0.3 s between three frames")
        #expect(cp.requests.withLock { $0 } == Array(repeating: "GET /v1/graph?since=30 Bearer stub-admin-token", count: 3))
    }

    @Test func suggestWritesRulesThatValidateWithTheMeshDirectory() throws {
        var answer = GraphFixture.answer(now: Self.now())
        var overflow = answer.edges[1]
        overflow.key.caller = EdgeKey.overflowCaller
        overflow.counts.connections = 4
        answer.edges.append(overflow)
        let cp = try StubControlPlane(graph: answer)
        defer { cp.stop() }
        let dir = try TempDir(prefix: "suggest-mesh")
        for (name, content) in try Self.meshFiles() { try dir.write(name, content) }
        let r = try cp.meshctl(["suggest", "--since", "2h", "--mesh-dir", dir.path, "-o", dir.file("rules.json")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let t = answer.to
        func time(_ s: Int) -> String { UTCTime.iso8601(Double(s)) }
        #expect(try dir.text("rules.json") == """
        {
          "rules": [
            {"name":"observed-orders-to-ledger","action":"allow","from":{"services":["shop/orders"]},"to":{"services":["shop/ledger"]},"ports":[8080],"mode":"enforce","description":"Observed: port 8080: 3 outbound connections; first seen \(time(t - 125)), last seen \(time(t - 5)); shadow-allowed (audit) by orders-to-ledger."},
            {"name":"observed-frontend-to-orders","action":"allow","from":{"services":["shop/frontend"]},"to":{"services":["shop/orders"]},"ports":[8080],"mode":"enforce","description":"Observed: port 8080: 12 inbound, 12 outbound connections; first seen \(time(t - 900)), last seen \(time(t - 10)); allowed by frontend-to-orders."}
          ]
        }

        """)
        #expect(r.stderr == """
        suggested 2 rule(s) from 6 observed edge(s) over the last 2h, for \(dir.path); 2 refused edge(s) without an audit allow left out
        skipped (overflow) → shop/orders:8080: folded (overflow) edge (4 connections)
        replace rules.json with it (rules in other files stay), then: meshctl validate -f DIR; meshctl apply -f DIR --dry-run

        """)
        let valid = try cp.meshctl(["validate", "-f", dir.path])
        #expect(valid.status == 0 && valid.stdout == "valid: 3 file(s), 4 services, 2 segments, 2 rules\n", "\(valid.stderr)")
        #expect(cp.requests.withLock { $0 } == ["GET /v1/graph?since=7200 Bearer stub-admin-token"])
    }

    @Test func suggestWithoutAMeshDirectoryUsesTheAppliedMesh() throws {
        let answer = GraphFixture.answer(now: Self.now())
        let cp = try StubControlPlane(graph: answer, meshFiles: try Self.meshFiles())
        defer { cp.stop() }
        let elsewhere = try TempDir(prefix: "suggest-cwd")
        let r = try cp.meshctl(["suggest"], cwd: elsewhere.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("{\n  \"rules\": [\n    {\"name\":\"observed-orders-to-ledger\""))
        #expect(r.stdout.components(separatedBy: "\"name\":").count == 3)
        #expect(r.stderr.hasPrefix("suggested 2 rule(s) from 5 observed edge(s) over the last 1h, for the applied mesh (version 7); "))
        #expect(cp.requests.withLock { $0 } == ["GET /v1/mesh Bearer stub-admin-token", "GET /v1/graph?since=3600 Bearer stub-admin-token"])
        // From the package folder, mesh-config/mesh is the default and the control plane's mesh is not asked for.
        let local = try cp.meshctl(["suggest", "--since", "15m"], cwd: Self.root)
        #expect(local.status == 0 && local.stdout == r.stdout, "\(local.stderr)")
        #expect(local.stderr.contains("for mesh-config/mesh;"))
        #expect(cp.requests.withLock { $0 }.last == "GET /v1/graph?since=900 Bearer stub-admin-token")
        #expect(cp.requests.withLock { $0 }.count == 3)
    }
}
