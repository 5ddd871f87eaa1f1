#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP1
import MeshJWT
import MeshNet
import MeshPolicy

/// `meshctl check --from A --to B --port P --method POST --path /v1/payments [--header 'x-tenant: acme']
/// [--jwt FILE | --claims '{"scope": "payments:write"}' [--issuer ISS]] [-f DIR]`: both layers, rule by rule.
/// Layer 4 is what the receiving sidecar decides at the handshake (identity and port); layer 7 is what it
/// decides for this request (method, normalised path, headers, token). The mesh is the applied one (`GET
/// /v1/mesh`), or the folder given with `-f` (offline, no control plane). `--jwt` verifies the token with
/// `MeshJWT` against the mesh's issuers at the current time; `--claims` stands for a token that verified.
/// Exit 0 when the request is allowed, 1 when refused (also when the path itself is refused).
enum CheckRequestCommand {
    /// True when the options ask for a request-level check.
    static func wanted(_ o: Options) -> Bool {
        ["method", "path", "jwt", "claims", "header"].contains { o.value($0) != nil } || o.value("f") != nil
    }

    static func run(_ c: ControlClient?, _ o: Options) throws -> Int32 {
        guard let from = o.value("from"), let to = o.value("to"), let portText = o.value("port"),
              let port = Int(portText), (1...65535).contains(port) else {
            throw UsageError("check needs --from NS/NAME (or a SPIFFE ID) --to NS/NAME --port N")
        }
        let files: [(name: String, content: String)]
        var version = 0
        var quarantined: [String] = []
        if let dir = o.value("f") {
            files = try PolicyCommands.readMesh(dir)
        } else if let c {
            let r = try c.call("GET", "/v1/mesh")
            version = r["version"]?.intValue ?? 0
            files = (r["files"]?.arrayValue ?? []).map { ($0["name"]?.stringValue ?? "", $0["content"]?.stringValue ?? "") }
            let l4 = try c.call("GET", "/v1/check?from=\(PolicyCommands.percent(from))&to=\(PolicyCommands.percent(to))&port=\(port)")
            quarantined = (l4["quarantined"]?.arrayValue ?? []).compactMap { $0["identity"]?.stringValue }
        } else {
            throw UsageError("check needs a control plane or -f DIR")
        }
        let policy = try MeshPolicy.load(files: files.map { ($0.name, Array($0.content.utf8)) })
        let compiled = policy.compile(version: version)
        let peer = from.hasPrefix("spiffe://") ? try SPIFFEID(parsing: from) : try policy.identity(of: policy.resolveService(from))
        let destination = try policy.resolveService(to)
        let now = Double(time(nil))
        let connection = ConnectionFacts(peer: peer, destination: destination, port: port, now: now)
        let l4 = try compiled.explain(connection)
        let method = o.value("method") ?? "GET"
        let rawPath = o.value("path") ?? "/"
        let path: String
        do {
            path = try PathNormalizer.normalize(rawPath).path
        } catch {
            if o.json {
                MeshctlCommand.out(JSONValue.object([("connection", l4.json()), ("path", .object([("refused", .string(error.code)), ("reason", .string(error.reason))]))]).text)
            } else {
                MeshctlCommand.out("REFUSED: the path \(rawPath.debugDescription) is refused before any rule (\(error.status) \(error.code): \(error.reason))")
            }
            return 1
        }
        var headers: [RequestFacts.Header] = []
        if let h = o.value("header") {
            guard let colon = h.firstIndex(of: ":") else { throw UsageError("--header takes 'name: value'") }
            headers.append(.init(name: h[..<colon].lowercased(), value: h[h.index(after: colon)...].trimmingSpaces))
        }
        let token = try evidence(o, policy: policy, now: now)
        let request = RequestFacts(connection: connection, method: method, path: path, headers: headers, token: token)
        let l7 = try compiled.explain(request)
        let allowed = l7.decision.enforced.isAllowed && quarantined.isEmpty
        if o.json {
            MeshctlCommand.out(JSONValue.object([("version", .int(version)), ("quarantined", .array(quarantined.map { .string($0) })),
                                                 ("token", tokenJSON(token)), ("connection", l4.json()), ("request", l7.json())]).text)
            return allowed ? 0 : 1
        }
        for q in quarantined { MeshctlCommand.out("DENIED: \(q) is quarantined: every sidecar denies it above every rule; the rules alone would say:") }
        MeshctlCommand.out("layer 4 (connection, at the handshake): \(l4.decision.enforced.isAllowed ? "ALLOWED" : "DENIED"): \(l4.summary)")
        MeshctlCommand.out(PolicyCommands.ruleTable(l4))
        MeshctlCommand.out("token: \(tokenText(token, policy: policy))")
        MeshctlCommand.out("layer 7 (request): \(allowed ? "ALLOWED" : "DENIED"): \(l7.summary)")
        MeshctlCommand.out(PolicyCommands.ruleTable(l7))
        return allowed ? 0 : 1
    }

    /// `--jwt FILE`: verified with MeshJWT against the issuer its `iss` names; `--claims JSON`: a valid token with
    /// these claims from `--issuer` (default: its `iss`, else the mesh's only issuer).
    static func evidence(_ o: Options, policy: MeshPolicy, now: Double) throws -> TokenEvidence {
        if let file = o.value("jwt") {
            let text = String(decoding: try FileIO.readAll(file, limit: 64 * 1024).get(), as: UTF8.self).trimmingSpaces
            return verify(text, policy: policy, now: now)
        }
        guard let claimsText = o.value("claims") else { return .absent }
        let claims = try StrictJSON.parse(Array(claimsText.utf8))
        guard case .object = claims else { throw UsageError("--claims takes a JSON object") }
        let issuer = o.value("issuer") ?? claims["iss"]?.stringValue ?? (policy.issuers.count == 1 ? policy.issuers[0].issuer : nil)
        guard let issuer else { throw UsageError("--claims needs --issuer (or an iss claim) when the mesh has several issuers") }
        return .valid(issuer: issuer, subject: claims["sub"]?.stringValue, claims: claims)
    }

    static func verify(_ token: String, policy: MeshPolicy, now: Double) -> TokenEvidence {
        do throws(MeshError) {
            let jws = try CompactJWS.parse(Array(token.utf8))
            guard let payload = Base64URL.decode(jws.payloadSegment), let iss = (try? StrictJSON.parse(payload))?["iss"]?.stringValue else {
                throw MeshError(.jwtMalformed, "the payload has no iss")
            }
            guard let declared = policy.issuers.first(where: { $0.issuer == iss }) else {
                throw MeshError(.jwtWrongIssuer, "\(iss) is not an issuer of the mesh")
            }
            switch JWTVerifier.verify(token, issuer: try IssuerKeyCheck.build(declared), now: now) {
            case .success(let v): return .valid(issuer: iss, subject: v.subject, claims: v.claims)
            case .failure(let e): throw e
            }
        } catch {
            return .invalid(code: error.code, reason: error.reason)
        }
    }

    /// What the sidecar learns of the token, and whether the app would get it (`forwardToken`) or its subject.
    static func tokenText(_ t: TokenEvidence, policy: MeshPolicy) -> String {
        switch t {
        case .absent: "none"
        case .invalid(let code, let reason): "INVALID (\(code): \(reason))"
        case .valid(let issuer, let subject, _):
            "valid (issuer \(issuer), subject \(subject ?? "-")); the app receives "
                + (policy.issuers.first { $0.issuer == issuer }?.forwardToken == true ? "the token" : "its subject, not the token")
        }
    }

    static func tokenJSON(_ t: TokenEvidence) -> JSONValue {
        switch t {
        case .absent: .object([("state", .string("absent"))])
        case .invalid(let code, let reason): .object([("state", .string("invalid")), ("code", .string(code)), ("reason", .string(reason))])
        case .valid(let issuer, let subject, _):
            .object([("state", .string("valid")), ("issuer", .string(issuer)), ("subject", .optional(subject))])
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }.reversed())
    }
}

extension CheckRequestCommand {
    /// `check -f DIR`: no control plane; errors as `meshctl validate` reports them.
    static func offline(_ o: Options) -> Int32 {
        do {
            return try run(nil, o)
        } catch let e as UsageError {
            MeshctlCommand.err("meshctl: \(e.description)")
            return 64
        } catch let e as MeshError {
            MeshctlCommand.err("meshctl check: \(e.code): \(e.reason)")
            return e.kind == .unreadable ? 66 : 64
        } catch {
            MeshctlCommand.err("meshctl check: \(error)")
            return 64
        }
    }
}
