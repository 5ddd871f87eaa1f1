/// Declared error codes of alert rules and their delivery (issue 10: the alert engine).
/// The text of a code is a published contract (logs, tool output, tests): add codes, never reword one.
extension ErrorCode {
    /// A duration field (`window`, `after`, `quarantineFor` …) that is not `30s`/`5m`/`1h`/`2d` or is out of range.
    public static let alertBadDuration = ErrorCode("alert.bad-duration", .invalid)
    /// A parameter the rule's kind needs is missing (`threshold` for `deny-spike` …).
    public static let alertMissingParameter = ErrorCode("alert.missing-parameter", .invalid)
    /// A parameter the rule's kind does not use (`distinct` on `deny-spike` …): a typo must not pass silently.
    public static let alertParameterNotForKind = ErrorCode("alert.parameter-not-for-kind", .invalid)
    /// `quarantineFor` without `action: "quarantine"`, or a quarantine on a kind without a subject identity.
    public static let alertBadAction = ErrorCode("alert.bad-action", .invalid)
    /// More alert rules in the bundle than `AlertLimits.maxRules`.
    public static let alertTooManyRules = ErrorCode("alert.too-many-rules", .invalid)
    /// `--alert-webhook` is not an `http://` or `https://` URL we can deliver to.
    public static let alertBadWebhook = ErrorCode("alert.bad-webhook", .badRequest)
    /// A webhook delivery failed (connect, TLS, a non-2xx answer).
    public static let alertWebhookFailed = ErrorCode("alert.webhook-failed", .unavailable)
}
