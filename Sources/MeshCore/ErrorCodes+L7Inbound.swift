/// Declared error codes: per-request refusals of the receiving sidecar on `http` ports (issue 13), sent in the
/// JSON body of a 401/403/502 answer. The text of a code is a published contract: add codes, never reword one.
extension ErrorCode {
    /// No rule allows the request (or a deny rule matched): 403.
    public static let requestForbidden = ErrorCode("request.forbidden", .forbidden)
    /// A rule would allow the request with a valid token, and there was none: 401.
    public static let requestTokenMissing = ErrorCode("request.token-missing", .unauthenticated)
    /// The app's answer could not be read as HTTP/1.1 (or was an unasked-for 101): 502, connection closed.
    public static let requestBadAppResponse = ErrorCode("request.bad-app-response", .unavailable)
    /// The app closed after its last answer and could not be dialled again for the next request: 502.
    public static let requestAppUnreachable = ErrorCode("request.app-unreachable", .unavailable)
}
