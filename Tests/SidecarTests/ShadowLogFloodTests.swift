import Foundation
import Glibc
import Testing

/// Black box: an audit rule matches every allowed connection, so a caller that opens connections as fast as it
/// can would write one `shadow-decision` line each. Those lines go through the refusal rate limiter; the
/// shadow counters still see every decision.
@Suite("Shadow decision log flood")
struct ShadowLogFloodTests {
    @Test func aFloodOfShadowDecisionsIsCountedInFullAndLoggedAtABoundedRate() throws {
        let shadowDeny = #"{"name": "would-deny-frontend", "action": "deny", "mode": "audit", "from": {"segments": ["web"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}"#
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments + "," + shadowDeny, callers: ["frontend"])
        defer { mesh.stop() }
        let payments = mesh.sidecars["payments"]!

        // Bounded in count (300) and time (30 s).
        let started = Date()
        var sent = 0
        while sent < 300 && Date().timeIntervalSince(started) < 30 {
            if mesh.call("frontend").hasSuffix("hello from payments\n") { sent += 1 }
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(sent >= 200, "only \(sent) calls in 30 s")
        let metrics = payments.admin("GET", "/metrics").body
        #expect(metrics.contains(#"mesh_authz_shadow_decisions_total{direction="inbound",verdict="deny",rule="would-deny-frontend"} "# + "\(sent)"),
                "\(metrics.split(separator: "\n").filter { $0.contains("shadow") })")

        _ = payments.waitForEvent(timeout: 5) { $0["event"] as? String == "log-suppressed" }
        usleep(1_500_000)
        let events = payments.logEvents()
        let lines = events.filter { $0["event"] as? String == "shadow-decision" }.count
        let summaries = events.filter { $0["event"] as? String == "log-suppressed" && $0["reason"] as? String == "shadow-decision" }
        let suppressed = summaries.reduce(0) { $0 + ($1["suppressed"] as? Int ?? 0) }
        let allowance = LogFloodTests.burst + LogFloodTests.perSecond * Int(elapsed + 3)
        #expect(lines <= allowance, "\(lines) shadow-decision lines for \(sent) calls in \(elapsed) s")
        #expect(!summaries.isEmpty, "no log-suppressed line for shadow-decision")
        #expect(lines + suppressed == sent, "written \(lines) + suppressed \(suppressed) != \(sent)")
    }
}
