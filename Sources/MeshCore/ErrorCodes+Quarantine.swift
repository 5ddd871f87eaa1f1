/// Declared error codes of quarantine (issue 10): the operator's or an alert rule's enforced deny of an identity.
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// The caller's identity is quarantined: its renewals, slice polls and reports are refused until released.
    public static let identityQuarantined = ErrorCode("identity.quarantined", .forbidden)
    /// A quarantine request the control plane cannot accept (bad identity, reason, duration, body).
    public static let quarantineBadRequest = ErrorCode("quarantine.bad-request", .badRequest)
    /// `mesh-system` identities (the control plane's own) are never quarantined.
    public static let quarantineSystemIdentity = ErrorCode("quarantine.system-identity", .forbidden)
    /// Automatic quarantines are rate limited mesh-wide (a misfiring rule cannot take the mesh down).
    public static let quarantineRateLimited = ErrorCode("quarantine.rate-limited", .rateLimited)
    /// Release of an identity that is not quarantined.
    public static let quarantineNotFound = ErrorCode("quarantine.not-found", .notFound)
    /// The quarantine list holds its maximum number of entries.
    public static let quarantineListFull = ErrorCode("quarantine.list-full", .conflict)
}
