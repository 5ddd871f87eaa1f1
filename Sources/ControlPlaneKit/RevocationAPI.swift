import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshObservability

/// The revocation half of the API (operator), plus the control plane's metrics.
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `POST /v1/identities/revoke` | operator | `{"identity": id}` or `{"serial": HEX}`, optional `"reason"` → the revocation |
/// | `GET /v1/identities/revoked` | operator | the revocations in force and the deny list's revision |
/// | `GET /metrics` | operator | Prometheus text: security events, revocations in force, HTTP refusals and connections, mesh-wide telemetry and policy push |
enum RevocationAPI {
    static func routes(_ r: APIRoutes) -> [APIRoutes.Route] {
        let cp = r.cp
        return [
            r.adminBlocking("POST", "/v1/identities/revoke") { req in
                let body = try StrictJSON.parse(req.body)
                guard case .object(let members) = body,
                      members.allSatisfy({ ["identity", "serial", "reason"].contains($0.0) }) else {
                    throw MeshError(.revokeBadRequest, "the body is {\"identity\": …} or {\"serial\": …}, with an optional \"reason\"")
                }
                let identity = try body["identity"]?.stringValue.map { try SPIFFEID.workload($0) }
                let serial = body["serial"]?.stringValue.map { $0.uppercased() }
                let reason = body["reason"]?.stringValue ?? ""
                let v = try cp.revoke(identity: identity, serial: serial, reason: reason, actor: "operator")
                return .json(.object([("revoked", json(v)), ("revision", .int(cp.identityRecords.revocationRevision))]))
            },
            r.adminOnLoop("GET", "/v1/identities/revoked") { _ in
                let records = cp.identityRecords
                return .json(.object([("revision", .int(records.revocationRevision)),
                                      ("revocations", .array(records.revocations.map(json)))]))
            },
            r.adminOnLoop("GET", "/metrics") { _ in
                var snap = StatsSnapshot([cp.security.metricFamily])
                snap.add("mesh_control_revocations", .gauge, help: "Revocations in force.",
                         [MetricSample(.int(cp.identityRecords.revocations.count))])
                snap.add("mesh_control_quarantines", .gauge, help: "Identities quarantined now.",
                         [MetricSample(.int(cp.quarantines(now: cp.now()).count))])
                snap.add("mesh_control_throttles", .gauge, help: "Identities throttled (risk-adaptive limits) in force.",
                         [MetricSample(.int(cp.identityRecords.throttles.count))])
                snap.families += cp.serverStats.metricFamilies()
                snap.families += TelemetryMetrics.families(cp)
                snap.families += cp.alerts.metricFamilies
                return .text(PrometheusText.render(snap), contentType: PrometheusText.contentType)
            },
        ]
    }

    static func json(_ v: IdentityRecords.Revocation) -> JSONValue {
        .object([("identity", .optional(v.identity?.description)), ("serial", .optional(v.serial)),
                 ("revokedAt", .int(Int(v.revokedAt))), ("reason", .string(v.reason)), ("actor", .string(v.actor))])
    }
}
