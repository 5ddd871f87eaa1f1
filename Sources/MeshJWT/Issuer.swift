import MeshCore

/// What a token issuer is trusted for: its `iss` text, the audiences a token must name one of, its keys by
/// `kid`, the algorithms it may use, and the clock skew tolerated on `exp`/`nbf`/`iat`. Validated once here, so
/// verification never meets an issuer that would accept every token.
public struct Issuer: Sendable {
    public let issuer: String
    public let audiences: Set<String>
    public let keys: [String: JWK]
    public let allowedAlgorithms: Set<JWSAlgorithm>
    /// Seconds; default 60, at most 300.
    public let clockSkew: Double

    public static let defaultClockSkew: Double = 60
    public static let maxClockSkew: Double = 300

    /// Errors: `jwt.bad-issuer` (empty issuer, audiences or algorithms, skew out of 0...300), `jwt.bad-key`
    /// (a repeated `kid`, or a key whose `alg` is not allowed).
    public init(issuer: String, audiences: Set<String>, keys: [JWK], allowedAlgorithms: Set<JWSAlgorithm>,
                clockSkew: Double = Issuer.defaultClockSkew) throws(MeshError) {
        guard !issuer.isEmpty else { throw MeshError(.jwtBadIssuer, "the issuer is empty") }
        guard !audiences.isEmpty, !audiences.contains("") else {
            throw MeshError(.jwtBadIssuer, "\(issuer): name at least one non-empty audience")
        }
        guard !allowedAlgorithms.isEmpty else { throw MeshError(.jwtBadIssuer, "\(issuer): allow at least one algorithm") }
        guard clockSkew.isFinite, (0...Self.maxClockSkew).contains(clockSkew) else {
            throw MeshError(.jwtBadIssuer, "\(issuer): clock skew \(clockSkew) s is outside 0...\(Int(Self.maxClockSkew))")
        }
        var byKid = [String: JWK]()
        for key in keys {
            guard byKid[key.kid] == nil else { throw MeshError(.jwtBadKey, "\(issuer): kid \(key.kid) appears twice") }
            if let alg = key.algorithm, !allowedAlgorithms.contains(alg) {
                throw MeshError(.jwtBadKey, "\(issuer): kid \(key.kid) is for \(alg.rawValue), which the issuer does not allow")
            }
            byKid[key.kid] = key
        }
        self.issuer = issuer
        self.audiences = audiences
        self.keys = byKid
        self.allowedAlgorithms = allowedAlgorithms
        self.clockSkew = clockSkew
    }
}
