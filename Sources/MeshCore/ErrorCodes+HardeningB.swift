/// Declared error codes added by the policy-distribution hardening (signed slices, policy store epoch).
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// OpenSSL could not sign a document.
    public static let tlsSign = ErrorCode("tls.sign", .internal)
    /// The control plane has no signing identity yet (it is minted with its serving certificate).
    public static let policyNoSigner = ErrorCode("policy.no-signer", .unavailable)
    /// A slice whose signature, signer or document does not check out (the reason names the check).
    public static let policyUnsignedSlice = ErrorCode("policy.unsigned-slice", .unavailable)
    /// The policy store's epoch file cannot be read or made.
    public static let policyBadEpoch = ErrorCode("policy.bad-epoch", .storage)
}
