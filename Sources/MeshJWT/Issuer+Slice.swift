import MeshCore
import MeshPolicy

extension Issuer {
    /// The issuer a slice carries (`mesh-config/mesh/issuers.json`) as verification needs it. The control plane
    /// (apply), meshctl (validate, check --jwt) and the sidecar all build issuers here, so a key one of them
    /// refuses is refused by all. Codes `jwt.bad-issuer`, `jwt.bad-key`; the reason starts with
    /// `issuers: <issuer>: `.
    public static func fromSlice(_ s: SliceIssuer) throws(MeshError) -> Issuer {
        do throws(MeshError) {
            var algorithms = Set<JWSAlgorithm>()
            for a in s.algorithms {
                guard let alg = JWSAlgorithm(rawValue: a) else { throw MeshError(.jwtBadIssuer, "unsupported algorithm \(a)") }
                algorithms.insert(alg)
            }
            let keys = try JWK.parseSet(s.jwks)
            guard !keys.isEmpty else { throw MeshError(.jwtBadKey, "the JWK set holds no key") }
            return try Issuer(issuer: s.issuer, audiences: Set(s.audiences), keys: keys, allowedAlgorithms: algorithms,
                              clockSkew: Double(s.clockSkewSeconds))
        } catch {
            throw MeshError(error.errorCode, "issuers: \(s.issuer): \(error.reason)")
        }
    }
}
