/// Declared error codes of the L7 policy model (issue 13): `http` matches, `jwt` requirements, issuers and
/// port protocols in the mesh files. The text of a code is a published contract: add codes, never reword one.
extension ErrorCode {
    /// A rule with an `http` match or a `jwt` requirement reaches a port that is not declared `http`.
    public static let policyHttpOnTcpPort = ErrorCode("policy.http-on-tcp-port", .invalid)
    /// An `http` match is malformed: a method that is not an upper-case token, a header name that is not a
    /// lower-case token, a header condition without exactly one of `equals`/`present`/`absent`, an empty list.
    public static let policyBadHttpMatch = ErrorCode("policy.bad-http-match", .invalid)
    /// A path pattern is not a normalised path (its `PathNormalizer` form differs), or uses `*`/`**` other than
    /// as a whole segment (`**` only last).
    public static let policyBadPathPattern = ErrorCode("policy.bad-path-pattern", .invalid)
    /// A `jwt` requirement is malformed: on a deny rule, no issuer, a claim condition without exactly one of
    /// `equals`/`contains`.
    public static let policyBadJwtRequirement = ErrorCode("policy.bad-jwt-requirement", .invalid)
    /// A `jwt` requirement names an issuer that `issuers` does not define.
    public static let policyUnknownIssuer = ErrorCode("policy.unknown-issuer", .invalid)
    /// An `issuers` entry is malformed (shape, algorithm name, header, skew), or `jwksFile` was not inlined.
    public static let policyBadIssuer = ErrorCode("policy.bad-issuer", .invalid)
}
