import Foundation
import Glibc
import Testing

/// Black box: a peer that opens refused connections as fast as it can must not fill the disk or drown the
/// log, and must not hide a single refusal from the counters.
@Suite("Log flood")
struct LogFloodTests {
    /// The documented defaults of `log.refusalLinesPerSecond` and `log.refusalLinesBurst`.
    static let perSecond = 20, burst = 100

    @Test func aFloodOfRefusedConnectionsIsCountedInFullAndLoggedAtABoundedRate() throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        try pki.issue("payments")
        let port = TCP.freePort()
        let sidecar = try SidecarProcess(name: "payments", config: [
            "identity": ["trustDomain": "mesh.local", "certificate": "payments.crt", "key": "payments.key", "trustBundle": "ca.crt"],
            "loops": 2,
            "inbound": [["name": "api", "listen": "127.0.0.1:\(port)", "forwardTo": "127.0.0.1:\(TCP.freePort())",
                         "allow": ["spiffe://mesh.local/ns/shop/sa/frontend"]]],
        ], dir: pki.dir)
        defer { sidecar.stop() }
        try sidecar.waitReady()

        // Bounded in count (2,000) and time (60 s): plaintext HTTP on the mTLS port, each one refused.
        let request = Array("GET / HTTP/1.1\r\nHost: payments\r\n\r\n".utf8)
        let started = Date()
        var sent = 0
        while sent < 2000 && Date().timeIntervalSince(started) < 60 {
            guard let fd = try? TCP.connect(port: port, timeoutSeconds: 5) else { continue }
            _ = TCP.sendAll(fd, request)
            _ = TCP.readToEOF(fd)
            close(fd)
            sent += 1
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(sent >= 1000, "only \(sent) connections in 60 s")

        // Every refusal is counted, whatever the log did with it.
        var counted = 0
        let deadline = Date().addingTimeInterval(10)
        repeat {
            let failures = sidecar.adminJSON("/stats")?["failures"] as? [[String: Any]] ?? []
            counted = failures.first { $0["reason"] as? String == "plaintext-http" }?["count"] as? Int ?? 0
            if counted < sent { usleep(50_000) }
        } while counted < sent && Date() < deadline
        #expect(counted == sent, "/stats counted \(counted) of \(sent) refusals")
        #expect((sidecar.adminJSON("/decisions?verdict=deny&limit=1000")?["total"] as? Int) == sent, "the /decisions ring saw every refusal")

        // The held-back count is written once the reason is quiet again (checked once a second).
        _ = sidecar.waitForEvent(timeout: 5) { $0["event"] as? String == "log-suppressed" }
        usleep(1_500_000)
        let events = sidecar.logEvents()
        let refusedLines = events.filter { $0["event"] as? String == "refused" && $0["reason"] as? String == "plaintext-http" }.count
        let summaries = events.filter { $0["event"] as? String == "log-suppressed" }
        let suppressed = summaries.reduce(0) { $0 + ($1["suppressed"] as? Int ?? 0) }
        let allowance = Self.burst + Self.perSecond * Int(elapsed + 3)
        #expect(refusedLines <= allowance, "\(refusedLines) refusal lines for \(sent) refusals in \(elapsed) s")
        #expect(!summaries.isEmpty, "no log-suppressed line")
        #expect(summaries.allSatisfy { $0["reason"] as? String == "plaintext-http" })
        #expect(refusedLines + suppressed == sent, "written \(refusedLines) + suppressed \(suppressed) != \(sent)")
        let size = (try? FileManager.default.attributesOfItem(atPath: sidecar.logPath))?[.size] as? Int ?? 0
        #expect(size <= 2 * allowance * 400 + 4096, "log file is \(size) bytes")
        let metrics = sidecar.admin("GET", "/metrics").body
        #expect(metrics.contains("mesh_log_suppressed_total{reason=\"plaintext-http\"} \(suppressed)"),
                "\(metrics.split(separator: "\n").filter { $0.contains("suppressed") })")
    }

    /// A flood of stats-endpoint requests with a rebinding Host: every one is counted in
    /// `mesh_admin_refused_total`, but the `admin-refused` lines go through the refusal rate limiter.
    @Test func aFloodOfBadHostAdminRequestsIsCountedInFullAndLoggedAtABoundedRate() throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        try pki.issue("payments")
        let sidecar = try SidecarProcess(name: "payments", config: [
            "identity": ["trustDomain": "mesh.local", "certificate": "payments.crt", "key": "payments.key", "trustBundle": "ca.crt"],
            "inbound": [["name": "api", "listen": "127.0.0.1:\(TCP.freePort())", "forwardTo": "127.0.0.1:\(TCP.freePort())",
                         "allow": ["spiffe://mesh.local/ns/shop/sa/frontend"]]],
        ], dir: pki.dir)
        defer { sidecar.stop() }
        try sidecar.waitReady()

        // Bounded in count (500) and time (30 s).
        let request = Array("GET /stats HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n".utf8)
        let started = Date()
        var sent = 0
        while sent < 500 && Date().timeIntervalSince(started) < 30 {
            guard let fd = try? TCP.connect(port: sidecar.adminPort, timeoutSeconds: 5) else { continue }
            _ = TCP.sendAll(fd, request)
            _ = TCP.readToEOF(fd)
            close(fd)
            sent += 1
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(sent >= 300, "only \(sent) requests in 30 s")
        let metrics = sidecar.admin("GET", "/metrics").body
        #expect(metrics.contains("mesh_admin_refused_total{reason=\"bad-host\"} \(sent)"),
                "\(metrics.split(separator: "\n").filter { $0.contains("admin_refused") })")

        _ = sidecar.waitForEvent(timeout: 5) { $0["event"] as? String == "log-suppressed" }
        usleep(1_500_000)
        let events = sidecar.logEvents()
        let lines = events.filter { $0["event"] as? String == "admin-refused" && $0["reason"] as? String == "bad-host" }.count
        let summaries = events.filter { $0["event"] as? String == "log-suppressed" && $0["reason"] as? String == "admin-bad-host" }
        let suppressed = summaries.reduce(0) { $0 + ($1["suppressed"] as? Int ?? 0) }
        let allowance = Self.burst + Self.perSecond * Int(elapsed + 3)
        #expect(lines <= allowance, "\(lines) admin-refused lines for \(sent) requests in \(elapsed) s")
        #expect(!summaries.isEmpty, "no log-suppressed line for admin-bad-host")
        #expect(lines + suppressed == sent, "written \(lines) + suppressed \(suppressed) != \(sent)")
    }
}
