/// Declared error codes added by hardening D (server robustness, randomness).
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// Every long-poll slot of the control plane is taken: retry later (bootstraps and renewals keep theirs).
    public static let controlLongPollsFull = ErrorCode("control.long-polls-full", .unavailable)
    /// The CSPRNG (OpenSSL `RAND_bytes`) gave no bytes: nothing that needs randomness goes ahead without it.
    public static let tlsRandom = ErrorCode("tls.random", .internal)
}
