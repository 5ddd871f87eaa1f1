import MeshTestSupport
import Foundation
import MeshCore
import MeshJWT
import MeshTLS
import Testing

/// The issue-13 attack matrix against tokens minted by the `openssl` command line.
@Suite struct JWTVerifierTests {
    static let now: Double = 1_800_000_000
    let m = TokenMinter.shared

    func issuer(skew: Double = 60) throws -> Issuer {
        try Issuer(issuer: "https://idp.example", audiences: ["payments", "orders"],
                   keys: [m.key("ec.pem", kid: "ec1"), m.key("rsa.pem", kid: "rsa1"), m.key("ed.pem", kid: "ed1")],
                   allowedAlgorithms: [.es256, .rs256, .edDSA], clockSkew: skew)
    }

    func claims(iss: String = "https://idp.example", aud: String = #""payments""#, exp: Double = now + 300,
                extra: String = "") -> String {
        #"{"iss":"\#(iss)","aud":\#(aud),"sub":"alice","exp":\#(Int(exp)),"scope":"payments:write"\#(extra)}"#
    }

    func expectFailure(_ token: String, _ code: String, now: Double = now, issuer: Issuer? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = JWTVerifier.verify(token, issuer: try issuer ?? self.issuer(), now: now)
        switch result {
        case .success: Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
        case .failure(let e): #expect(e.code == code, "\(e.reason)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [("ES256", "ec1", "ec.pem"), ("RS256", "rsa1", "rsa.pem"), ("EdDSA", "ed1", "ed.pem")])
    func validTokenVerifies(alg: String, kid: String, key: String) throws {
        let token = try m.token(header: #"{"alg":"\#(alg)","kid":"\#(kid)","typ":"JWT"}"#, claims: claims(), signer: key)
        let verified = try JWTVerifier.verify(token, issuer: issuer(), now: Self.now).get()
        #expect(verified.algorithm.rawValue == alg)
        #expect(verified.kid == kid)
        #expect(verified.subject == "alice")
        #expect(verified.expiresAt == Self.now + 300)
        #expect(verified.claims["scope"] == .string("payments:write"))
    }

    @Test func algNoneIsRefused() throws {
        let token = try m.token(header: #"{"alg":"none","kid":"ec1"}"#, claims: claims(), signer: nil)
        try expectFailure(token, "jwt.alg-not-allowed")
    }

    @Test func hs256SignedWithThePublicKeyIsRefused() throws {
        let header = #"{"alg":"HS256","kid":"ec1"}"#
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims().utf8))
        let mac = try m.hmac(input, key: m.publicDER("ec.pem"))
        try expectFailure(input + "." + Base64URL.encode(mac), "jwt.alg-not-allowed")
    }

    @Test func anotherKeyUnderAKnownKidIsRefused() throws {
        let token = try m.token(header: #"{"alg":"ES256","kid":"ec1"}"#, claims: claims(), signer: "ec-other.pem")
        try expectFailure(token, "jwt.bad-signature")
    }

    @Test(arguments: [("ES256", "ec1", "ec.pem"), ("RS256", "rsa1", "rsa.pem"), ("EdDSA", "ed1", "ed.pem")])
    func tamperedPayloadIsRefused(alg: String, kid: String, key: String) throws {
        let token = try m.token(header: #"{"alg":"\#(alg)","kid":"\#(kid)"}"#, claims: claims(), signer: key)
        let parts = token.split(separator: ".")
        let forged = Base64URL.encode(Array(claims(extra: #","admin":true"#).utf8))
        try expectFailure("\(parts[0]).\(forged).\(parts[2])", "jwt.bad-signature")
    }

    @Test func derEncodedES256SignatureIsRefused() throws {
        let token = try m.token(header: #"{"alg":"ES256","kid":"ec1"}"#, claims: claims(), signer: "ec.pem", derECDSA: true)
        try expectFailure(token, "jwt.bad-signature")
    }

    @Test func algMustFitTheKeyKidSelects() throws {
        // An RS256 token naming the EC key's kid: refused before any signature work.
        let token = try m.token(header: #"{"alg":"RS256","kid":"ec1"}"#, claims: claims(), signer: "rsa.pem")
        try expectFailure(token, "jwt.alg-not-allowed")
        // An algorithm the issuer does not allow, even with the right key.
        let narrow = try Issuer(issuer: "https://idp.example", audiences: ["payments"], keys: [m.key("rsa.pem", kid: "rsa1")],
                                allowedAlgorithms: [.es256])
        let rs = try m.token(header: #"{"alg":"RS256","kid":"rsa1"}"#, claims: claims(), signer: "rsa.pem")
        try expectFailure(rs, "jwt.alg-not-allowed", issuer: narrow)
    }

    @Test func timeClaimsHonourTheSkew() throws {
        let h = #"{"alg":"EdDSA","kid":"ed1"}"#
        let expired = try m.token(header: h, claims: claims(exp: Self.now - 61), signer: "ed.pem")
        try expectFailure(expired, "jwt.expired")
        let withinSkew = try m.token(header: h, claims: claims(exp: Self.now - 59), signer: "ed.pem")
        #expect(throws: Never.self) { try JWTVerifier.verify(withinSkew, issuer: issuer(), now: Self.now).get() }
        let exactlyAtEdge = try m.token(header: h, claims: claims(exp: Self.now - 60), signer: "ed.pem")
        try expectFailure(exactlyAtEdge, "jwt.expired")
        let early = try m.token(header: h, claims: claims(extra: #","nbf":\#(Int(Self.now) + 61)"#), signer: "ed.pem")
        try expectFailure(early, "jwt.not-yet-valid")
        let earlyWithinSkew = try m.token(header: h, claims: claims(extra: #","nbf":\#(Int(Self.now) + 60)"#), signer: "ed.pem")
        #expect(throws: Never.self) { try JWTVerifier.verify(earlyWithinSkew, issuer: issuer(), now: Self.now).get() }
        let issuedInFuture = try m.token(header: h, claims: claims(extra: #","iat":\#(Int(Self.now) + 120)"#), signer: "ed.pem")
        try expectFailure(issuedInFuture, "jwt.not-yet-valid")
        let noSkew = try issuer(skew: 0)
        try expectFailure(withinSkew, "jwt.expired", issuer: noSkew)
        let noExp = try m.token(header: h, claims: #"{"iss":"https://idp.example","aud":"payments"}"#, signer: "ed.pem")
        try expectFailure(noExp, "jwt.bad-claim")
        let textExp = try m.token(header: h, claims: #"{"iss":"https://idp.example","aud":"payments","exp":"soon"}"#, signer: "ed.pem")
        try expectFailure(textExp, "jwt.bad-claim")
    }

    @Test func issuerAndAudienceMustMatch() throws {
        let h = #"{"alg":"EdDSA","kid":"ed1"}"#
        try expectFailure(try m.token(header: h, claims: claims(iss: "https://evil.example"), signer: "ed.pem"), "jwt.wrong-issuer")
        try expectFailure(try m.token(header: h, claims: claims(aud: #""billing""#), signer: "ed.pem"), "jwt.wrong-audience")
        try expectFailure(try m.token(header: h, claims: claims(aud: #"["billing","x"]"#), signer: "ed.pem"), "jwt.wrong-audience")
        try expectFailure(try m.token(header: h, claims: claims(aud: "[]"), signer: "ed.pem"), "jwt.bad-claim")
        let oneOfMany = try m.token(header: h, claims: claims(aud: #"["billing","orders"]"#), signer: "ed.pem")
        #expect(throws: Never.self) { try JWTVerifier.verify(oneOfMany, issuer: issuer(), now: Self.now).get() }
    }

    @Test func kidMustNameAKeyOfTheIssuer() throws {
        try expectFailure(try m.token(header: #"{"alg":"ES256","kid":"gone"}"#, claims: claims(), signer: "ec.pem"), "jwt.unknown-kid")
        try expectFailure(try m.token(header: #"{"alg":"ES256"}"#, claims: claims(), signer: "ec.pem"), "jwt.unknown-kid")
        // Key rotated away: the same token under an issuer that no longer has ec1.
        let token = try m.token(header: #"{"alg":"ES256","kid":"ec1"}"#, claims: claims(), signer: "ec.pem")
        let rotated = try Issuer(issuer: "https://idp.example", audiences: ["payments"], keys: [m.key("ec-other.pem", kid: "ec2")],
                                 allowedAlgorithms: [.es256])
        try expectFailure(token, "jwt.unknown-kid", issuer: rotated)
    }

    @Test func shapeAndHeaderAreStrict() throws {
        let token = try m.token(header: #"{"alg":"EdDSA","kid":"ed1"}"#, claims: claims(), signer: "ed.pem")
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        try expectFailure("\(parts[0]).\(parts[1])", "jwt.malformed")  // truncated
        try expectFailure(token + ".x", "jwt.malformed")
        try expectFailure("\(parts[0])=.\(parts[1]).\(parts[2])", "jwt.malformed")  // padding
        try expectFailure(String(repeating: "a", count: 8 * 1024 + 1), "jwt.too-large")
        let crit = try m.token(header: #"{"alg":"EdDSA","kid":"ed1","crit":["exp"]}"#, claims: claims(), signer: "ed.pem")
        try expectFailure(crit, "jwt.unsupported-header")
        let jku = try m.token(header: #"{"alg":"EdDSA","kid":"ed1","jku":"https://evil/keys"}"#, claims: claims(), signer: "ed.pem")
        try expectFailure(jku, "jwt.unsupported-header")
        let dup = try m.token(header: #"{"alg":"EdDSA","alg":"none","kid":"ed1"}"#, claims: claims(), signer: "ed.pem")
        try expectFailure(dup, "jwt.malformed")
        let notObject = try m.token(header: #"{"alg":"EdDSA","kid":"ed1"}"#, claims: "[1]", signer: "ed.pem")
        try expectFailure(notObject, "jwt.malformed")
    }

    @Test func oversizedTokenCapIsExactly8KiB() throws {
        let h = #"{"alg":"EdDSA","kid":"ed1"}"#
        let base = try m.token(header: h, claims: claims(extra: #","pad":"""#), signer: "ed.pem").count
        // Grow the padding claim until the token is just over and just under the cap.
        func sized(_ target: Int) throws -> String {
            var pad = max(0, (target - base) * 3 / 4)
            while true {
                let t = try m.token(header: h, claims: claims(extra: #","pad":"\#(String(repeating: "x", count: pad))""#), signer: "ed.pem")
                if t.count >= target - 3 && t.count <= target { return t }
                pad += t.count < target ? 1 : -1
            }
        }
        let under = try sized(8 * 1024)
        #expect(under.count <= 8 * 1024)
        #expect(throws: Never.self) { try JWTVerifier.verify(under, issuer: issuer(), now: Self.now).get() }
        let over = try sized(8 * 1024 + 4)
        #expect(over.count > 8 * 1024)
        try expectFailure(over, "jwt.too-large")
    }

    /// Unit-level cost of one verification per algorithm (printed; bounded loosely so CI noise cannot flake it).
    @Test(arguments: [("ES256", "ec1", "ec.pem"), ("RS256", "rsa1", "rsa.pem"), ("EdDSA", "ed1", "ed.pem")])
    func verificationCost(alg: String, kid: String, key: String) throws {
        let token = try m.token(header: #"{"alg":"\#(alg)","kid":"\#(kid)"}"#, claims: claims(), signer: key)
        let iss = try issuer()
        let rounds = 300
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<rounds { _ = JWTVerifier.verify(token, issuer: iss, now: Self.now) }
        }
        let micros = Double(elapsed.components.attoseconds) / 1e12 / Double(rounds)
            + Double(elapsed.components.seconds) * 1e6 / Double(rounds)
        print("JWT verify \(alg): \(String(format: "%.1f", micros)) µs/token")
        #expect(micros < 5_000)
    }
}
