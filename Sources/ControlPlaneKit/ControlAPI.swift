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
/// | `GET /v1/audit?after=N&limit=M&verify=true` | operator | one page of the audit log (records with seq > N, M ≤ 10,000, default 1,000; `next` names the following page); `verify=true` checks the whole chain first |
enum ControlAPI {
    static func router(_ cp: ControlPlane, loop: EventLoop, work: BlockingWork) -> Router {
        let r = APIRoutes(cp: cp, work: work)
        return Router(PolicyAPI.routes(r, loop: loop) + RevocationAPI.routes(r) + QuarantineAPI.routes(r) + ThrottleAPI.routes(r)
                      + TelemetryAPI.routes(r) + AlertsAPI.routes(r) + EndpointAPI.routes(r) + StatusAPI.routes(r) + [
            r.onLoop("GET", "/healthz") { _ in .text("ok\n") },
            r.onLoop("GET", "/v1/bundle") { _ in bundle(cp) },
            r.issuing("POST", "/v1/identity") { req in try issue(cp, req) },
            r.adminBlocking("POST", "/v1/tokens") { req in try createToken(cp, req) },
            r.adminOnLoop("GET", "/v1/ca") { _ in .json(caStatus(cp)) },
            r.adminBlocking("POST", "/v1/ca/rotate") { _ in
                _ = try cp.rotate(actor: "operator")
                return .json(caStatus(cp))
            },
            r.adminBlocking("GET", "/v1/audit") { req in try auditPage(cp, req) },
        ])
    }

    /// A page of the audit log. Cost is one page (plus the end of each skipped segment), not the whole log;
    /// the whole chain is checked only when asked (`verify=true`).
    static func auditPage(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let q = req.head.query
        func number(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) throws -> Int {
            guard let text = q[name] else { return fallback }
            guard let n = Int(text), range.contains(n) else {
                throw MeshError(.apiBadValue, "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        let after = try number("after", 0, 0...Int.max)
        let limit = try number("limit", AuditLog.defaultPageSize, 1...AuditLog.maxPageSize)
        let verified = q["verify"] == "true" ? try cp.audit.verify() : nil
        let page = try cp.audit.page(after: after, limit: limit)
        return .json(.object([("verified", .bool(verified != nil)), ("count", .int(verified ?? cp.audit.count)),
                              ("records", .array(page.records)), ("next", page.next.map { .int($0) } ?? .null)]))
    }

    static func bundle(_ cp: ControlPlane) -> HTTPResponse {
        .json(BundleAnswer(trustDomain: cp.ca.trustDomain, bundlePEM: String(decoding: cp.ca.bundlePEM, as: UTF8.self),
                           controlPlane: cp.identity).answerText)
    }

    static func issue(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let body = try StrictJSON.parse(req.body)
        guard let csr = body["csr"]?.stringValue else {
            throw MeshError(.issueBadRequest, "the body needs a \"csr\" (PEM)")
        }
        // With a token we do not look at a presented certificate; without one, the certificate is the credential.
        let credential: ControlPlane.Credential
        if let token = body["token"]?.stringValue {
            credential = .joinToken(token)
        } else if let id = req.peerIdentity, let notBefore = req.peerNotBefore, let notAfter = req.peerNotAfter {
            credential = .certificate(id, notBefore: notBefore, notAfter: notAfter, serial: req.peerSerial ?? "")
        } else {
            credential = .none
        }
        let issued = try cp.issue(csrPEM: Array(csr.utf8), credential: credential)
        return .json(IdentityAnswer(spiffeID: issued.identity,
                                    certificateChainPEM: String(decoding: issued.chain.flatMap { $0.pem() }, as: UTF8.self),
                                    trustBundlePEM: String(decoding: issued.bundle.flatMap { $0.pem() }, as: UTF8.self),
                                    serial: issued.chain[0].serialHex, notAfter: Int(issued.chain[0].notAfter)).answerText)
    }

    static func createToken(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let body = try StrictJSON.parse(req.body)
        guard let service = body["service"]?.stringValue else {
            throw MeshError(.tokenBadRequest, "the body needs \"service\": \"namespace/name\"")
        }
        let parts = service.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw MeshError(.tokenBadService, "service must be namespace/name, not \(service.debugDescription)")
        }
        let id = try SPIFFEID.service(trustDomain: cp.ca.trustDomain, namespace: String(parts[0]), name: String(parts[1]))
        let ttl = body["ttlSeconds"]?.intValue.map(Double.init) ?? cp.settings.defaultTokenTTL
        let t = try cp.createToken(for: id, ttl: ttl, actor: "operator")
        return .json(TokenAnswer(token: t.secret, spiffeID: id, expiresAt: Int(t.expiresAt)).answerText, status: 201)
    }

    static func caStatus(_ cp: ControlPlane) -> JSONValue {
        let ca = cp.ca
        return CAStatus(trustDomain: ca.trustDomain.name, issuing: ca.issuing.id, certTTLSeconds: Int(cp.settings.certTTL),
                        rotationOverlapSeconds: Int(cp.settings.overlap), roots: ca.all.map { r in
            CAStatus.Root(id: r.id, phase: r.phase.rawValue, sha256: r.certificate.sha256Fingerprint, subject: r.certificate.commonName,
                          notAfter: Int(r.certificate.notAfter), nextChangeAt: r.nextAt.map { Int($0) })
        }).json
    }

    /// Every mTLS route except renewal: the caller's certificate must be valid now (the TLS context skips the time
    /// check so that renewal keeps its grace; `clockSkew` allowed on both ends) and not revoked.
    static func requireWorkload(_ cp: ControlPlane, _ req: HTTPRequest, route: String) throws -> SPIFFEID {
        guard let id = req.peerIdentity, let notBefore = req.peerNotBefore, let notAfter = req.peerNotAfter else {
            throw MeshError(.authSidecarRequired, "present your workload certificate (mTLS)")
        }
        let now = cp.now()
        if notBefore > now + cp.settings.clockSkew {
            throw MeshError(.authCertificateNotYetValid, "\(id): the presented certificate is not valid yet")
        }
        if notAfter + cp.settings.clockSkew < now {
            throw MeshError(.authCertificateExpired, "\(id): the presented certificate expired \(Int(now - notAfter)) s ago")
        }
        try cp.refuseIfRevoked(id, serial: req.peerSerial, notBefore: notBefore, route: route)
        try cp.refuseIfQuarantined(id, now: now)
        return id
    }

    /// Operator endpoints need a valid bearer admin token (`auth.required`, 401).
    static func requireAdmin(_ cp: ControlPlane, _ req: HTTPRequest) throws {
        let auth = req.head.headers["Authorization"]
        let bearer = auth.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard cp.isAdmin(bearer) else {
            throw MeshError(.authRequired, "this endpoint needs Authorization: Bearer <admin token>")
        }
    }

    /// Maps errors to answers by their kind: a request the caller got wrong is 4xx with our code; a failure of
    /// ours (or anything that is not a `MeshError`) is 500.
    static func guarded(_ body: () throws -> HTTPResponse) -> HTTPResponse {
        do {
            return try body()
        } catch let e as MeshError {
            return .error(e)
        } catch {
            return .error(MeshError(.internalFailure, "\(error)"))
        }
    }
}
