import Foundation
import Glibc
import MeshAPI
import MeshCore
import MeshTestSupport
import Testing

/// Black box: two real sidecars (identity from a stub control plane, static allow lists) report what they
/// proxied; the reports add up exactly to each sidecar's own `/stats`, also across a control-plane outage.
@Suite("Telemetry reporting", .serialized)
struct TelemetryReportingTests {
    static let frontendID = "spiffe://mesh.local/ns/shop/sa/frontend"
    static let paymentsID = "spiffe://mesh.local/ns/shop/sa/payments"

    /// payments (inbound `api` → the app, allowing frontend) and frontend (outbound `payments`).
    final class Pair {
        let dir: String
        let cp: TelemetryStubControlPlane
        let app: TestApp
        let inPort = TCP.freePort(), outPort = TCP.freePort()
        var payments: SidecarProcess!
        var frontend: SidecarProcess!

        init(intervalSeconds: Int) throws {
            dir = NSTemporaryDirectory() + "mesh-tele-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let ca = try TestCA()
            cp = try TelemetryStubControlPlane(ca: ca)
            app = try TestApp(.http("payments"))
            try Data(ca.certificate.pem()).write(to: URL(fileURLWithPath: "\(dir)/root.pem"))
            func config(_ name: String) throws -> [String: Any] {
                try FileManager.default.createDirectory(atPath: "\(dir)/\(name)", withIntermediateDirectories: true)
                try "shop/\(name)\n".writeReplacing(toFile: "\(dir)/\(name).token")
                return [
                    "identity": ["trustDomain": "mesh.local", "certificate": "\(name)/svid.crt", "key": "\(name)/svid.key",
                                 "trustBundle": "\(name)/bundle.crt",
                                 "bootstrap": ["controlPlane": "127.0.0.1:\(cp.port)", "tokenFile": "\(dir)/\(name).token",
                                               "trustAnchor": "\(dir)/root.pem"]],
                    "loops": 2,
                    "telemetry": ["intervalSeconds": intervalSeconds, "maxEdges": 64],
                ]
            }
            var p = try config("payments")
            p["inbound"] = [["name": "api", "listen": "127.0.0.1:\(inPort)", "forwardTo": "127.0.0.1:\(app.port)",
                             "allow": [TelemetryReportingTests.frontendID], "port": 8080]]
            var f = try config("frontend")
            f["outbound"] = [["name": "payments", "listen": "127.0.0.1:\(outPort)", "upstream": "127.0.0.1:\(inPort)",
                              "expectIdentity": TelemetryReportingTests.paymentsID]]
            payments = try SidecarProcess(name: "payments", config: p, dir: dir)
            frontend = try SidecarProcess(name: "frontend", config: f, dir: dir)
            try payments.waitReady(timeout: 20)
            try frontend.waitReady(timeout: 20)
        }

        func stop() {
            payments?.stop()
            frontend?.stop()
            app.stop()
            cp.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// Waits until `sidecar` has closed `count` connections in `direction` (and none is active).
        func waitClosed(_ sidecar: SidecarProcess, _ direction: String, _ count: Int) -> [String: Any] {
            let deadline = Date().addingTimeInterval(10)
            var d: [String: Any] = [:]
            repeat {
                d = (sidecar.adminJSON("/stats")?[direction] as? [String: Any]) ?? [:]
                if d["closed"] as? Int == count && d["active"] as? Int == 0 { return d }
                usleep(20_000)
            } while Date() < deadline
            return d
        }
    }

    /// Sums over every counted report of `source`, per observer.
    static func totals(_ reports: [TelemetryReport], _ observer: TelemetryObserver) -> (connections: Int, toDest: Int, toCaller: Int) {
        let edges = reports.flatMap(\.edges).filter { $0.key.observer == observer }
        return (edges.reduce(0) { $0 + $1.counts.connections }, edges.reduce(0) { $0 + $1.counts.bytesToDestination },
                edges.reduce(0) { $0 + $1.counts.bytesToCaller })
    }

    @Test func reportsAddUpToEachSidecarsStats() throws {
        let pair = try Pair(intervalSeconds: 300)  // only flushes report here
        defer { pair.stop() }
        for _ in 0..<5 { #expect(TCP.httpGet(port: pair.outPort).hasSuffix("hello from payments\n")) }
        // One caller that never proves an identity: refused at payments, as `unauthenticated`.
        let fd = try TCP.connect(port: pair.inPort)
        _ = TCP.sendAll(fd, Array("GET / HTTP/1.1\r\n\r\n".utf8))
        _ = TCP.readToEOF(fd)
        close(fd)
        let inbound = pair.waitClosed(pair.payments, "inbound", 6)
        let outbound = pair.waitClosed(pair.frontend, "outbound", 5)
        #expect(inbound["closed"] as? Int == 6)
        for s in [pair.payments!, pair.frontend!] {
            let flush = s.admin("POST", "/telemetry/flush")
            #expect(flush.status == 200, "\(flush.body)")
            #expect(flush.body.contains("\"acknowledged\":true,\"seq\":1,"), "\(flush.body)")
        }
        let atPayments = pair.cp.reports(from: Self.paymentsID)
        let atFrontend = pair.cp.reports(from: Self.frontendID)
        #expect(atPayments.map(\.seq) == [1] && atFrontend.map(\.seq) == [1])
        let p = Self.totals(atPayments, .inbound)
        #expect(p.connections == 6)
        #expect(p.toDest == inbound["bytesFromDownstream"] as? Int)
        #expect(p.toCaller == inbound["bytesFromUpstream"] as? Int)
        #expect(p.toCaller > 0)
        let f = Self.totals(atFrontend, .outbound)
        #expect(f.connections == 5)
        #expect(f.toDest == outbound["bytesFromDownstream"] as? Int)
        #expect(f.toCaller == outbound["bytesFromUpstream"] as? Int)
        // The edges themselves: who, to what, by which rule, why.
        let allowed = try #require(atPayments[0].edges.first { $0.key.caller == Self.frontendID })
        #expect(allowed.key == EdgeKey(observer: .inbound, caller: Self.frontendID, destination: "shop/payments", port: 8080,
                                       allowed: true, rule: "api/allow/0", reason: "allowed"))
        #expect(allowed.counts.connections == 5)
        #expect(allowed.counts.handshake.reduce(0, +) == 5 && allowed.counts.duration.reduce(0, +) == 5)
        let refused = try #require(atPayments[0].edges.first { $0.key.caller == EdgeKey.unauthenticatedCaller })
        #expect(!refused.key.allowed && refused.counts.connections == 1 && refused.counts.handshake.reduce(0, +) == 0)
        #expect(atFrontend[0].edges.map(\.key) == [EdgeKey(observer: .outbound, caller: Self.frontendID, destination: "shop/payments",
                                                           port: 0, allowed: true, rule: "payments/expect", reason: "allowed")])
        #expect(atPayments[0].foldedConnections == 0 && atPayments[0].instance.count == 16)
        // The reporter on the stats endpoint.
        let stats = try #require(pair.payments.adminJSON("/stats")?["telemetry"] as? [String: Any])
        #expect((stats["reports"] as? [String: Any])?["acknowledged"] as? Int == 1)
        #expect(stats["pendingBatch"] as? Bool == false && stats["lastAckSeq"] as? Int == 1)
        let metrics = pair.payments.admin("GET", "/metrics").body
        #expect(metrics.contains("mesh_telemetry_last_ack_seq 1\n"))
        #expect(metrics.contains("mesh_telemetry_reports_total{result=\"acknowledged\"} 1\n"))
        #expect(metrics.contains("mesh_telemetry_edges 0\n"))
        // Nothing new: a flush sends nothing and says so with the last acknowledged seq.
        #expect(pair.payments.admin("POST", "/telemetry/flush").body.contains("\"seq\":1,"))
        #expect(pair.cp.reports(from: Self.paymentsID).count == 1)
        // SIGTERM: one last flush carries what ended since.
        #expect(TCP.httpGet(port: pair.outPort).hasSuffix("hello from payments\n"))
        _ = pair.waitClosed(pair.payments, "inbound", 7)
        let started = Date()
        pair.payments.stop()
        #expect(Date().timeIntervalSince(started) < 3)
        let last = pair.cp.reports(from: Self.paymentsID)
        #expect(last.map(\.seq) == [1, 2])
        #expect(Self.totals(last, .inbound).connections == 7)
        #expect(pair.payments.logEvents().contains { $0["event"] as? String == "telemetry-final-flush" && $0["seq"] as? Int == 2 })
    }

    /// A refusal does not wait for the interval (60 s here): it reaches the control plane within about a second,
    /// so an alert on probing can fire at once. Allowed traffic alone waits for the interval.
    @Test func refusalsAreReportedWithinASecond() throws {
        let pair = try Pair(intervalSeconds: 60)
        defer { pair.stop() }
        #expect(TCP.httpGet(port: pair.outPort).hasSuffix("hello from payments\n"))
        _ = pair.waitClosed(pair.payments, "inbound", 1)
        usleep(1_500_000)
        #expect(pair.cp.accepted.withLock { $0.isEmpty }, "allowed traffic waits for the interval")
        let fd = try TCP.connect(port: pair.inPort)
        _ = TCP.sendAll(fd, Array("GET / HTTP/1.1\r\n\r\n".utf8))
        _ = TCP.readToEOF(fd)
        close(fd)
        let refusedAt = Date()
        var got: TelemetryReport?
        while got == nil && Date().timeIntervalSince(refusedAt) < 5 {
            got = pair.cp.accepted.withLock { $0.first { $0.source.description == TelemetryReportingTests.paymentsID } }
            if got == nil { usleep(20_000) }
        }
        let report = try #require(got, "no report within 5 s")
        #expect(Date().timeIntervalSince(refusedAt) < 2.5)
        #expect(report.edges.contains { $0.key.caller == EdgeKey.unauthenticatedCaller && !$0.key.allowed })
        #expect(report.edges.contains { $0.key.allowed && $0.counts.connections == 1 }, "the batch carries what was pending too")
    }

    @Test func anOutageLosesNothingAndReusesNoSeq() throws {
        let pair = try Pair(intervalSeconds: 1)
        defer { pair.stop() }
        pair.cp.down.store(true, ordering: .relaxed)
        for _ in 0..<3 { #expect(TCP.httpGet(port: pair.outPort).hasSuffix("hello from payments\n")) }
        _ = pair.waitClosed(pair.payments, "inbound", 3)
        let deadline = Date().addingTimeInterval(10)
        while pair.cp.refusedWhileDown.load(ordering: .relaxed) < 2 && Date() < deadline { usleep(50_000) }
        #expect(pair.cp.refusedWhileDown.load(ordering: .relaxed) >= 2)
        let metrics = pair.payments.admin("GET", "/metrics").body
        #expect(metrics.contains("mesh_telemetry_pending_batch 1\n"), "\(metrics)")
        #expect(!metrics.contains("mesh_telemetry_reports_total{result=\"failed\"} 0\n"))
        #expect(pair.payments.admin("POST", "/telemetry/flush").status == 503)
        // Traffic during the outage, then the control plane is back.
        for _ in 0..<2 { #expect(TCP.httpGet(port: pair.outPort).hasSuffix("hello from payments\n")) }
        let inbound = pair.waitClosed(pair.payments, "inbound", 5)
        pair.cp.down.store(false, ordering: .relaxed)
        let flush = pair.payments.admin("POST", "/telemetry/flush")
        #expect(flush.status == 200, "\(flush.body)")
        let reports = pair.cp.reports(from: Self.paymentsID)
        let seqs = reports.map(\.seq)
        #expect(seqs == Array(1...max(1, seqs.count)), "counted batches are 1, 2, … without gaps or repeats: \(seqs)")
        let t = Self.totals(reports, .inbound)
        #expect(t.connections == 5)
        #expect(t.toDest == inbound["bytesFromDownstream"] as? Int)
        #expect(t.toCaller == inbound["bytesFromUpstream"] as? Int)
        #expect(reports.allSatisfy { $0.droppedBatches == 0 && $0.foldedConnections == 0 })
    }
}
