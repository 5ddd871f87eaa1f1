import MeshCore
import MeshJWT
import MeshPolicy

/// The mesh's token issuers as `MeshJWT` reads them: `meshctl validate` refuses a bad key exactly as the control
/// plane does at apply time (`IssuerKeyValidation`), and `meshctl check --jwt` verifies tokens with them.
enum IssuerKeyCheck {
    /// Codes `jwt.bad-key`, `jwt.bad-issuer`; the reason starts with `issuers: <issuer>: `.
    static func validate(_ policy: MeshPolicy) throws(MeshError) {
        for issuer in policy.issuers { _ = try build(issuer) }
    }

    static func build(_ issuer: SliceIssuer) throws(MeshError) -> Issuer {
        do throws(MeshError) {
            let algorithms = Set(issuer.algorithms.compactMap(JWSAlgorithm.init(rawValue:)))
            guard algorithms.count == issuer.algorithms.count else {
                throw MeshError(.jwtBadIssuer, "unsupported algorithm in \(issuer.algorithms)")
            }
            let keys = try JWK.parseSet(issuer.jwks)
            guard !keys.isEmpty else { throw MeshError(.jwtBadKey, "the JWK set holds no key") }
            return try Issuer(issuer: issuer.issuer, audiences: Set(issuer.audiences), keys: keys, allowedAlgorithms: algorithms,
                              clockSkew: Double(issuer.clockSkewSeconds))
        } catch {
            throw MeshError(error.errorCode, "issuers: \(issuer.issuer): \(error.reason)")
        }
    }
}
