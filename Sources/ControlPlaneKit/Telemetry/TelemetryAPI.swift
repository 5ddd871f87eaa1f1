import Dispatch
import MeshAPI
import MeshCore
import MeshHTTP
import MeshHTTP1

/// The telemetry half of the API.
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `POST /v1/telemetry` | sidecar (mTLS, valid, not revoked) | a `TelemetryReport` for its own identity → `TelemetryAck` once durable; a retried seq is acknowledged `duplicate: true` and not counted |
/// | `GET /v1/graph?since=15m&service=ns/name` | operator | the edges of the last `since` (seconds or 30s/15m/1h/1d, default 15m, at most 24h), summed → `GraphAnswer` |
/// | `GET /v1/telemetry/sidecars` | operator | each reporting instance: last seq and report, policy version, totals → `TelemetrySidecarList` |
enum TelemetryAPI {
    /// `since` when the operator does not say (15 min), and the most the store holds (24 h).
    static let defaultSince = 900
    static let maxSince = 86_400

    static func routes(_ r: APIRoutes) -> [APIRoutes.Route] {
        let cp = r.cp
        return [
            ("POST", "/v1/telemetry", report(cp)),
            adminOffLoop(cp, "/v1/graph") { req in try graph(cp, req) },
            adminOffLoop(cp, "/v1/telemetry/sidecars") { _ in .json(cp.telemetry.sidecars().answerText) },
        ]
    }

    /// Operator reads that may sum millions of entries: on a global queue, neither on the loop nor in the way
    /// of the serial blocking work (policy writes) or of ingestion.
    static func adminOffLoop(_ cp: ControlPlane, _ path: String, _ body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) -> APIRoutes.Route {
        ("GET", path, { req, respond in
            DispatchQueue.global().async {
                respond(ControlAPI.guarded {
                    try ControlAPI.requireAdmin(cp, req)
                    return try body(req)
                })
            }
        })
    }

    /// Parsed and counted on the telemetry queue (off the loop); answered when the journal is durable.
    static func report(_ cp: ControlPlane) -> HTTPHandler {
        { req, respond in
            let telemetry = cp.telemetry
            telemetry.ingestQueue.async {
                do {
                    let id = try ControlAPI.requireWorkload(cp, req, route: "telemetry")
                    let report = try TelemetryReport(bytes: req.body, limits: TelemetryReport.limits)
                    guard report.source == id else {
                        throw MeshError(.telemetryWrongSource, "\(id) may report only for itself, not for \(report.source)")
                    }
                    telemetry.ingest(report) { result in
                        switch result {
                        case .success(let ack): respond(.json(ack.answerText))
                        case .failure(let e): respond(.error(e))
                        }
                    }
                } catch {
                    let e = error as? MeshError ?? MeshError(.internalFailure, "\(error)")
                    telemetry.refused(e, peer: req.peerIdentity?.description ?? req.peer.description)
                    respond(.error(e))
                }
            }
        }
    }

    static func graph(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let q = req.head.query
        let since = try sinceSeconds(q["since"])
        var service: String?, identity: String?
        if let text = q["service"] {
            guard let key = try? ServiceKey(parsing: text),
                  let id = try? SPIFFEID.service(trustDomain: cp.ca.trustDomain, namespace: key.namespace, name: key.name) else {
                throw MeshError(.telemetryBadQuery, "service must be namespace/name, not \(text.debugDescription)")
            }
            service = key.description
            identity = id.description
        }
        return .json(cp.telemetry.graph(since: since, service: service, identity: identity).answerText)
    }

    /// Seconds, or `30s`/`15m`/`1h`/`1d`; 1 s … 24 h.
    static func sinceSeconds(_ text: String?) throws(MeshError) -> Int {
        guard let text else { return defaultSince }
        guard let s = try? DurationText.seconds(text, max: Double(maxSince)), s >= 1, s == s.rounded() else {
            throw MeshError(.telemetryBadQuery, "since must be 1 s to 24 h (seconds, or like 30s, 15m, 1h, 1d), not \(text.debugDescription)")
        }
        return Int(s)
    }
}
