import MeshAPI
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
/// | `GET /v1/slice?version=N&epoch=E&revoked=R&endpoints=P&wait=S` | sidecar (mTLS, valid, not revoked) | its own slice with the deny list and its destinations' endpoints, signed, at once unless (E, N) is what is in force, R the deny list in force and no destination's endpoints changed after P, else long poll (`wait` s, 1…30, default 30, then 304); (E, N) is also its status report |
/// | `GET /v1/sidecars` | operator | each sidecar's applied version, last seen, in sync or stale |
enum PolicyAPI {
    static func routes(_ r: APIRoutes, loop: EventLoop) -> [APIRoutes.Route] {
        let cp = r.cp
        return [
            r.adminOnLoop("GET", "/v1/mesh") { _ in mesh(cp.policy) },
            r.adminBlocking("PUT", "/v1/mesh") { req in
                try changed(cp.applyPolicy(try files(req), ifMatch: try ifMatch(req), actor: "operator"))
            },
            r.adminOnLoop("POST", "/v1/mesh/validate") { req in
                let v = try cp.validatePolicy(try files(req))
                return .json(.object([("valid", .bool(true)), ("baseVersion", .int(v.baseVersion)),
                                      ("diff", .array(v.diff.map { .string($0) }))]))
            },
        ] + ControlPlane.policySections.sorted().flatMap { name in [
            r.adminOnLoop("GET", "/v1/mesh/\(name)") { _ in section(cp.policy, name) },
            r.adminBlocking("PUT", "/v1/mesh/\(name)") { req in
                let body = try StrictJSON.parse(req.body)
                guard let items = body[name] else { throw MeshError(.policyBadRequest, "the body needs \"\(name)\": [...]") }
                return try changed(cp.replaceSection(name, with: items, ifMatch: try ifMatch(req), actor: "operator"))
            },
        ] } + [
            r.adminOnLoop("GET", "/v1/check") { req in try check(cp, req) },
            ("GET", "/v1/slice", slice(cp, loop: loop)),
            r.adminOnLoop("GET", "/v1/sidecars") { _ in sidecars(cp) },
        ]
    }

    /// The sidecar's long poll: parked on `loop`, answered when the mesh changes or the wait is over.
    static func slice(_ cp: ControlPlane, loop: EventLoop) -> HTTPHandler {
        { req, respond in
            let id: SPIFFEID
            do { id = try ControlAPI.requireWorkload(cp, req, route: "slice") } catch let e as MeshError {
                respond(.error(e))
                return
            } catch {
                respond(.error(MeshError(.internalFailure, "\(error)")))
                return
            }
            guard let service = serviceKey(id) else {
                respond(.error(MeshError(.authSidecarRequired, "present your workload certificate (mTLS)")))
                return
            }
            let wait: Int
            do throws(MeshError) { wait = try waitSeconds(req) } catch {
                respond(.error(error))
                return
            }
            let version = Int(req.head.query["version"] ?? "-1") ?? -1
            let epoch = req.head.query["epoch"]
            // The version a sidecar polls from is the one it has applied: every poll is also its status report.
            if version >= 0 { cp.distribution.report(identity: id.description, version: version, epoch: epoch) }
            let revoked = req.head.query["revoked"].flatMap { Int($0) }
            let endpoints = req.head.query["endpoints"].flatMap { Int($0) }
            cp.distribution.endpoints.touch(serial: req.peerSerial, now: cp.now())
            let caller = PolicyDistribution.Caller(identity: id, serial: req.peerSerial ?? "", notBefore: req.peerNotBefore ?? 0)
            cp.distribution.longPoll(service: service, after: version, epoch: epoch, revoked: revoked, endpoints: endpoints,
                                     caller: caller, waitSeconds: wait, loop: loop, abandonment: req.abandonment) {
                respond(answer($0, cp))
            }
        }
    }

    /// `wait=S`: how long an unchanged poll is parked, 1…30 s (default 30). A sidecar on a shared keep-alive
    /// connection asks for less, so its poll never holds the connection long.
    static func waitSeconds(_ req: HTTPRequest) throws(MeshError) -> Int {
        guard let text = req.head.query["wait"] else { return PolicyDistribution.waitSeconds }
        guard let s = Int(text), (1...SliceAnswer.maxWaitSeconds).contains(s) else {
            throw MeshError(.policyBadWait, "wait must be an integer number of seconds in 1...\(SliceAnswer.maxWaitSeconds)")
        }
        return s
    }

    /// `spiffe://td/ns/<ns>/sa/<name>` → `ns/name`.
    static func serviceKey(_ id: SPIFFEID) -> ServiceKey? {
        let parts = id.path.split(separator: "/")
        guard parts.count == 4, parts[0] == "ns", parts[2] == "sa" else { return nil }
        return ServiceKey(namespace: String(parts[1]), name: String(parts[3]))
    }

    /// `If-Match: "<version>"`: required (428), a number (400).
    static func ifMatch(_ req: HTTPRequest) throws -> Int {
        guard let match = req.head.headers["If-Match"] else {
            throw MeshError(.policyIfMatchRequired, "send If-Match: \"<version>\" (the version your change is based on)")
        }
        guard let base = Int(match.trimming("\" ")) else {
            throw MeshError(.policyBadIfMatch, "If-Match must be a version number")
        }
        return base
    }

    static func files(_ req: HTTPRequest) throws -> [PolicyFile] {
        let doc = try StrictJSON.parse(req.body)
        guard let list = doc["files"]?.arrayValue else {
            throw MeshError(.policyBadRequest, "the body needs \"files\": [{\"name\": …, \"content\": …}]")
        }
        return try list.map {
            guard let n = $0["name"]?.stringValue, let c = $0["content"]?.stringValue else {
                throw MeshError(.policyBadRequest, "every file needs a name and a content")
            }
            return PolicyFile(name: n, content: c)
        }
    }

    static func mesh(_ s: PolicySnapshot) -> HTTPResponse {
        .json(.object([
            ("version", .int(s.version)), ("hash", .string(s.hash)),
            ("files", .array(s.files.map { .object([("name", .string($0.name)), ("content", .string($0.content))]) })),
            ("mesh", s.policy?.json() ?? .null),
        ]), etag: s.version)
    }

    static func changed(_ c: ControlPlane.PolicyChange) -> HTTPResponse {
        .json(.object([("version", .int(c.snapshot.version)), ("hash", .string(c.snapshot.hash)),
                       ("diff", .array(c.diff.map { .string($0) }))]), etag: c.snapshot.version)
    }

    /// One section of the applied mesh (`services`, `segments` or `rules`), with the version as ETag.
    static func section(_ s: PolicySnapshot, _ name: String) -> HTTPResponse {
        .json(.object([("version", .int(s.version)), (name, s.policy?.json()[name] ?? .array([]))]), etag: s.version)
    }

    /// A slice goes out signed (`SliceSigner`, once per version and service), with the store's epoch, as one document.
    static func answer(_ a: PolicyDistribution.Answer, _ cp: ControlPlane) -> HTTPResponse {
        switch a {
        case .slice(let slice):
            ControlAPI.guarded {
                HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "application/json")]),
                             body: try cp.sliceSigner.signedAnswerBytes(slice, epoch: cp.distribution.epoch))
            }
        case .unchanged: HTTPResponse(status: 304)
        case .refused(let e): .error(e)
        }
    }

    static func check(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let q = req.head.query
        guard let fromText = q["from"], let toText = q["to"], let port = q["port"].flatMap(Int.init) else {
            throw MeshError(.checkBadQuery, "use ?from=ns/name&to=ns/name&port=N")
        }
        guard let compiled = cp.policy.compiled else {
            throw MeshError(.policyNone, "no mesh configuration has been applied yet")
        }
        let to = try ServiceKey(parsing: toText)
        let now = cp.now()
        let from = fromText.hasPrefix("spiffe://")
            ? try SPIFFEID.workload(fromText) : try compiled.policy.identity(of: try ServiceKey(parsing: fromText))
        let explanation = try compiled.explain(ConnectionFacts(peer: from, destination: to, port: port, now: now))
        // A quarantine overrides every rule: named apart, so the rules' verdict stays what the rules say.
        let toID = try? compiled.policy.identity(of: to)
        let quarantined = cp.quarantines(now: now).filter { $0.identity == from || $0.identity == toID }
        return .json(.object([("version", .int(compiled.version)), ("explanation", explanation.json()),
                              ("quarantined", .array(quarantined.map { QuarantineAPI.record($0).json }))]))
    }

    static func sidecars(_ cp: ControlPlane) -> HTTPResponse {
        let now = cp.now()
        return .json(SidecarStatusList(version: cp.policy.version, sidecars: cp.distribution.sidecars.map { s in
            SidecarStatusList.Row(identity: s.identity, appliedVersion: s.appliedVersion, lastSeen: Int(s.lastSeen),
                                  secondsAgo: Int(now - s.lastSeen), state: s.inSync ? .inSync : .stale)
        }).answerText)
    }
}
