import Foundation
import Testing
import MeshCore
import MeshHTTP
import MeshTLS
@testable import SidecarKit

/// `/stats` and `/metrics` rendered without a socket from known counters: the exact bytes a scraper and
/// today's clients see.
@Suite("Stats rendering")
struct StatsRenderingTests {
    /// A sidecar whose counters hold one of everything.
    static func busySidecar() throws -> Sidecar {
        let sidecar = try AdminAccessTests.sidecar()
        let s = sidecar.runtime.stats
        s.inbound.opened.add(3, ordering: .relaxed)
        s.inbound.closed.add(2, ordering: .relaxed)
        s.inbound.active.add(1, ordering: .relaxed)
        s.inbound.bytesFromDownstream.add(1200, ordering: .relaxed)
        s.inbound.bytesFromUpstream.add(3400, ordering: .relaxed)
        s.inbound.handshakes.add(3, ordering: .relaxed)
        s.inbound.handshakesResumed.add(1, ordering: .relaxed)
        s.outbound.opened.add(1, ordering: .relaxed)
        s.open.add(1, ordering: .relaxed)
        s.inbound.handshakeSeconds.observe(seconds: 0.003)
        s.inbound.handshakeSeconds.observe(seconds: 0.2)
        s.inbound.connectionSeconds.observe(seconds: 2)
        s.outbound.handshakeSeconds.observe(seconds: 20)
        s.count(failure: CloseReason(rawValue: "identity-not-allowed")!, .inbound)
        s.count(failure: CloseReason(rawValue: "handshake-timeout")!, .inbound)
        s.count(failure: CloseReason(rawValue: "handshake-timeout")!, .inbound)
        s.count(failure: CloseReason(rawValue: "upstream-unreachable")!, .outbound)
        s.count(decision: true, rule: "api/allow/0", .inbound)
        s.count(decision: false, rule: "default-deny", .inbound)
        s.count(decision: false, rule: "default-deny", .inbound)
        s.count(shadow: .deny(rule: "audit-deny", reason: .notAllowed), .inbound)
        s.reloadsOK.add(2, ordering: .relaxed)
        s.reloadsFailed.add(1, ordering: .relaxed)
        return sidecar
    }

    /// Today's `/stats` body for these counters, byte for byte (the agents' sections only with agents).
    @Test func statsJSONIsTheShapeClientsKnow() throws {
        let sidecar = try Self.busySidecar()
        #expect(StatsJSON.render(AdminServer.snapshot(sidecar)) == "{\"inbound\":{\"opened\":3,\"closed\":2,\"active\":1,\"bytesFromDownstream\":1200,\"bytesFromUpstream\":3400,\"handshakes\":3,\"handshakesResumed\":1},\"outbound\":{\"opened\":1,\"closed\":0,\"active\":0,\"bytesFromDownstream\":0,\"bytesFromUpstream\":0,\"handshakes\":0,\"handshakesResumed\":0},\"open\":1,\"failures\":[{\"direction\":\"inbound\",\"reason\":\"handshake-timeout\",\"count\":2},{\"direction\":\"inbound\",\"reason\":\"identity-not-allowed\",\"count\":1},{\"direction\":\"outbound\",\"reason\":\"upstream-unreachable\",\"count\":1}],\"decisions\":[{\"direction\":\"inbound\",\"verdict\":\"allow\",\"rule\":\"api/allow/0\",\"count\":1},{\"direction\":\"inbound\",\"verdict\":\"deny\",\"rule\":\"default-deny\",\"count\":2}],\"reloads\":{\"success\":2,\"failure\":1}}\n")
    }

    /// Today's `/metrics` text for these counters, byte for byte, plus `mesh_connections_open` (the `open`
    /// of `/stats`, now that both render one snapshot).
    @Test func metricsTextIsTheExpositionScrapersKnow() throws {
        let sidecar = try Self.busySidecar()
        let expiry = PrometheusText.number(sidecar.runtime.state.identity.leaf.notAfter)
        #expect(PrometheusText.render(AdminServer.snapshot(sidecar)) == """
            # HELP mesh_connections_opened_total Connections accepted, by direction.
            # TYPE mesh_connections_opened_total counter
            mesh_connections_opened_total{direction="inbound"} 3
            mesh_connections_opened_total{direction="outbound"} 1
            # HELP mesh_connections_closed_total Connections ended (for any reason), by direction.
            # TYPE mesh_connections_closed_total counter
            mesh_connections_closed_total{direction="inbound"} 2
            mesh_connections_closed_total{direction="outbound"} 0
            # HELP mesh_connections_active Connections open now, by direction.
            # TYPE mesh_connections_active gauge
            mesh_connections_active{direction="inbound"} 1
            mesh_connections_active{direction="outbound"} 0
            # HELP mesh_connections_open Connection slots taken now (both directions), checked against limits.maxConnections.
            # TYPE mesh_connections_open gauge
            mesh_connections_open 1
            # HELP mesh_proxied_bytes_total Bytes proxied by finished connections, by direction and the side they came from.
            # TYPE mesh_proxied_bytes_total counter
            mesh_proxied_bytes_total{direction="inbound",from="downstream"} 1200
            mesh_proxied_bytes_total{direction="inbound",from="upstream"} 3400
            mesh_proxied_bytes_total{direction="outbound",from="downstream"} 0
            mesh_proxied_bytes_total{direction="outbound",from="upstream"} 0
            # HELP mesh_tls_handshakes_total Completed mTLS handshakes, by direction and whether a session was resumed.
            # TYPE mesh_tls_handshakes_total counter
            mesh_tls_handshakes_total{direction="inbound",resumed="false"} 2
            mesh_tls_handshakes_total{direction="inbound",resumed="true"} 1
            mesh_tls_handshakes_total{direction="outbound",resumed="false"} 0
            mesh_tls_handshakes_total{direction="outbound",resumed="true"} 0
            # HELP mesh_connection_failures_total Refused or failed connections, by direction and reason (TLS handshake failures included).
            # TYPE mesh_connection_failures_total counter
            mesh_connection_failures_total{direction="inbound",reason="handshake-timeout"} 2
            mesh_connection_failures_total{direction="inbound",reason="identity-not-allowed"} 1
            mesh_connection_failures_total{direction="outbound",reason="upstream-unreachable"} 1
            # HELP mesh_log_suppressed_total Log lines held back by the per-reason rate limit (counters above still count every event), by reason.
            # TYPE mesh_log_suppressed_total counter
            # HELP mesh_authz_decisions_total Authorization decisions, by direction, verdict and the rule that decided.
            # TYPE mesh_authz_decisions_total counter
            mesh_authz_decisions_total{direction="inbound",verdict="allow",rule="api/allow/0"} 1
            mesh_authz_decisions_total{direction="inbound",verdict="deny",rule="default-deny"} 2
            # HELP mesh_authz_shadow_decisions_total Audit rules: the verdict they would have given where it differs from the enforced one (never enforced).
            # TYPE mesh_authz_shadow_decisions_total counter
            mesh_authz_shadow_decisions_total{direction="inbound",verdict="deny",rule="audit-deny"} 1
            # HELP mesh_rate_limited_total Inbound connections refused by a rate limit (the rule's rateLimit or a control-plane throttle), by the allow rule that matched.
            # TYPE mesh_rate_limited_total counter
            # HELP mesh_policy_version Version of the mesh policy slice in force (0: static allow lists or none yet).
            # TYPE mesh_policy_version gauge
            mesh_policy_version 0
            # HELP mesh_tls_handshake_duration_seconds Time from accept (inbound) or connect (outbound) to a finished mTLS handshake.
            # TYPE mesh_tls_handshake_duration_seconds histogram
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.0005"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.001"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.0025"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.005"} 1
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.01"} 1
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.025"} 1
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.05"} 1
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.1"} 1
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.25"} 2
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="0.5"} 2
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="1"} 2
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="2.5"} 2
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="5"} 2
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="10"} 2
            mesh_tls_handshake_duration_seconds_bucket{direction="inbound",le="+Inf"} 2
            mesh_tls_handshake_duration_seconds_sum{direction="inbound"} 0.203
            mesh_tls_handshake_duration_seconds_count{direction="inbound"} 2
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.0005"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.001"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.0025"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.005"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.01"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.025"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.05"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.1"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.25"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="0.5"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="1"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="2.5"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="5"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="10"} 0
            mesh_tls_handshake_duration_seconds_bucket{direction="outbound",le="+Inf"} 1
            mesh_tls_handshake_duration_seconds_sum{direction="outbound"} 20.0
            mesh_tls_handshake_duration_seconds_count{direction="outbound"} 1
            # HELP mesh_connection_duration_seconds Lifetime of finished connections.
            # TYPE mesh_connection_duration_seconds histogram
            mesh_connection_duration_seconds_bucket{direction="inbound",le="0.001"} 0
            mesh_connection_duration_seconds_bucket{direction="inbound",le="0.01"} 0
            mesh_connection_duration_seconds_bucket{direction="inbound",le="0.1"} 0
            mesh_connection_duration_seconds_bucket{direction="inbound",le="0.5"} 0
            mesh_connection_duration_seconds_bucket{direction="inbound",le="1"} 0
            mesh_connection_duration_seconds_bucket{direction="inbound",le="5"} 1
            mesh_connection_duration_seconds_bucket{direction="inbound",le="10"} 1
            mesh_connection_duration_seconds_bucket{direction="inbound",le="30"} 1
            mesh_connection_duration_seconds_bucket{direction="inbound",le="60"} 1
            mesh_connection_duration_seconds_bucket{direction="inbound",le="300"} 1
            mesh_connection_duration_seconds_bucket{direction="inbound",le="900"} 1
            mesh_connection_duration_seconds_bucket{direction="inbound",le="3600"} 1
            mesh_connection_duration_seconds_bucket{direction="inbound",le="+Inf"} 1
            mesh_connection_duration_seconds_sum{direction="inbound"} 2.0
            mesh_connection_duration_seconds_count{direction="inbound"} 1
            mesh_connection_duration_seconds_bucket{direction="outbound",le="0.001"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="0.01"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="0.1"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="0.5"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="1"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="5"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="10"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="30"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="60"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="300"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="900"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="3600"} 0
            mesh_connection_duration_seconds_bucket{direction="outbound",le="+Inf"} 0
            mesh_connection_duration_seconds_sum{direction="outbound"} 0.0
            mesh_connection_duration_seconds_count{direction="outbound"} 0
            # HELP mesh_certificate_expiry_timestamp_seconds When our workload certificate expires (Unix time).
            # TYPE mesh_certificate_expiry_timestamp_seconds gauge
            mesh_certificate_expiry_timestamp_seconds \(expiry)
            # HELP mesh_certificate_expiring 1 when less than a quarter of our certificate's life is left (renewal is overdue).
            # TYPE mesh_certificate_expiring gauge
            mesh_certificate_expiring 0
            # HELP mesh_reloads_total Reloads of configuration and identity material, by result.
            # TYPE mesh_reloads_total counter
            mesh_reloads_total{result="success"} 2
            mesh_reloads_total{result="failure"} 1
            # HELP mesh_admin_refused_total Stats-endpoint requests refused, by reason.
            # TYPE mesh_admin_refused_total counter
            mesh_admin_refused_total{reason="bad-host"} 0
            # HELP mesh_config_generation Generation of the active configuration (1 at start, +1 per successful reload).
            # TYPE mesh_config_generation gauge
            mesh_config_generation 1
            # HELP mesh_last_reload_success 1 when the last reload attempt succeeded (or none happened), 0 when it failed.
            # TYPE mesh_last_reload_success gauge
            mesh_last_reload_success 1

            """)
    }

    /// With the agents running, their counters are in both renderings, from the same snapshot.
    @Test func theAgentsCountersAreInStatsAndMetrics() throws {
        let sidecar = try Self.busySidecar()
        let td = try TrustDomain("mesh.local")
        let boot = BootstrapSettings(controlPlane: HostPort(host: "127.0.0.1", port: 1), tokenFile: "/nonexistent.token",
                                     trustAnchor: nil, trustAnchorSHA256: "00",
                                     controlPlaneIdentity: try SPIFFEID.workload("spiffe://mesh.local/ns/mesh/sa/control"))
        var files = IdentityFiles(certificate: "/nonexistent.crt", key: "/nonexistent.key", trustBundle: "/nonexistent.pem", trustDomain: td)
        files.bootstrap = boot
        let identityAgent = IdentityAgent(files: files, log: { _, _ in })
        identityAgent.renewalsOK.add(4, ordering: .relaxed)
        identityAgent.renewalsFailed.add(1, ordering: .relaxed)
        let policyAgent = PolicyAgent(settings: PolicySettings(lastKnownGood: "/nonexistent.json"), bootstrap: boot, log: { _, _ in })
        policyAgent.pollsOK.add(7, ordering: .relaxed)
        policyAgent.pollFailures.add(2, ordering: .relaxed)
        policyAgent.lastKnownGoodInForce.store(true, ordering: .relaxed)
        sidecar.agent = identityAgent
        sidecar.policyAgent = policyAgent
        let snap = AdminServer.snapshot(sidecar)

        let notAfter = UTCTime.iso8601(sidecar.runtime.state.identity.leaf.notAfter, milliseconds: true)
        #expect(StatsJSON.render(snap).hasSuffix("\"reloads\":{\"success\":2,\"failure\":1},"
            + "\"identity\":{\"renewals\":{\"success\":4,\"failure\":1},\"notAfter\":\"\(notAfter)\",\"expiring\":false},"
            + "\"policy\":{\"version\":0,\"polls\":{\"success\":7,\"failure\":2},\"lastKnownGood\":true}}\n"))
        let text = PrometheusText.render(snap)
        for line in ["mesh_certificate_renewals_total{result=\"success\"} 4", "mesh_certificate_renewals_total{result=\"failure\"} 1",
                     "mesh_policy_polls_total{result=\"success\"} 7", "mesh_policy_polls_total{result=\"failure\"} 2",
                     "mesh_policy_last_known_good 1", "mesh_policy_version 0", "# TYPE mesh_policy_polls_total counter",
                     "# TYPE mesh_policy_last_known_good gauge"] {
            #expect(text.contains("\n\(line)\n"), "missing \(line)")
        }
        // Without agents, neither section nor family appears (see the byte-for-byte tests above).
        sidecar.agent = nil
        sidecar.policyAgent = nil
        #expect(!PrometheusText.render(AdminServer.snapshot(sidecar)).contains("mesh_policy_polls_total"))
    }
}
