import MeshAPI
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshTLS
import MeshNet

/// The control plane's HTTPS API (default port 8443). Sidecars authenticate with a join token or their
/// current certificate (mTLS); operators with `Authorization: Bearer <admin token>`.
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `GET /healthz` | anyone | alive |
/// | `GET /v1/bundle` | anyone | the trust bundle (public by nature) |
/// | `POST /v1/identity` | sidecar | `{"csr": PEM, "token"?: secret}` → certificate chain, bundle, expiry |
/// | `POST /v1/tokens` | operator | `{"service": "ns/name", "ttlSeconds": N}` → a single-use join token |
/// | `GET /v1/ca` | operator | roots, their phase and expiry, which one issues |
/// | `POST /v1/ca/rotate` | operator | start a CA rotation |
/// | `GET /v1/audit` | operator | the audit log, with its chain verified |
enum ControlAPI {
    static func router(_ cp: ControlPlane, loop: EventLoop) -> Router {
        Router(PolicyAPI.routes(cp, loop: loop) + [
            ("GET", "/healthz", Router.sync { _ in .text("ok\n") }),
            ("GET", "/v1/bundle", Router.sync { _ in bundle(cp) }),
            ("POST", "/v1/identity", Router.sync { req in guarded { try issue(cp, req) } }),
            ("POST", "/v1/tokens", Router.sync { req in admin(cp, req) { try createToken(cp, req) } }),
            ("GET", "/v1/ca", Router.sync { req in admin(cp, req) { .json(caStatus(cp).text + "\n") } }),
            ("POST", "/v1/ca/rotate", Router.sync { req in admin(cp, req) {
                _ = try cp.rotate(actor: "operator")
                return .json(caStatus(cp).text + "\n")
            } }),
            ("GET", "/v1/audit", Router.sync { req in admin(cp, req) {
                let records = try cp.audit.records()
                let verified = try AuditLog.verify(try DurableFile.read(cp.audit.path, limit: 1 << 30))
                return .json(JSONValue.object([("verified", .bool(true)), ("count", .int(verified.count)),
                                               ("records", .array(records))]).text + "\n")
            } }),
        ])
    }

    static func bundle(_ cp: ControlPlane) -> HTTPResponse {
        .json(BundleAnswer(trustDomain: cp.ca.trustDomain, bundlePEM: String(decoding: cp.ca.bundlePEM, as: UTF8.self),
                           controlPlane: cp.identity).answerText)
    }

    static func issue(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let body = try StrictJSON.parse(req.body)
        guard let csr = body["csr"]?.stringValue else {
            return .error(400, code: "issue.bad-request", reason: "the body needs a \"csr\" (PEM)")
        }
        let token = body["token"]?.stringValue
        // With a token we do not look at a presented certificate; without one, the certificate is the credential,
        // valid now or expired less than the grace period ago.
        var peer: SPIFFEID?
        if token == nil, let id = req.peerIdentity, let notAfter = req.peerNotAfter, let notBefore = req.peerNotBefore {
            try cp.checkRenewalCredential(id, notBefore: notBefore, notAfter: notAfter)
            peer = id
        }
        let issued = try cp.issue(csrPEM: Array(csr.utf8), token: token, peer: peer)
        return .json(IdentityAnswer(spiffeID: issued.identity,
                                    certificateChainPEM: String(decoding: issued.chain.flatMap { $0.pem() }, as: UTF8.self),
                                    trustBundlePEM: String(decoding: issued.bundle.flatMap { $0.pem() }, as: UTF8.self),
                                    serial: issued.chain[0].serialHex, notAfter: Int(issued.chain[0].notAfter)).answerText)
    }

    static func createToken(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let body = try StrictJSON.parse(req.body)
        guard let service = body["service"]?.stringValue else {
            return .error(400, code: "token.bad-request", reason: "the body needs \"service\": \"namespace/name\"")
        }
        let parts = service.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return .error(400, code: "token.bad-service", reason: "service must be namespace/name, not \(service.debugDescription)")
        }
        let id = try SPIFFEID.service(trustDomain: cp.ca.trustDomain, namespace: String(parts[0]), name: String(parts[1]))
        let ttl = body["ttlSeconds"]?.intValue ?? 3600
        guard (1...30 * 86_400).contains(ttl) else {
            return .error(400, code: "token.bad-ttl", reason: "ttlSeconds must be 1...2592000")
        }
        let t = try cp.createToken(for: id, ttl: Double(ttl), actor: "operator")
        return .json(TokenAnswer(token: t.secret, spiffeID: id, expiresAt: Int(t.expiresAt)).answerText, status: 201)
    }

    static func caStatus(_ cp: ControlPlane) -> JSONValue {
        CAStatus(trustDomain: cp.ca.trustDomain.name, issuing: cp.ca.issuing.id, certTTLSeconds: Int(cp.settings.certTTL),
                 rotationOverlapSeconds: Int(cp.settings.overlap), roots: cp.ca.all.map { r in
            CAStatus.Root(id: r.id, phase: r.phase.rawValue, sha256: r.certificate.sha256Fingerprint, subject: r.certificate.commonName,
                          notAfter: Int(r.certificate.notAfter), nextChangeAt: r.nextAt.map { Int($0) })
        }).json
    }

    /// Operator endpoints: a valid bearer admin token, else 401.
    static func admin(_ cp: ControlPlane, _ req: HTTPRequest, _ body: () throws -> HTTPResponse) -> HTTPResponse {
        let auth = req.head.headers["Authorization"]
        let bearer = auth.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard cp.isAdmin(bearer) else {
            return .error(401, code: "auth.required", reason: "this endpoint needs Authorization: Bearer <admin token>")
        }
        return guarded(body)
    }

    /// Maps errors to answers: a request the caller got wrong is 4xx with our code; a failure of ours is 500.
    static func guarded(_ body: () throws -> HTTPResponse) -> HTTPResponse {
        do {
            return try body()
        } catch let e as MeshError {
            return .error(status(for: e.code), code: e.code, reason: e.reason)
        } catch {
            return .error(500, code: "internal", reason: "\(error)")
        }
    }

    static func status(for code: String) -> Int {
        if code.hasPrefix("token.used") || code.hasPrefix("token.expired") || code.hasPrefix("token.unknown") { return 403 }
        if code == "issue.unauthenticated" || code == "issue.certificate-expired" { return 401 }
        if code == "issue.rate-limited" { return 429 }
        if code == "ca.rotation-in-progress" || code == "policy.conflict" { return 409 }
        if code.hasPrefix("policy.") || code.hasPrefix("config.") || code.hasPrefix("spiffe.") { return 422 }
        if code.hasPrefix("store.") || code.hasPrefix("audit.") || code.hasPrefix("ca.") && code != "ca.rotation-in-progress"
            || ["tls.ca", "tls.key-encrypt", "tokens.random", "tokens.corrupt", "init.random"].contains(code) { return 500 }
        return 400
    }
}
