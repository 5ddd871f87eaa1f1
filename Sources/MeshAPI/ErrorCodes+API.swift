import MeshCore

/// Codes of the control-plane API's message layer. A message that does not fit its schema is a bad request
/// (whoever sent it got it wrong); an answer the control plane should not have given is `unavailable` for the
/// caller (the peer answered badly), so clients retry it like an outage.
extension ErrorCode {
    public static let apiUnknownField = ErrorCode("api.unknown-field", .badRequest)
    public static let apiMissingField = ErrorCode("api.missing-field", .badRequest)
    public static let apiWrongType = ErrorCode("api.wrong-type", .badRequest)
    public static let apiOutOfRange = ErrorCode("api.out-of-range", .badRequest)
    public static let apiBadValue = ErrorCode("api.bad-value", .badRequest)
    /// A status or body the API does not give (a non-JSON error page, a 200 that is not the answer's schema).
    public static let apiUnexpectedAnswer = ErrorCode("api.unexpected-answer", .unavailable)

    /// The codes above, by their text (`MeshCore`'s `declared` cannot list them: it is the lower layer).
    public static let apiDeclared: [String: ErrorCode] = Dictionary(uniqueKeysWithValues: [
        apiUnknownField, apiMissingField, apiWrongType, apiOutOfRange, apiBadValue, apiUnexpectedAnswer,
    ].map { ($0.id, $0) })

    /// The declared code with this text, from MeshCore's list or the API's; nil when nobody declared it.
    public static func known(_ id: String) -> ErrorCode? { declared[id] ?? apiDeclared[id] }
}
