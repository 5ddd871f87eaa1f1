import Foundation
import Glibc
import Testing

/// Real processes: a sidecar's policy polls and its renewal share one keep-alive mTLS connection to the control
/// plane (its `/metrics` count the handshakes), and policy still arrives at once.
@Suite(.serialized) struct ControlChannelSidecarTests {
    static let rule = #"{"name": "frontend-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}"#

    static func metric(_ s: SidecarProcess, _ series: String) -> Int { ControlPlaneLifecycleTests.metric(s, series) }

    static func connects(_ s: SidecarProcess, _ reason: String) -> Int {
        metric(s, "mesh_control_channel_connects_total{reason=\"\(reason)\"}")
    }

    /// 30 s certificates renew at about 15 s (the next renewal 13.5 s later at the earliest): the sidecar polls (5 s waits) and renews on two
    /// connections in all: the first, and the one that presents the renewed certificate.
    @Test func pollsAndRenewalShareOneConnectionPerCertificate() throws {
        let mesh = try ManagedMesh(rules: Self.rule, callers: ["frontend"], certTTL: 30)
        defer { mesh.stop() }
        let fe = mesh.sidecars["frontend"]!
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        let deadline = Date().addingTimeInterval(20)
        while Self.metric(fe, "mesh_certificate_renewals_total{result=\"success\"}") < 1 && Date() < deadline { usleep(200_000) }
        // The first poll after the reload reconnects with the new certificate; it is counted when answered. The
        // poll that went out just before the reload still used the old one: up to two 5 s waits.
        let answered = Date().addingTimeInterval(12)
        while Self.metric(fe, "mesh_control_channel_requests_total{connection=\"new\"}") < 2 && Date() < answered { usleep(200_000) }

        #expect(Self.metric(fe, "mesh_certificate_renewals_total{result=\"success\"}") == 1)
        #expect(Self.connects(fe, "new") == 1)
        #expect(Self.connects(fe, "renewed") == 1)
        for reason in ["aged", "closed", "stale"] { #expect(Self.connects(fe, reason) == 0) }
        // First slice + polls every 5 s + the renewal: all but two rode an open connection.
        #expect(Self.metric(fe, "mesh_control_channel_requests_total{connection=\"new\"}") == 2)
        #expect(Self.metric(fe, "mesh_control_channel_requests_total{connection=\"reused\"}") >= 3)
        #expect(Self.metric(fe, "mesh_control_channel_failures_total") == 0)
        #expect(Self.metric(fe, "mesh_policy_polls_total{result=\"failure\"}") == 0)

        // A change reaches the parked poll at once (not after its 5 s wait), on the same connection.
        let before = Self.metric(fe, "mesh_policy_version")
        let t = Date()
        #expect(try mesh.apply(rules: Self.rule + "," + Self.rule.replacingOccurrences(of: "frontend-to-payments", with: "again")).status == 0)
        #expect(mesh.waitVersion("frontend", before + 1, timeout: 3))
        #expect(Date().timeIntervalSince(t) < 3)
        // Still only ever reconnected for a new certificate (a second renewal may have come by now).
        #expect(Self.connects(fe, "new") == 1)
        for reason in ["aged", "closed", "stale"] { #expect(Self.connects(fe, reason) == 0) }
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
    }
}
