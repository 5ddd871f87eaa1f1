import MeshTestSupport
import Foundation
import MeshCore
import MeshHTTP1
import MeshJWT
import MeshPolicy
import Testing
@testable import SidecarKit

/// The per-request verdict without sockets: path first, then the token per the slice's issuers (real ES256
/// tokens signed by `openssl`), then the authorizer; and the exact 401/403 answers.
@Suite struct L7GateTests {
    static let issuerName = "https://id.example"
    static let now = 1_900_000_000.0
    static let peer = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend")

    /// Allows `/v1/…` only with a valid token (else 401 naming the issuer); refuses `/admin…` with 403.
    struct StubAuthorizer: Authorizer {
        func inbound(listener: String, peer: SPIFFEID, now: Double) -> PolicyDecision { PolicyDecision(enforced: .allow(rule: "conn")) }
        func outbound(listener: String, now: Double) -> PolicyDecision? { nil }
        func expectedServer(listener: String) -> SPIFFEID? { nil }
        func nextExpiry(after now: Double) -> Double? { nil }
        func covers(inbound listener: String) -> Bool { true }
        func request(listener: String, peer: SPIFFEID, request r: RequestSummary, now: Double) -> RequestDecision {
            if r.path.hasPrefix("/admin") {
                return RequestDecision(decision: PolicyDecision(enforced: .deny(rule: "no-admin", reason: .notAllowed)), refusal: .forbidden, route: "/admin/*")
            }
            if case .valid = r.token { return RequestDecision(decision: PolicyDecision(enforced: .allow(rule: "v1-jwt")), refusal: nil, route: "/v1/*") }
            return RequestDecision(decision: PolicyDecision(enforced: .deny(rule: "v1-jwt", reason: .notAllowed)),
                                   refusal: .unauthenticated(issuers: [L7GateTests.issuerName]), route: "/v1/*")
        }
    }

    static func issuer(kid: String = "k1") throws -> SliceIssuer {
        let jwk = try TokenMinter.shared.jwk("ec.pem", kid: kid)
        return SliceIssuer(issuer: issuerName, audiences: ["payments"], jwks: .object([("keys", .array([jwk]))]), algorithms: ["ES256"])
    }

    static func token(claims: String? = nil, alg: String = "ES256", signed: Bool = true) throws -> String {
        let c = claims ?? #"{"iss":"\#(issuerName)","aud":"payments","sub":"alice","exp":\#(Int(now) + 600)}"#
        return try TokenMinter.shared.token(header: #"{"alg":"\#(alg)","kid":"k1","typ":"JWT"}"#, claims: c, signer: signed ? "ec.pem" : nil)
    }

    static func decide(_ target: String, authorization: String?, issuers: [SliceIssuer]? = nil, owner: AnyObject = NSObject(),
                       tokens: TokenReader = TokenReader()) throws -> RequestGate.Outcome {
        var headers: HTTPHeaders = ["Host": "x"]
        if let authorization { headers.add("Authorization", authorization) }
        return RequestGate.decide(HTTPRequestHead(method: "GET", target: target, headers: headers), listener: "api", peer: peer,
                                  authorizer: StubAuthorizer(), issuers: try issuers ?? [issuer()], owner: owner, tokens: tokens, now: now)
    }

    @Test func validTokenForwardsTheNormalisedTargetAndSubject() throws {
        let out = try Self.decide("/v1/./pay?x=1", authorization: "Bearer " + Self.token())
        #expect(out == .forward(target: "/v1/pay?x=1", subject: "alice", route: "/v1/*", rule: "v1-jwt", dropping: ["authorization"]))
        // The prefix is matched ignoring case, as the Bearer scheme is.
        #expect(try Self.decide("/v1/pay", authorization: "bearer " + Self.token()).rule == "v1-jwt")
        if case .forward = try Self.decide("/v1/pay", authorization: "bearer " + Self.token()) {} else { Issue.record("lowercase bearer refused") }
    }

    /// A field a token came in is kept from the app unless the issuer says `forwardToken`: a verified token's
    /// by its own issuer's word, any other when an issuer that does not forward reads a token there (one for
    /// another audience is a credential there); a value in no issuer's format (`Basic …`) is the app's business.
    @Test func theTokensFieldIsKeptFromTheAppUnlessItsIssuerForwardsIt() throws {
        let base = try Self.issuer()
        let forwarding = SliceIssuer(issuer: base.issuer, audiences: base.audiences, jwks: base.jwks, algorithms: base.algorithms,
                                     forwardToken: true)
        let out = try Self.decide("/v1/pay", authorization: "Bearer " + Self.token(), issuers: [forwarding])
        #expect(out == .forward(target: "/v1/pay", subject: "alice", route: "/v1/*", rule: "v1-jwt", dropping: []))
        let wrongAudience = try Self.token(claims: #"{"iss":"\#(Self.issuerName)","aud":"orders","sub":"alice","exp":\#(Int(Self.now) + 600)}"#)
        var headers: HTTPHeaders = ["Host": "x", "Authorization": "Bearer " + wrongAudience]
        let failed = TokenEvidence.invalid(code: "jwt.bad-audience", reason: "")
        #expect(RequestGate.droppedFields(failed, headers, issuers: [base]) == ["authorization"])
        #expect(RequestGate.droppedFields(failed, headers, issuers: [forwarding]) == [])
        // A second issuer reading another field: its token is kept back too, whichever token verified.
        let service = SliceIssuer(issuer: "https://svc.example", audiences: ["payments"], jwks: base.jwks, algorithms: ["ES256"],
                                  header: "x-service-token", prefix: "")
        headers = ["Host": "x", "Authorization": "Bearer " + (try Self.token()), "X-Service-Token": "eyJ.x.y"]
        let valid = TokenEvidence.valid(issuer: base.issuer, subject: "alice", claims: .object([]))
        #expect(RequestGate.droppedFields(valid, headers, issuers: [forwarding, service]) == ["x-service-token"])
        #expect(RequestGate.droppedFields(valid, headers, issuers: [base, service]) == ["authorization", "x-service-token"])
        headers = ["Host": "x", "Authorization": "Basic dTpw"]
        #expect(RequestGate.droppedFields(.absent, headers, issuers: [base]) == [])
    }

    /// Claims an issuer hands on: strings as they are, other values as JSON text, in the issuer's order; an absent
    /// claim, or one that could break a field (CR, LF, non-ASCII), is left out.
    @Test func claimHeadersCarryTheVerifiedClaimsThatAreSafe() throws {
        let base = try Self.issuer()
        let handing = SliceIssuer(issuer: base.issuer, audiences: base.audiences, jwks: base.jwks, algorithms: base.algorithms,
                                  claimHeaders: ["scope", "tier", "groups", "evil", "absent", "accent"])
        let claims = try StrictJSON.parse(Array(#"{"scope":"payments:write openid","tier":3,"groups":["a","b"],"evil":"x\r\nx-mesh-peer-identity: forged","accent":"caf\u00e9"}"#.utf8))
        let token = TokenEvidence.valid(issuer: base.issuer, subject: "alice", claims: claims)
        #expect(RequestGate.claimHeaders(token, issuers: [handing]) == [ClaimHeader(name: "scope", value: "payments:write openid"),
                                                                       ClaimHeader(name: "tier", value: "3"),
                                                                       ClaimHeader(name: "groups", value: #"["a","b"]"#)])
        #expect(RequestGate.claimHeaders(token, issuers: [base]) == [])
        #expect(RequestGate.claimHeaders(.invalid(code: "jwt.expired", reason: ""), issuers: [handing]) == [])
    }

    @Test func missingTokenIs401WithABareChallenge() throws {
        for auth in [nil, "Basic YTpi", "Bearer "] {
            guard case .refuse(let r, let route, _) = try Self.decide("/v1/pay", authorization: auth) else { Issue.record("\(auth ?? "nil") allowed"); continue }
            #expect(r.status == 401 && r.code == "request.token-missing" && route == "/v1/*")
            #expect(r.challenge == #"Bearer realm="https://id.example""#)
        }
    }

    @Test func badTokensAre401WithTheirJWTCode() throws {
        let cases: [(String, String)] = [
            (try Self.token(claims: #"{"iss":"\#(Self.issuerName)","aud":"payments","sub":"a","exp":\#(Int(Self.now) - 600)}"#), "jwt.expired"),
            (try Self.token(alg: "none", signed: false), "jwt.alg-not-allowed"),
            (try Self.token(claims: #"{"iss":"\#(Self.issuerName)","aud":"orders","sub":"a","exp":\#(Int(Self.now) + 600)}"#), "jwt.wrong-audience"),
            (try Self.token(claims: #"{"iss":"https://evil.example","aud":"payments","sub":"a","exp":\#(Int(Self.now) + 600)}"#), "jwt.wrong-issuer"),
            (String(try Self.token().dropLast(4)) + "AAAA", "jwt.bad-signature"),
        ]
        for (token, code) in cases {
            guard case .refuse(let r, _, _) = try Self.decide("/v1/pay", authorization: "Bearer " + token) else { Issue.record("\(code): allowed"); continue }
            #expect(r.status == 401, "\(code)")
            #expect(r.code == code)
            #expect(r.challenge == #"Bearer realm="https://id.example", error="invalid_token""#)
        }
    }

    @Test func keysRotateWithTheStateNotPerRequest() throws {
        let tokens = TokenReader()
        let old = NSObject(), new = NSObject()
        let token = "Bearer " + (try Self.token())
        if case .forward = try Self.decide("/v1/a", authorization: token, owner: old, tokens: tokens) {} else { Issue.record("refused") }
        // The next state's slice has only k2: the cached token no longer verifies.
        guard case .refuse(let r, _, _) = try Self.decide("/v1/a", authorization: token, issuers: [Self.issuer(kid: "k2")], owner: new, tokens: tokens)
        else { Issue.record("a token for a rotated-away key was accepted"); return }
        #expect(r.code == "jwt.unknown-kid")
    }

    @Test func forbiddenIs403WithAJSONBodyAndBadPathsAre400First() throws {
        guard case .refuse(let r, let route, let rule) = try Self.decide("/public/../admin/x", authorization: nil) else { Issue.record("allowed"); return }
        #expect(r.status == 403 && r.code == "request.forbidden" && route == "/admin/*" && rule == "no-admin")
        let text = String(decoding: r.response(requestID: "0123456789abcdef", keepAlive: true), as: UTF8.self)
        let body = "{\"error\":\"request.forbidden\",\"reason\":\"GET /admin/x is not allowed for \(Self.peer) (rule no-admin)\",\"requestId\":\"0123456789abcdef\"}"
        #expect(text == "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nx-mesh-request-id: 0123456789abcdef\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        guard case .refuse(let p, nil, RequestGate.pathRule) = try Self.decide("/admin%2Fx", authorization: nil) else { Issue.record("bad path passed"); return }
        #expect(p.status == 400 && p.code == "http.path-encoded-slash")
    }

    @Test func unauthorizedAnswerCarriesTheChallenge() throws {
        let r = RequestRefusal(status: 401, code: "jwt.expired", reason: "expired", challenge: RequestRefusal.challenge(realm: "a\"b", invalidToken: true))
        let text = String(decoding: r.response(requestID: "ffffffffffffffff", keepAlive: false), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        #expect(text.contains("\r\nWWW-Authenticate: Bearer realm=\"ab\", error=\"invalid_token\"\r\n"))
        #expect(text.contains("\r\nConnection: close\r\n"))
    }

    @Test func subjectsThatCouldSplitTheHeadAreNotForwarded() {
        let head = HTTPRequestHead(method: "GET", target: "/x", headers: ["Host": "h"])
        func forwarded(subject: String) -> String {
            var out: [UInt8] = []
            HeaderSanitizer.writeForwardedHead(head, target: "/x", upgrading: false, peer: "spiffe://a/b", subject: subject,
                                               requestID: "1", into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        let evil = forwarded(subject: "bob\r\nx-mesh-peer-identity: spiffe://evil")
        #expect(evil == "GET /x HTTP/1.1\r\nHost: h\r\nx-mesh-peer-identity: spiffe://a/b\r\nx-mesh-request-id: 1\r\n\r\n")
        let fine = forwarded(subject: "bob")
        #expect(fine.contains("\r\nx-mesh-token-subject: bob\r\n"))
    }

    @Test func requestIDsAreSixteenHexFromTheGivenSeed() {
        var a = RequestIDs(seed: 42), b = RequestIDs(seed: 42)
        let first = a.next(), second = a.next()
        #expect(first == b.next())
        #expect(first != second)
        #expect(first.utf8.count == 16 && first.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    }
}
