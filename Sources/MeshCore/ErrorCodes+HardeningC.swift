/// Declared error codes added by the data-plane hardening (sidecar config, reload, stats endpoint).
/// The text of a code is a published contract: add codes, never reword one.
extension ErrorCode {
    /// An outbound listener with `to` expects an identity other than that service's.
    public static let configExpectIdentityMismatch = ErrorCode("config.expect-identity-mismatch", .invalid)
    /// An outbound listener other hosts could reach, without `allowNonLoopback`.
    public static let configOutboundNotLoopback = ErrorCode("config.outbound-not-loopback", .invalid)
    /// A stats-endpoint request whose `Host` is neither an IP literal nor `localhost` (DNS rebinding).
    public static let adminBadHost = ErrorCode("admin.bad-host", .forbidden)
}
