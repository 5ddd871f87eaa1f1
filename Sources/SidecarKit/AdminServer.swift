import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshObservability
import MeshTLS

/// The stats endpoint a service owner curls beside the sidecar (default `127.0.0.1:15000`):
/// `GET /healthz`, `/ready`, `/stats`, `/metrics`, `/config`, `/decisions[?verdict=allow|deny&limit=N]`,
/// `POST /reload`, `POST /telemetry/flush`. State changes only by POST and only from a loopback caller, whatever address it listens on.
enum AdminServer {
    static func router(sidecar: Sidecar) -> Router {
        let runtime = sidecar.runtime
        return Router([
            ("GET", "/healthz", Router.sync { _ in .text("ok\n") }),
            ("GET", "/ready", Router.sync { _ in ready(sidecar) }),
            ("GET", "/stats", Router.sync { _ in .json(StatsJSON.render(snapshot(sidecar))) }),
            ("GET", "/metrics", Router.sync { _ in
                .text(PrometheusText.render(snapshot(sidecar)), contentType: PrometheusText.contentType)
            }),
            ("GET", "/config", Router.sync { _ in .json(ConfigJSON.render(runtime, reloader: sidecar.reloader)) }),
            ("GET", "/decisions", Router.sync { req in decisions(runtime, req) }),
            ("POST", "/reload", Router.sync { req in
                guard req.peer.isLoopback else {
                    return .error(MeshError(.adminNotLoopback, "state changes are accepted only from loopback"))
                }
                let r = sidecar.reloader.reload(trigger: "api")
                return r.ok ? .json("{\"reloaded\":true,\"generation\":\(r.generation)}\n")
                            : .error(MeshError(.adminReloadFailed, r.error ?? "reload failed"))
            }),
            ("POST", "/telemetry/flush", { req, respond in flushTelemetry(sidecar, req, respond) }),
        ])
    }

    /// The counters now: one value for both renderings.
    static func snapshot(_ sidecar: Sidecar) -> StatsSnapshot {
        var snap = StatsSnapshot.sidecar(sidecar.runtime, reloader: sidecar.reloader, identityAgent: sidecar.agent,
                                         policyAgent: sidecar.policyAgent, telemetry: sidecar.telemetry)
        if let channel = sidecar.controlChannel { snap.addControlChannel(channel) }
        if let dns = sidecar.dns { snap.addDNS(dns.counters) }
        return snap
    }

    /// Wraps the router: a `Host` that is not an IP literal or `localhost` (`AdminHost`), and any method other
    /// than GET/HEAD from a non-loopback caller, are refused before routing.
    static func handler(sidecar: Sidecar) -> HTTPHandler {
        let router = router(sidecar: sidecar)
        let runtime = sidecar.runtime
        return { req, respond in
            let host = req.head.headers["Host"]
            if !AdminHost.isAcceptable(host) {
                runtime.stats.adminRefusedBadHost.add(1, ordering: .relaxed)
                runtime.log.refusal("admin-refused", reason: "admin-bad-host", fields: [
                    ("reason", .string("bad-host")), ("host", .optional(host.map { String($0.prefix(255)) })),
                    ("path", .string(String(req.head.target.prefix(255)))), ("peer", .string(req.peer.description))])
                respond(.error(MeshError(.adminBadHost, "the Host header must be an IP address or localhost")))
                return
            }
            if req.method != "GET" && req.method != "HEAD" && !req.peer.isLoopback {
                respond(.error(MeshError(.adminNotLoopback, "state changes are accepted only from loopback")))
                return
            }
            router.handle(req, respond: respond)
        }
    }

    /// Ready when listeners are up, the identity is valid now, a trust bundle and the allow lists are loaded.
    static func ready(_ sidecar: Sidecar) -> HTTPResponse {
        let state = sidecar.runtime.state
        let now = sidecar.runtime.clock.wallSeconds()
        var problems: [String] = []
        if !sidecar.listening { problems.append("listeners are not up") }
        if state.identity.leaf.notAfter <= now { problems.append("our certificate expired") }
        if state.identity.leaf.notBefore > now { problems.append("our certificate is not yet valid") }
        if state.identity.trustBundle.isEmpty { problems.append("no trust bundle") }
        if !state.config.inbound.allSatisfy({ state.authorizer.covers(inbound: $0.name) }) { problems.append("allow lists not loaded") }
        let body = "{\"ready\":\(problems.isEmpty),\"identity\":\(JSONText.quote(state.identity.spiffeID.description)),"
            + "\"problems\":[\(problems.map(JSONText.quote).joined(separator: ","))]}\n"
        return .json(body, status: problems.isEmpty ? 200 : 503)
    }

    static func decisions(_ runtime: SidecarRuntime, _ req: HTTPRequest) -> HTTPResponse {
        let q = req.head.query
        var allowed: Bool?
        switch q["verdict"] {
        case nil: allowed = nil
        case "allow": allowed = true
        case "deny": allowed = false
        case let other?:
            return .error(MeshError(.adminBadQuery, "verdict must be allow or deny, not \(other.debugDescription)"))
        }
        var limit = 100
        if let l = q["limit"] {
            guard let n = Int(l), (1...runtime.stats.decisions.capacity).contains(n) else {
                return .error(MeshError(.adminBadQuery, "limit must be 1...\(runtime.stats.decisions.capacity)"))
            }
            limit = n
        }
        let items = runtime.stats.decisions.recent(allowed: allowed, limit: limit).map { d in
            "{\"time\":\(JSONText.quote(UTCTime.iso8601(d.time, milliseconds: true))),\"direction\":\"\(d.direction.rawValue)\","
                + "\"listener\":\(JSONText.quote(d.listener)),\"port\":\(d.port),\"peer\":\(JSONText.quote(d.peer)),"
                + "\"identity\":\(d.identity.map(JSONText.quote) ?? "null"),\"verdict\":\"\(d.allowed ? "allow" : "deny")\","
                + "\"rule\":\(JSONText.quote(d.rule)),\"reason\":\(JSONText.quote(d.reason))"
                + (d.method.map { ",\"method\":\(JSONText.quote($0)),\"route\":\(d.route.map(JSONText.quote) ?? "null")" } ?? "") + "}"
        }
        return .json("{\"total\":\(runtime.stats.decisions.total),\"decisions\":[\n" + items.joined(separator: ",\n") + "\n]}\n")
    }
}
