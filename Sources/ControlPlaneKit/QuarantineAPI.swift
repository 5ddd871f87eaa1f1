import MeshAPI
import MeshCore
import MeshHTTP
import MeshHTTP1

/// The quarantine half of the API (operator).
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `POST /v1/quarantine` | operator | `{"identity", "reason"?, "forSeconds"?}` → the quarantines in force |
/// | `GET /v1/quarantine` | operator | who, why, since, until, actor, automatic; and the deny list's revision |
/// | `DELETE /v1/quarantine?identity=…` | operator | release → the quarantines in force |
enum QuarantineAPI {
    static func routes(_ r: APIRoutes) -> [APIRoutes.Route] {
        let cp = r.cp
        return [
            r.adminBlocking("POST", "/v1/quarantine") { req in
                let q: QuarantineRequest
                q = try QuarantineRequest(bytes: req.body)
                let until = q.forSeconds.map { cp.now() + Double($0) }
                try cp.quarantine(identity: q.identity, reason: q.reason, until: until, actor: "operator", automatic: false)
                return .json(list(cp).json)
            },
            r.adminOnLoop("GET", "/v1/quarantine") { _ in .json(list(cp).json) },
            r.adminBlocking("DELETE", "/v1/quarantine") { req in
                guard let text = req.head.query["identity"] else {
                    throw MeshError(.quarantineBadRequest, "name the identity: DELETE /v1/quarantine?identity=spiffe://…")
                }
                let id: SPIFFEID
                do { id = try SPIFFEID.workload(text) } catch { throw MeshError(.quarantineBadRequest, "\(text.debugDescription): \(error)") }
                try cp.release(identity: id, actor: "operator")
                return .json(list(cp).json)
            },
        ]
    }

    static func list(_ cp: ControlPlane) -> QuarantineList {
        QuarantineList(revision: cp.identityRecords.revocationRevision, quarantines: cp.quarantines(now: cp.now()).map(record))
    }

    static func record(_ q: QuarantineEntry) -> QuarantineRecord {
        QuarantineRecord(identity: q.identity, reason: q.reason, since: Int(q.since), until: q.until.map { Int($0) }, actor: q.actor,
                         automatic: q.automatic)
    }
}
