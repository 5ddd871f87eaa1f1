import MeshCore

/// A token that passed every check: its header choices and its claims as the parsed JSON object.
public struct VerifiedToken: Sendable, Equatable {
    public let algorithm: JWSAlgorithm
    public let kid: String
    /// The whole payload (a JSON object), for claim conditions (`scope`, `sub`, …).
    public let claims: JSONValue
    public let subject: String?
    /// `exp`, seconds since the epoch: a cache must not keep the token past it (plus skew).
    public let expiresAt: Double
}

/// Verifies an end-user JWT against one issuer, in an order that never trusts unauthenticated data further
/// than needed: size, shape and header; `alg` allowed and fitting the key `kid` selects; signature; only then
/// the payload and its claims. Each failure has its own stable code (see `ErrorCodes+JWT.swift`).
public enum JWTVerifier {
    /// Tokens longer than 8 KiB are refused before any decoding (a header line of a request is bounded too).
    public static let maxTokenBytes = 8 * 1024

    /// `now` is seconds since the epoch (time is passed in, never read here).
    public static func verify(_ token: String, issuer: Issuer, now: Double) -> Result<VerifiedToken, MeshError> {
        do throws(MeshError) { return .success(try check(Array(token.utf8), issuer: issuer, now: now)) } catch {
            return .failure(error)
        }
    }

    static func check(_ token: [UInt8], issuer: Issuer, now: Double) throws(MeshError) -> VerifiedToken {
        guard token.count <= maxTokenBytes else {
            throw MeshError(.jwtTooLarge, "the token is \(token.count) bytes; the limit is \(maxTokenBytes)")
        }
        let jws = try CompactJWS.parse(token)
        guard let alg = JWSAlgorithm(rawValue: jws.algorithm), issuer.allowedAlgorithms.contains(alg) else {
            throw MeshError(.jwtAlgNotAllowed, "alg \(jws.algorithm) is not allowed for \(issuer.issuer)")
        }
        guard let kid = jws.kid else { throw MeshError(.jwtUnknownKid, "the header has no kid") }
        guard let jwk = issuer.keys[kid] else { throw MeshError(.jwtUnknownKid, "\(issuer.issuer) has no key \(kid)") }
        guard alg.fits(jwk.key.kind), jwk.algorithm == nil || jwk.algorithm == alg else {
            throw MeshError(.jwtAlgNotAllowed, "alg \(alg.rawValue) does not fit key \(kid)")
        }
        var signature = jws.signature
        if alg == .es256 {
            guard let der = DER.ecdsaSignature(fromJOSE: signature) else {
                throw MeshError(.jwtBadSignature, "an ES256 signature is 64 bytes r‖s, not \(signature.count)")
            }
            signature = der
        }
        guard jwk.key.verifies(signature, over: Array(jws.signingInput)) else {
            throw MeshError(.jwtBadSignature, "the signature does not verify with key \(kid)")
        }
        guard let payloadBytes = Base64URL.decode(jws.payloadSegment) else {
            throw MeshError(.jwtMalformed, "the payload is not base64url")
        }
        let claims: JSONValue
        do { claims = try StrictJSON.parse(payloadBytes, limits: CompactJWS.jsonLimits) } catch {
            throw MeshError(.jwtMalformed, "payload: \(error.reason)")
        }
        guard case .object = claims else { throw MeshError(.jwtMalformed, "the payload is not a JSON object") }
        let expiresAt = try checkClaims(claims, issuer: issuer, now: now)
        var subject: String?
        if let sub = claims["sub"] {
            guard case .string(let s) = sub else { throw MeshError(.jwtBadClaim, "sub must be a string") }
            subject = s
        }
        return VerifiedToken(algorithm: alg, kid: kid, claims: claims, subject: subject, expiresAt: expiresAt)
    }

    /// Checks `iss`, `aud`, `exp` (required), `nbf` and `iat` (optional); returns `exp`.
    static func checkClaims(_ claims: JSONValue, issuer: Issuer, now: Double) throws(MeshError) -> Double {
        guard case .string(let iss)? = claims["iss"] else { throw MeshError(.jwtBadClaim, "iss is missing or not a string") }
        guard iss == issuer.issuer else { throw MeshError(.jwtWrongIssuer, "iss is \(iss), not \(issuer.issuer)") }
        let audiences: [String]
        switch claims["aud"] {
        case .string(let a)?: audiences = [a]
        case .array(let items)?:
            audiences = items.compactMap(\.stringValue)
            guard audiences.count == items.count, !audiences.isEmpty else {
                throw MeshError(.jwtBadClaim, "aud must be a string or a non-empty array of strings")
            }
        default: throw MeshError(.jwtBadClaim, "aud is missing or not a string or array")
        }
        guard audiences.contains(where: issuer.audiences.contains) else {
            throw MeshError(.jwtWrongAudience, "aud \(audiences.joined(separator: ",")) names none of \(issuer.issuer)'s audiences")
        }
        let skew = issuer.clockSkew
        guard let exp = try numericDate(claims, "exp") else { throw MeshError(.jwtBadClaim, "exp is missing") }
        guard now < exp + skew else { throw MeshError(.jwtExpired, "expired at \(exp), now \(now), skew \(skew) s") }
        if let nbf = try numericDate(claims, "nbf"), nbf > now + skew {
            throw MeshError(.jwtNotYetValid, "not valid before \(nbf), now \(now), skew \(skew) s")
        }
        if let iat = try numericDate(claims, "iat"), iat > now + skew {
            throw MeshError(.jwtNotYetValid, "issued at \(iat), in the future (now \(now), skew \(skew) s)")
        }
        return exp
    }

    /// A NumericDate claim (seconds since the epoch, a non-negative finite JSON number), nil when absent.
    static func numericDate(_ claims: JSONValue, _ name: String) throws(MeshError) -> Double? {
        guard let v = claims[name] else { return nil }
        guard case .number(let text) = v, let d = Double(text), d.isFinite, d >= 0 else {
            throw MeshError(.jwtBadClaim, "\(name) must be a non-negative number of seconds")
        }
        return d
    }
}
