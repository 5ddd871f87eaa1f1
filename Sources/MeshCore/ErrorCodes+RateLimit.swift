/// Declared error codes of risk-adaptive limits: `rateLimit` on policy rules and the control plane's throttles.
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// A rule's `rateLimit` is malformed: rate out of (0, 100000], burst out of [1, 1000000], or on a deny rule.
    public static let policyBadRateLimit = ErrorCode("policy.bad-rate-limit", .invalid)
    /// `POST /v1/throttle` or `meshctl throttle`: the identity, rate or expiry could not be read or is out of range.
    public static let throttleBadRequest = ErrorCode("throttle.bad-request", .badRequest)
    /// The throttle list already holds `ControlPlane.maxThrottles` entries.
    public static let throttleListFull = ErrorCode("throttle.list-full", .conflict)
    /// `DELETE /v1/throttle`: the identity is not throttled.
    public static let throttleNotFound = ErrorCode("throttle.not-found", .notFound)
}
