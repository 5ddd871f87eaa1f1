import MeshTestSupport
import MeshCore
import MeshJWT
import MeshTLS
import Testing

@Suite struct JWKTests {
    let m = TokenMinter.shared

    func parse(_ text: String) throws -> JWK { try JWK.parse(StrictJSON.parse(Array(text.utf8))) }

    func expectBadKey(_ text: String, _ prefix: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try parse(text)
            Issue.record("expected jwt.bad-key", sourceLocation: sourceLocation)
        } catch let e as MeshError {
            #expect(e.code == "jwt.bad-key", sourceLocation: sourceLocation)
            #expect(e.reason.hasPrefix(prefix), "\(e.reason)", sourceLocation: sourceLocation)
        } catch { Issue.record("\(error)", sourceLocation: sourceLocation) }
    }

    @Test func threeKeyTypesParse() throws {
        #expect(try m.key("ec.pem", kid: "a").key.kind == .p256)
        #expect(try m.key("rsa.pem", kid: "b").key.kind == .rsa(bits: 2048))
        #expect(try m.key("ed.pem", kid: "c").key.kind == .ed25519)
        let withAlg = try JWK.parse(m.jwk("ec.pem", kid: "a", extra: #","alg":"ES256","use":"sig""#))
        #expect(withAlg.algorithm == .es256)
    }

    @Test func unusableKeysAreRefused() throws {
        #expect(throws: MeshError(.jwtBadKey, "kid r: RSA modulus of 1024 bits; 2048...8192 allowed")) {
            try JWK.parse(m.jwk("rsa1024.pem", kid: "r"))
        }
        let zeros = Base64URL.encode([UInt8](repeating: 0, count: 31) + [1])
        expectBadKey(#"{"kty":"EC","crv":"P-256","kid":"k","x":"\#(zeros)","y":"\#(zeros)"}"#, "kid k: not a public key")
        expectBadKey(#"{"kty":"EC","crv":"P-384","kid":"k","x":"AA","y":"AA"}"#, "kid k: EC keys must be crv P-256")
        expectBadKey(#"{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA"}"#, "kid k: x must be 32 bytes")
        expectBadKey(#"{"kty":"oct","kid":"k","k":"c2VjcmV0"}"#, "the JWK carries the private member \"k\"")
        expectBadKey(#"{"kty":"EC","kid":"k","d":"AA"}"#, "the JWK carries the private member \"d\"")
        expectBadKey(#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#, "missing \"kid\"")
        expectBadKey(#"{"kty":"RSA","kid":"k","n":"AQAB","e":"Ag"}"#, "kid k: e must be an odd exponent above 1")
        expectBadKey(#"{"kty":"EC","crv":"P-256","kid":"k","use":"enc","x":"AA","y":"AA"}"#, "kid k: \"use\" is enc")
        #expect(throws: MeshError(.jwtBadKey, "kid a: alg RS256 does not fit the key type")) {
            try JWK.parse(m.jwk("ec.pem", kid: "a", extra: #","alg":"RS256""#))
        }
    }

    @Test func setRefusesARepeatedKid() throws {
        let set = try StrictJSON.parse(Array(#"{"keys":[\#(m.jwk("ec.pem", kid: "a").text),\#(m.jwk("ed.pem", kid: "a").text)]}"#.utf8))
        #expect(throws: MeshError(.jwtBadKey, "kid a appears twice")) { try JWK.parseSet(set) }
    }

    @Test func issuerConfigurationIsValidated() throws {
        let k = try m.key("ec.pem", kid: "a")
        #expect(throws: MeshError(.jwtBadIssuer, "the issuer is empty")) {
            try Issuer(issuer: "", audiences: ["x"], keys: [k], allowedAlgorithms: [.es256])
        }
        #expect(throws: MeshError(.jwtBadIssuer, "i: name at least one non-empty audience")) {
            try Issuer(issuer: "i", audiences: [], keys: [k], allowedAlgorithms: [.es256])
        }
        #expect(throws: MeshError(.jwtBadIssuer, "i: clock skew 301.0 s is outside 0...300")) {
            try Issuer(issuer: "i", audiences: ["x"], keys: [k], allowedAlgorithms: [.es256], clockSkew: 301)
        }
        #expect(throws: MeshError(.jwtBadKey, "i: kid a appears twice")) {
            try Issuer(issuer: "i", audiences: ["x"], keys: [k, k], allowedAlgorithms: [.es256])
        }
        #expect(try Issuer(issuer: "i", audiences: ["x"], keys: [k], allowedAlgorithms: [.es256]).clockSkew == 60)
    }
}

@Suite struct Base64URLTests {
    @Test func roundTripsEveryLength() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 37 + 250) }
            #expect(Base64URL.decode(Array(Base64URL.encode(bytes).utf8)) == bytes)
        }
        #expect(Base64URL.encode(Array("\u{FB}\u{FF}".utf8)) == "w7vDvw")
    }

    @Test(arguments: ["QQ==", "QQ=", "a+b", "a/b", "a b", "A", "QR", "Q\n"])
    func refusesNonCanonicalText(_ text: String) {
        #expect(Base64URL.decode(Array(text.utf8)) == nil)
    }
}
