import MeshAlerts
import MeshCore
import MeshHTTP

/// The alerts half of the API.
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `GET /v1/alerts?all=true` | operator | pending and firing alerts, oldest first; with `all=true` also the resolved ones kept (the last 1,000, newest first) |
enum AlertsAPI {
    static func routes(_ r: APIRoutes) -> [APIRoutes.Route] {
        let cp = r.cp
        return [
            r.adminOnLoop("GET", "/v1/alerts") { req in
                let all = req.head.query["all"] == "true"
                let list = cp.alerts.alerts(recent: all)
                return .json(.object([("now", .int(Int(cp.now()))), ("alerts", .array(list.map(\.json)))]))
            },
        ]
    }
}
