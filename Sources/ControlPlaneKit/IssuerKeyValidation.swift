import MeshCore
import MeshJWT
import MeshPolicy

/// Apply-time check of the mesh's token issuers (issue 13): every JWKS is parsed by `MeshJWT` exactly as a
/// sidecar will parse it (public keys only, supported `kty`/`crv`/`alg`, unique `kid`), so a bad key is refused
/// by `PUT /v1/mesh` with its `jwt.*` code and never reaches a sidecar.
enum IssuerKeyValidation {
    /// Codes `jwt.bad-key`, `jwt.bad-issuer`; the reason starts with `issuers: <issuer>: `.
    static func validate(_ policy: MeshPolicy) throws(MeshError) {
        for issuer in policy.issuers { _ = try Issuer.fromSlice(issuer) }
    }
}
