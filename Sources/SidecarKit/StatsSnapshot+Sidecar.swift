import MeshObservability

/// The sidecar's counters read into one `StatsSnapshot` (names and labels in the README's metrics table):
/// `/stats` and `/metrics` render the same value, and telemetry will send its deltas. Label values come from
/// closed sets (directions, reasons, configured rule names), never from client input.
extension StatsSnapshot {
    static func sidecar(_ runtime: SidecarRuntime, reloader: Reloader?, identityAgent: IdentityAgent? = nil,
                        policyAgent: PolicyAgent? = nil, telemetry: TelemetryReporter? = nil) -> StatsSnapshot {
        let s = runtime.stats
        let state = runtime.state
        var snap = StatsSnapshot()
        func perDirection(_ pick: (DirectionStats) -> Int) -> [MetricSample] {
            Direction.allCases.map { MetricSample(["direction": $0.rawValue], .int(pick(s.of($0)))) }
        }
        func results(_ ok: Int, _ failed: Int) -> [MetricSample] {
            [MetricSample(["result": "success"], .int(ok)), MetricSample(["result": "failure"], .int(failed))]
        }
        snap.add("mesh_connections_opened_total", .counter, help: "Connections accepted, by direction.",
                 perDirection { $0.opened.load(ordering: .relaxed) })
        snap.add("mesh_connections_closed_total", .counter, help: "Connections ended (for any reason), by direction.",
                 perDirection { $0.closed.load(ordering: .relaxed) })
        snap.add("mesh_connections_active", .gauge, help: "Connections open now, by direction.",
                 perDirection { $0.active.load(ordering: .relaxed) })
        snap.add("mesh_connections_open", .gauge, help: "Connection slots taken now (both directions), checked against limits.maxConnections.",
                 [MetricSample(.int(s.open.load(ordering: .relaxed)))])
        snap.add("mesh_proxied_bytes_total", .counter, help: "Bytes proxied by finished connections, by direction and the side they came from.",
                 Direction.allCases.flatMap { d in [
                     MetricSample(["direction": d.rawValue, "from": "downstream"], .int(s.of(d).bytesFromDownstream.load(ordering: .relaxed))),
                     MetricSample(["direction": d.rawValue, "from": "upstream"], .int(s.of(d).bytesFromUpstream.load(ordering: .relaxed))),
                 ] })
        snap.add("mesh_tls_handshakes_total", .counter, help: "Completed mTLS handshakes, by direction and whether a session was resumed.",
                 Direction.allCases.flatMap { d -> [MetricSample] in
                     let all = s.of(d).handshakes.load(ordering: .relaxed), resumed = s.of(d).handshakesResumed.load(ordering: .relaxed)
                     return [MetricSample(["direction": d.rawValue, "resumed": "false"], .int(all - resumed)),
                             MetricSample(["direction": d.rawValue, "resumed": "true"], .int(resumed))]
                 })
        snap.add("mesh_connection_failures_total", .counter, help: "Refused or failed connections, by direction and reason (TLS handshake failures included).",
                 s.failureCounts().sorted { ($0.key.direction.rawValue, $0.key.reason.rawValue) < ($1.key.direction.rawValue, $1.key.reason.rawValue) }
                     .map { MetricSample(["direction": $0.key.direction.rawValue, "reason": $0.key.reason.rawValue], .int($0.value)) })
        snap.add("mesh_log_suppressed_total", .counter, help: "Log lines held back by the per-reason rate limit (counters above still count every event), by reason.",
                 runtime.log.suppressedTotals().sorted { $0.key < $1.key }.map { MetricSample(["reason": $0.key], .int($0.value)) })
        snap.add("mesh_authz_decisions_total", .counter, help: "Authorization decisions, by direction, verdict and the rule that decided.",
                 decisionSamples(s.decisionCounts()))
        snap.add("mesh_authz_shadow_decisions_total", .counter,
                 help: "Audit rules: the verdict they would have given where it differs from the enforced one (never enforced).",
                 decisionSamples(s.shadowCounts()))
        snap.add("mesh_rate_limited_total", .counter,
                 help: "Inbound connections refused by a rate limit (the rule's rateLimit or a control-plane throttle), by the allow rule that matched.",
                 s.rateLimitedCounts().sorted { $0.key < $1.key }.map { MetricSample(["rule": $0.key], .int($0.value)) })
        s.requests.add(to: &snap)
        snap.add("mesh_policy_version", .gauge, help: "Version of the mesh policy slice in force (0: static allow lists or none yet).",
                 [MetricSample(.int(state.slice?.version ?? 0))])
        if let policyAgent {
            snap.add("mesh_policy_polls_total", .counter, help: "Polls of the control plane for our policy slice, by result.",
                     results(policyAgent.pollsOK.load(ordering: .relaxed), policyAgent.pollFailures.load(ordering: .relaxed)))
            snap.add("mesh_policy_last_known_good", .gauge,
                     help: "1 while the slice in force is the last-known-good one read from disk at start, not yet confirmed by the control plane.",
                     [MetricSample(.int(policyAgent.lastKnownGoodInForce.load(ordering: .relaxed) ? 1 : 0))])
            snap.add("mesh_policy_slice_refusals_total", .counter,
                     help: "Signed slices refused (poll answers and the last-known-good file at start), by reason.",
                     policyAgent.refusalCounts().map { MetricSample(["reason": $0.reason.rawValue], .int($0.count)) })
        }
        snap.addEndpoints(s.endpoints, nowMs: runtime.clock.monotonicNs() / 1_000_000)
        if usesPool(state) { snap.addPool(s.pool) }
        if let telemetry { addTelemetry(&snap, telemetry, liveEdges: s.telemetryLiveEdges.load(ordering: .relaxed)) }
        for (name, help, pick) in [
            ("mesh_tls_handshake_duration_seconds", "Time from accept (inbound) or connect (outbound) to a finished mTLS handshake.", { (d: DirectionStats) in d.handshakeSeconds }),
            ("mesh_connection_duration_seconds", "Lifetime of finished connections.", { (d: DirectionStats) in d.connectionSeconds }),
        ] {
            snap.add(name, .histogram, help: help,
                     Direction.allCases.map { MetricSample(["direction": $0.rawValue], .histogram(pick(s.of($0)).snapshot())) })
        }
        let leaf = state.identity.leaf
        let now = runtime.clock.wallSeconds()
        snap.add("mesh_certificate_expiry_timestamp_seconds", .gauge, help: "When our workload certificate expires (Unix time).",
                 [MetricSample(.number(leaf.notAfter))])
        snap.add("mesh_certificate_expiring", .gauge, help: "1 when less than a quarter of our certificate's life is left (renewal is overdue).",
                 [MetricSample(.int(leaf.notAfter - now < (leaf.notAfter - leaf.notBefore) / 4 ? 1 : 0))])
        if let identityAgent {
            snap.add("mesh_certificate_renewals_total", .counter, help: "Renewals with the control plane, by result.",
                     results(identityAgent.renewalsOK.load(ordering: .relaxed), identityAgent.renewalsFailed.load(ordering: .relaxed)))
        }
        snap.add("mesh_reloads_total", .counter, help: "Reloads of configuration and identity material, by result.",
                 results(s.reloadsOK.load(ordering: .relaxed), s.reloadsFailed.load(ordering: .relaxed)))
        snap.add("mesh_admin_refused_total", .counter, help: "Stats-endpoint requests refused, by reason.",
                 [MetricSample(["reason": "bad-host"], .int(s.adminRefusedBadHost.load(ordering: .relaxed)))])
        snap.add("mesh_config_generation", .gauge, help: "Generation of the active configuration (1 at start, +1 per successful reload).",
                 [MetricSample(.int(state.generation))])
        snap.add("mesh_last_reload_success", .gauge, help: "1 when the last reload attempt succeeded (or none happened), 0 when it failed.",
                 [MetricSample(.int(reloader?.lastReload.map { $0.ok ? 1 : 0 } ?? 1))])
        return snap
    }

    /// Sorted by direction, rule, then deny before allow.
    private static func decisionSamples(_ counts: [SidecarStats.DecisionKey: Int]) -> [MetricSample] {
        counts.sorted { ($0.key.direction.rawValue, $0.key.rule, $0.key.allowed ? 1 : 0) < ($1.key.direction.rawValue, $1.key.rule, $1.key.allowed ? 1 : 0) }
            .map { MetricSample(["direction": $0.key.direction.rawValue, "verdict": $0.key.allowed ? "allow" : "deny", "rule": $0.key.rule], .int($0.value)) }
    }
}
