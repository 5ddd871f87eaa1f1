/// Declared error codes added by hardening area E: bootstrap trust, key material at rest, the audit log.
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// The control plane reached at bootstrap did not prove a chain to the pinned root (a server in the path,
    /// or a control plane whose serving certificate comes from another root): the join token was not sent.
    public static let bootstrapUnproven = ErrorCode("bootstrap.unproven-control-plane", .unavailable)
}
