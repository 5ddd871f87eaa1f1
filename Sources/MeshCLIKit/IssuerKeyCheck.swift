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

    static func build(_ issuer: SliceIssuer) throws(MeshError) -> Issuer { try Issuer.fromSlice(issuer) }
}
