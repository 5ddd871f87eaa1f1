import MeshAPI
import MeshCore
import MeshHTTP

/// The throttle half of the API (operator): risk-adaptive limits set by hand (the alert engine calls
/// `ControlPlane.throttle` directly).
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `POST /v1/throttle` | operator | `ThrottleRequest` → `ThrottleListAnswer` (the list now in force) |
/// | `GET /v1/throttle` | operator | `ThrottleListAnswer` |
/// | `DELETE /v1/throttle` | operator | `UnthrottleRequest` → `ThrottleListAnswer`; `throttle.not-found` (404) when not throttled |
enum ThrottleAPI {
    static func routes(_ r: APIRoutes) -> [APIRoutes.Route] {
        let cp = r.cp
        return [
            r.adminBlocking("POST", "/v1/throttle") { req in
                let m = try ThrottleRequest(bytes: req.body)
                try cp.throttle(identity: m.identity, perSecond: m.perSecond,
                                until: m.forSeconds.map { cp.now() + Double($0) }, actor: "operator")
                return .json(answer(cp).json)
            },
            r.adminOnLoop("GET", "/v1/throttle") { _ in .json(answer(cp).json) },
            r.adminBlocking("DELETE", "/v1/throttle") { req in
                let m = try UnthrottleRequest(bytes: req.body)
                try cp.unthrottle(identity: m.identity, actor: "operator")
                return .json(answer(cp).json)
            },
        ]
    }

    static func answer(_ cp: ControlPlane) -> ThrottleListAnswer {
        let records = cp.identityRecords
        let ids = records.throttles.keys.sorted { $0.description < $1.description }
        return ThrottleListAnswer(revision: records.revocationRevision, throttles: ids.map { id in
            let t = records.throttles[id]!
            return ThrottleEntry(identity: id, perSecond: t.limit.connectionsPerSecond, burst: t.limit.burst,
                                 since: Int(t.since), until: t.until.map { Int($0) }, actor: t.actor)
        })
    }
}
