import MeshCore
import MeshHTTP
import MeshHTTP1

/// How the API's handlers are built: each parses, calls one use case, and answers. Errors become answers by
/// their kind (`MeshError.kind.httpStatus`). Reads of in-memory snapshots answer on the loop; use cases that
/// write (and so block) run on `BlockingWork`.
struct APIRoutes: Sendable {
    let cp: ControlPlane
    let work: BlockingWork

    typealias Route = (method: String, path: String, handler: HTTPHandler)

    /// Anyone; answered on the loop.
    func onLoop(_ method: String, _ path: String, _ body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) -> Route {
        (method, path, Router.sync { req in ControlAPI.guarded { try body(req) } })
    }

    /// Operator only; answered on the loop.
    func adminOnLoop(_ method: String, _ path: String, _ body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) -> Route {
        onLoop(method, path) { [cp] req in
            try ControlAPI.requireAdmin(cp, req)
            return try body(req)
        }
    }

    /// Anyone (the use case authenticates); run on the blocking worker.
    func blocking(_ method: String, _ path: String, _ body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) -> Route {
        (method, path, { [work] req, respond in work.run { respond(ControlAPI.guarded { try body(req) }) } })
    }

    /// Anyone (the use case authenticates); run beside other issuances (`BlockingWork.runIssuance`).
    func issuing(_ method: String, _ path: String, _ body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) -> Route {
        (method, path, { [work] req, respond in work.runIssuance { respond(ControlAPI.guarded { try body(req) }) } })
    }

    /// Operator only; run on the blocking worker.
    func adminBlocking(_ method: String, _ path: String, _ body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) -> Route {
        blocking(method, path) { [cp] req in
            try ControlAPI.requireAdmin(cp, req)
            return try body(req)
        }
    }
}

extension HTTPResponse {
    /// A JSON answer, with the version as `ETag` when given.
    static func json(_ value: JSONValue, status: Int = 200, etag version: Int? = nil) -> HTTPResponse {
        var r = HTTPResponse.json(value.text + "\n", status: status)
        if let version { r.headers.add("ETag", "\"\(version)\"") }
        return r
    }

}
