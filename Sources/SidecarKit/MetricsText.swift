import MeshHTTP

/// The Prometheus text exposition of a sidecar's counters (names and labels in the README). Label values
/// come from closed sets (directions, reasons, configured rule names), never from client input.
enum MetricsText {
    static func render(_ runtime: SidecarRuntime, reloader: Reloader, agent: IdentityAgent? = nil) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func line(_ name: String, _ labels: [(String, String)], _ value: String) {
            let l = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(l) \(value)\n"
        }
        let s = runtime.stats
        family("mesh_connections_opened_total", "counter", "Connections accepted, by direction.")
        for d in Direction.allCases { line("mesh_connections_opened_total", [("direction", d.rawValue)], "\(s.of(d).opened.load(ordering: .relaxed))") }
        family("mesh_connections_closed_total", "counter", "Connections ended (for any reason), by direction.")
        for d in Direction.allCases { line("mesh_connections_closed_total", [("direction", d.rawValue)], "\(s.of(d).closed.load(ordering: .relaxed))") }
        family("mesh_connections_active", "gauge", "Connections open now, by direction.")
        for d in Direction.allCases { line("mesh_connections_active", [("direction", d.rawValue)], "\(s.of(d).active.load(ordering: .relaxed))") }
        family("mesh_proxied_bytes_total", "counter", "Bytes proxied by finished connections, by direction and the side they came from.")
        for d in Direction.allCases {
            line("mesh_proxied_bytes_total", [("direction", d.rawValue), ("from", "downstream")], "\(s.of(d).bytesFromDownstream.load(ordering: .relaxed))")
            line("mesh_proxied_bytes_total", [("direction", d.rawValue), ("from", "upstream")], "\(s.of(d).bytesFromUpstream.load(ordering: .relaxed))")
        }
        family("mesh_tls_handshakes_total", "counter", "Completed mTLS handshakes, by direction and whether a session was resumed.")
        for d in Direction.allCases {
            let all = s.of(d).handshakes.load(ordering: .relaxed), resumed = s.of(d).handshakesResumed.load(ordering: .relaxed)
            line("mesh_tls_handshakes_total", [("direction", d.rawValue), ("resumed", "false")], "\(all - resumed)")
            line("mesh_tls_handshakes_total", [("direction", d.rawValue), ("resumed", "true")], "\(resumed)")
        }
        family("mesh_connection_failures_total", "counter", "Refused or failed connections, by direction and reason (TLS handshake failures included).")
        for (k, v) in s.failureCounts().sorted(by: { ($0.key.direction.rawValue, $0.key.reason) < ($1.key.direction.rawValue, $1.key.reason) }) {
            line("mesh_connection_failures_total", [("direction", k.direction.rawValue), ("reason", k.reason.rawValue)], "\(v)")
        }
        family("mesh_authz_decisions_total", "counter", "Authorization decisions, by direction, verdict and the rule that decided.")
        for (k, v) in s.decisionCounts().sorted(by: { ($0.key.direction.rawValue, $0.key.rule, $0.key.allowed ? 1 : 0) < ($1.key.direction.rawValue, $1.key.rule, $1.key.allowed ? 1 : 0) }) {
            line("mesh_authz_decisions_total", [("direction", k.direction.rawValue), ("verdict", k.allowed ? "allow" : "deny"), ("rule", k.rule)], "\(v)")
        }
        family("mesh_authz_shadow_decisions_total", "counter", "Audit rules: the verdict they would have given where it differs from the enforced one (never enforced).")
        for (k, v) in s.shadowCounts().sorted(by: { ($0.key.direction.rawValue, $0.key.rule) < ($1.key.direction.rawValue, $1.key.rule) }) {
            line("mesh_authz_shadow_decisions_total", [("direction", k.direction.rawValue), ("verdict", k.allowed ? "allow" : "deny"), ("rule", k.rule)], "\(v)")
        }
        family("mesh_policy_version", "gauge", "Version of the mesh policy slice in force (0: static allow lists or none yet).")
        line("mesh_policy_version", [], "\(runtime.state.slice?.version ?? 0)")
        for (name, help, pick) in [
            ("mesh_tls_handshake_duration_seconds", "Time from accept (inbound) or connect (outbound) to a finished mTLS handshake.", { (d: DirectionStats) in d.handshakeSeconds }),
            ("mesh_connection_duration_seconds", "Lifetime of finished connections.", { (d: DirectionStats) in d.connectionSeconds }),
        ] {
            family(name, "histogram", help)
            for d in Direction.allCases {
                let h = pick(s.of(d))
                let snap = h.snapshot()
                for (i, b) in h.bounds.enumerated() {
                    line("\(name)_bucket", [("direction", d.rawValue), ("le", JSONText.number(b))], "\(snap.cumulative[i])")
                }
                line("\(name)_bucket", [("direction", d.rawValue), ("le", "+Inf")], "\(snap.count)")
                line("\(name)_sum", [("direction", d.rawValue)], "\(snap.sum)")
                line("\(name)_count", [("direction", d.rawValue)], "\(snap.count)")
            }
        }
        let state = runtime.state
        family("mesh_certificate_expiry_timestamp_seconds", "gauge", "When our workload certificate expires (Unix time).")
        line("mesh_certificate_expiry_timestamp_seconds", [], JSONText.number(state.identity.leaf.notAfter))
        let now = runtime.clock.wallSeconds()
        let leaf = state.identity.leaf
        family("mesh_certificate_expiring", "gauge", "1 when less than a quarter of our certificate's life is left (renewal is overdue).")
        line("mesh_certificate_expiring", [], leaf.notAfter - now < (leaf.notAfter - leaf.notBefore) / 4 ? "1" : "0")
        if let agent {
            family("mesh_certificate_renewals_total", "counter", "Renewals with the control plane, by result.")
            line("mesh_certificate_renewals_total", [("result", "success")], "\(agent.renewalsOK.load(ordering: .relaxed))")
            line("mesh_certificate_renewals_total", [("result", "failure")], "\(agent.renewalsFailed.load(ordering: .relaxed))")
        }
        family("mesh_reloads_total", "counter", "Reloads of configuration and identity material, by result.")
        line("mesh_reloads_total", [("result", "success")], "\(s.reloadsOK.load(ordering: .relaxed))")
        line("mesh_reloads_total", [("result", "failure")], "\(s.reloadsFailed.load(ordering: .relaxed))")
        family("mesh_config_generation", "gauge", "Generation of the active configuration (1 at start, +1 per successful reload).")
        line("mesh_config_generation", [], "\(state.generation)")
        family("mesh_last_reload_success", "gauge", "1 when the last reload attempt succeeded (or none happened), 0 when it failed.")
        line("mesh_last_reload_success", [], reloader.lastReload.map { $0.ok ? "1" : "0" } ?? "1")
        return out
    }

    static func escape(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "\\": o += "\\\\"
            case "\"": o += "\\\""
            case "\n": o += "\\n"
            default: o.append(c)
            }
        }
        return o
    }
}
