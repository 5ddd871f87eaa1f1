/// Declared error codes of end-user token (JWT) verification (issue 13). Token failures are `unauthenticated`
/// (a `401` once wired to HTTP); a bad issuer or key configuration is `invalid`. Add codes, never reword one.
extension ErrorCode {
    /// Not a compact JWS: not three base64url segments, bad base64url, header or payload not a strict JSON object.
    public static let jwtMalformed = ErrorCode("jwt.malformed", .unauthenticated)
    /// The token is longer than `JWTVerifier.maxTokenBytes` (8 KiB).
    public static let jwtTooLarge = ErrorCode("jwt.too-large", .unauthenticated)
    /// The header names `crit` or another field we do not understand (`jku`, `jwk`, `x5u`, `x5c`, …).
    public static let jwtUnsupportedHeader = ErrorCode("jwt.unsupported-header", .unauthenticated)
    /// `alg` is not one the issuer allows (`none` and HMAC never are), or does not fit the selected key.
    public static let jwtAlgNotAllowed = ErrorCode("jwt.alg-not-allowed", .unauthenticated)
    /// No `kid`, or a `kid` the issuer has no key for.
    public static let jwtUnknownKid = ErrorCode("jwt.unknown-kid", .unauthenticated)
    /// The signature does not verify with the selected key (or is not in JOSE form).
    public static let jwtBadSignature = ErrorCode("jwt.bad-signature", .unauthenticated)
    /// A registered claim is missing (`exp`, `iss`, `aud`) or of the wrong type.
    public static let jwtBadClaim = ErrorCode("jwt.bad-claim", .unauthenticated)
    /// `exp` plus the clock skew is not after now.
    public static let jwtExpired = ErrorCode("jwt.expired", .unauthenticated)
    /// `nbf` (or `iat`) is later than now plus the clock skew.
    public static let jwtNotYetValid = ErrorCode("jwt.not-yet-valid", .unauthenticated)
    /// `iss` is not the issuer's.
    public static let jwtWrongIssuer = ErrorCode("jwt.wrong-issuer", .unauthenticated)
    /// No `aud` value is one of the issuer's audiences.
    public static let jwtWrongAudience = ErrorCode("jwt.wrong-audience", .unauthenticated)
    /// A JWK cannot be used: unknown `kty`/`crv`, bad coordinates, RSA modulus under 2048 bits, duplicate `kid`.
    public static let jwtBadKey = ErrorCode("jwt.bad-key", .invalid)
    /// An issuer configuration is not valid: empty issuer, audiences or algorithms, skew out of range.
    public static let jwtBadIssuer = ErrorCode("jwt.bad-issuer", .invalid)
}
