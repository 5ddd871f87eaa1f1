import MeshCore
import MeshPolicy
import MeshHTTP
import MeshHTTP1
import MeshNet

/// The policy half of the API.
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `GET /v1/mesh` | operator | the applied mesh: version (also as `ETag`), content hash, files |
/// | `PUT /v1/mesh` | operator | replace the whole mesh, `If-Match: <version>` required; `{"files": [{"name","content"}]}` → version, diff |
/// | `GET`/`PUT /v1/mesh/services`, `…/segments`, `…/rules` | operator | read or replace one section (If-Match), the rest kept |
/// | `POST /v1/mesh/validate` | operator | validate a mesh and show the diff; nothing changes (`apply --dry-run`) |
/// | `GET /v1/check?from=ns/name&to=ns/name&port=N` | operator | verdict, deciding rule, and why each other rule did not match |
/// | `GET /v1/slice?version=N` | sidecar (mTLS) | its own slice, at once if newer than N, else long poll (30 s, then 304); N is also its status report (the version it applied) |
/// | `POST /v1/status` | sidecar (mTLS) | `{"version": N}`: report the version applied without polling |
/// | `GET /v1/sidecars` | operator | each sidecar's applied version, last seen, in sync or stale |
enum PolicyAPI {
    static func routes(_ cp: ControlPlane, loop: EventLoop) -> [(method: String, path: String, handler: HTTPHandler)] {
        [
            ("GET", "/v1/mesh", Router.sync { req in ControlAPI.admin(cp, req) { mesh(cp) } }),
            ("PUT", "/v1/mesh", Router.sync { req in ControlAPI.admin(cp, req) { try apply(cp, req) } }),
            ("POST", "/v1/mesh/validate", Router.sync { req in ControlAPI.admin(cp, req) {
                let (_, diff) = try cp.policy.validate(try files(req))
                return .json(JSONValue.object([("valid", .bool(true)), ("baseVersion", .int(cp.policy.snapshot.version)),
                                               ("diff", .array(diff.map { .string($0) }))]).text + "\n")
            } }),
            ("GET", "/v1/mesh/services", Router.sync { req in ControlAPI.admin(cp, req) { section(cp, "services") } }),
            ("GET", "/v1/mesh/segments", Router.sync { req in ControlAPI.admin(cp, req) { section(cp, "segments") } }),
            ("GET", "/v1/mesh/rules", Router.sync { req in ControlAPI.admin(cp, req) { section(cp, "rules") } }),
            ("PUT", "/v1/mesh/services", Router.sync { req in ControlAPI.admin(cp, req) { try replaceSection(cp, req, "services") } }),
            ("PUT", "/v1/mesh/segments", Router.sync { req in ControlAPI.admin(cp, req) { try replaceSection(cp, req, "segments") } }),
            ("PUT", "/v1/mesh/rules", Router.sync { req in ControlAPI.admin(cp, req) { try replaceSection(cp, req, "rules") } }),
            ("GET", "/v1/check", Router.sync { req in ControlAPI.admin(cp, req) { try check(cp, req) } }),
            ("GET", "/v1/slice", { req, respond in
                guard let id = req.peerIdentity, let service = serviceKey(id) else {
                    respond(.error(401, code: "auth.sidecar-required", reason: "present your workload certificate (mTLS)"))
                    return
                }
                let version = Int(req.head.query["version"] ?? "-1") ?? -1
                // The version a sidecar polls from is the one it has applied: every poll is also its status report.
                if version >= 0 { cp.distribution.report(identity: id.description, version: version) }
                cp.distribution.longPoll(service: service, version: version, loop: loop, respond: respond)
            }),
            ("POST", "/v1/status", Router.sync { req in
                guard let id = req.peerIdentity else {
                    return .error(401, code: "auth.sidecar-required", reason: "present your workload certificate (mTLS)")
                }
                let v = (try? StrictJSON.parse(req.body))?["version"]?.intValue ?? -1
                cp.distribution.report(identity: id.description, version: v)
                return .json("{\"ok\":true}\n")
            }),
            ("GET", "/v1/sidecars", Router.sync { req in ControlAPI.admin(cp, req) { sidecars(cp) } }),
        ]
    }

    /// `spiffe://td/ns/<ns>/sa/<name>` → `ns/name`.
    static func serviceKey(_ id: SPIFFEID) -> ServiceKey? {
        let parts = id.path.split(separator: "/")
        guard parts.count == 4, parts[0] == "ns", parts[2] == "sa" else { return nil }
        return ServiceKey(namespace: String(parts[1]), name: String(parts[3]))
    }

    static func files(_ req: HTTPRequest) throws -> [(name: String, content: String)] {
        let doc = try StrictJSON.parse(req.body)
        guard let list = doc["files"]?.arrayValue else {
            throw MeshError("policy.bad-request", "the body needs \"files\": [{\"name\": …, \"content\": …}]")
        }
        return try list.map {
            guard let n = $0["name"]?.stringValue, let c = $0["content"]?.stringValue else {
                throw MeshError("policy.bad-request", "every file needs a name and a content")
            }
            return (n, c)
        }
    }

    static func mesh(_ cp: ControlPlane) -> HTTPResponse {
        let s = cp.policy.snapshot
        var r = HTTPResponse.json(JSONValue.object([
            ("version", .int(s.version)), ("hash", .string(s.hash)),
            ("files", .array(s.files.map { .object([("name", .string($0.name)), ("content", .string($0.content))]) })),
            ("mesh", s.policy?.json() ?? .null),
        ]).text + "\n")
        r.headers.add("ETag", "\"\(s.version)\"")
        return r
    }

    static func apply(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        guard let match = req.head.headers["If-Match"] else {
            return .error(428, code: "policy.if-match-required", reason: "send If-Match: \"<version>\" (the version your change is based on)")
        }
        guard let base = Int(match.trimming("\" ")) else {
            return .error(400, code: "policy.bad-if-match", reason: "If-Match must be a version number")
        }
        let (snap, diff) = try cp.policy.apply(try files(req), ifMatch: base, actor: "operator", now: cp.clock.wallSeconds())
        cp.distribution.wakeAll()
        var r = HTTPResponse.json(JSONValue.object([("version", .int(snap.version)), ("hash", .string(snap.hash)),
                                                    ("diff", .array(diff.map { .string($0) }))]).text + "\n")
        r.headers.add("ETag", "\"\(snap.version)\"")
        return r
    }

    /// One section of the applied mesh (`services`, `segments` or `rules`), with the version as ETag.
    static func section(_ cp: ControlPlane, _ name: String) -> HTTPResponse {
        let s = cp.policy.snapshot
        var r = HTTPResponse.json(JSONValue.object([("version", .int(s.version)),
                                                    (name, s.policy?.json()[name] ?? .array([]))]).text + "\n")
        r.headers.add("ETag", "\"\(s.version)\"")
        return r
    }

    /// Replaces one section (body `{"<section>": [...]}`), keeping the rest of the applied mesh; the result is
    /// validated whole and stored as one document, with the same If-Match, audit and distribution as a full apply.
    static func replaceSection(_ cp: ControlPlane, _ req: HTTPRequest, _ name: String) throws -> HTTPResponse {
        guard let current = cp.policy.snapshot.policy else {
            return .error(409, code: "policy.none", reason: "apply a whole mesh first (PUT /v1/mesh)")
        }
        let body = try StrictJSON.parse(req.body)
        guard let items = body[name], items.arrayValue != nil else {
            return .error(400, code: "policy.bad-request", reason: "the body needs \"\(name)\": [...]")
        }
        guard case .object(var members) = current.json() else { return .error(500, code: "internal", reason: "mesh is not an object") }
        members = members.map { $0.0 == name ? ($0.0, items) : $0 }
        let proxy = HTTPRequest(head: req.head, body: Array(JSONValue.object([("files", .array([
            .object([("name", .string("mesh.json")), ("content", .string(JSONValue.object(members).text))])]))]).text.utf8),
                            peer: req.peer, peerIdentity: req.peerIdentity)
        return try apply(cp, proxy)
    }

    static func check(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let q = req.head.query
        guard let fromText = q["from"], let toText = q["to"], let port = q["port"].flatMap(Int.init) else {
            return .error(400, code: "check.bad-query", reason: "use ?from=ns/name&to=ns/name&port=N")
        }
        guard let compiled = cp.policy.snapshot.compiled else {
            return .error(404, code: "policy.none", reason: "no mesh configuration has been applied yet")
        }
        let to = try ServiceKey(parsing: toText)
        let now = cp.clock.wallSeconds()
        let from = fromText.hasPrefix("spiffe://")
            ? try SPIFFEID.workload(fromText) : try compiled.policy.identity(of: try ServiceKey(parsing: fromText))
        let explanation = try compiled.explain(ConnectionFacts(peer: from, destination: to, port: port, now: now))
        return .json(JSONValue.object([("version", .int(compiled.version)), ("explanation", explanation.json())]).text + "\n")
    }

    static func sidecars(_ cp: ControlPlane) -> HTTPResponse {
        let current = cp.policy.snapshot.version
        let now = cp.clock.wallSeconds()
        return .json(JSONValue.object([("version", .int(current)), ("sidecars", .array(cp.distribution.sidecars.map { s in
            .object([("identity", .string(s.identity)), ("appliedVersion", .int(s.appliedVersion)),
                     ("lastSeen", .int(Int(s.lastSeen))), ("secondsAgo", .int(Int(now - s.lastSeen))),
                     ("state", .string(s.appliedVersion == current && now - s.lastSeen < 90 ? "in-sync" : "stale"))])
        }))]).text + "\n")
    }
}
