import MeshTestSupport
import MeshCore
import MeshJWT
import Testing

@Suite struct VerifiedTokenCacheTests {
    static let now: Double = 1_800_000_000
    let m = TokenMinter.shared

    func token(sub: String, exp: Double = now + 300) throws -> String {
        try m.token(header: #"{"alg":"EdDSA","kid":"ed1"}"#,
                    claims: #"{"iss":"i","aud":"a","sub":"\#(sub)","exp":\#(Int(exp))}"#, signer: "ed.pem")
    }

    @Test func hitsAreRecheckedAndTheBoundHolds() throws {
        let issuer = try Issuer(issuer: "i", audiences: ["a"], keys: [m.key("ed.pem", kid: "ed1")], allowedAlgorithms: [.edDSA])
        var cache = VerifiedTokenCache(capacity: 2)
        let t1 = try token(sub: "u1", exp: Self.now + 10)
        #expect(try cache.verify(t1, issuer: issuer, now: Self.now).get().subject == "u1")
        #expect(try cache.verify(t1, issuer: issuer, now: Self.now + 1).get().subject == "u1")
        // A cached token still expires.
        #expect(throws: MeshError.self) { try cache.verify(t1, issuer: issuer, now: Self.now + 71).get() }
        #expect((try? cache.verify(t1, issuer: issuer, now: Self.now + 71).get()) == nil)
        for sub in ["u2", "u3", "u4"] { _ = try cache.verify(token(sub: sub), issuer: issuer, now: Self.now).get() }
        #expect(cache.count == 2)
        // Keys rotated: the same kid now names another key object; the cached entry must not be trusted.
        let rotated = try Issuer(issuer: "i", audiences: ["a"], keys: [m.key("ed.pem", kid: "ed1")], allowedAlgorithms: [.edDSA])
        let t4 = try token(sub: "u4")
        #expect(try cache.verify(t4, issuer: rotated, now: Self.now).get().subject == "u4")  // verified again, same key bytes
        let otherKey = try Issuer(issuer: "i", audiences: ["a"], keys: [m.key("ec.pem", kid: "ed1")], allowedAlgorithms: [.edDSA, .es256])
        switch cache.verify(t4, issuer: otherKey, now: Self.now) {
        case .success: Issue.record("a token cached under a rotated-away key was accepted")
        case .failure(let e): #expect(e.code == "jwt.alg-not-allowed")
        }
        let narrowed = try Issuer(issuer: "i", audiences: ["b"], keys: [m.key("ed.pem", kid: "ed1")], allowedAlgorithms: [.edDSA])
        switch cache.verify(t4, issuer: narrowed, now: Self.now) {
        case .success: Issue.record("a cached token passed an audience it does not name")
        case .failure(let e): #expect(e.code == "jwt.wrong-audience")
        }
    }
}
