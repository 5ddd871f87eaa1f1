/// Declared error codes: the control-plane API's message layer: a message that does not fit its schema is a bad request; an answer the control plane should not have given is `unavailable` for the caller (clients retry it like an outage).
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    public static let apiBadValue = ErrorCode("api.bad-value", .badRequest)
    public static let apiMissingField = ErrorCode("api.missing-field", .badRequest)
    public static let apiOutOfRange = ErrorCode("api.out-of-range", .badRequest)
    /// A status or body the API does not give (a non-JSON error page, a 200 that is not the answer's schema).
    public static let apiUnexpectedAnswer = ErrorCode("api.unexpected-answer", .unavailable)
    public static let apiUnknownField = ErrorCode("api.unknown-field", .badRequest)
    public static let apiWrongType = ErrorCode("api.wrong-type", .badRequest)
}
