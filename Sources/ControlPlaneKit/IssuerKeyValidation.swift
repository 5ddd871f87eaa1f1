import MeshCore
import MeshJWT
import MeshPolicy

/// Apply-time check of the mesh's token issuers (issue 13): every JWKS is parsed by `MeshJWT` exactly as a
/// sidecar will parse it (public keys only, supported `kty`/`crv`/`alg`, unique `kid`), so a bad key is refused
/// by `PUT /v1/mesh` with its `jwt.*` code and never reaches a sidecar.
enum IssuerKeyValidation {
    /// Codes `jwt.bad-key`, `jwt.bad-issuer`; the reason starts with `issuers: <issuer>: `.
    static func validate(_ policy: MeshPolicy) throws(MeshError) {
        for issuer in policy.issuers {
            do throws(MeshError) {
                let algorithms = Set(issuer.algorithms.compactMap(JWSAlgorithm.init(rawValue:)))
                guard algorithms.count == issuer.algorithms.count else {
                    throw MeshError(.jwtBadIssuer, "unsupported algorithm in \(issuer.algorithms)")
                }
                let keys = try JWK.parseSet(issuer.jwks)
                guard !keys.isEmpty else { throw MeshError(.jwtBadKey, "the JWK set holds no key") }
                _ = try Issuer(issuer: issuer.issuer, audiences: Set(issuer.audiences), keys: keys, allowedAlgorithms: algorithms,
                               clockSkew: Double(issuer.clockSkewSeconds))
            } catch {
                throw MeshError(error.errorCode, "issuers: \(issuer.issuer): \(error.reason)")
            }
        }
    }
}
