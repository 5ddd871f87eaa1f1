/// Declared error codes of the identity-lifecycle hardening (clone detection, revocation, validity of mTLS
/// callers, reserved identities). The text of a code is a published contract: add codes, never reword one.
extension ErrorCode {
    /// A renewal from a certificate that is not the identity's most recently issued one: a copy of its key.
    public static let issueCloneSuspected = ErrorCode("issue.clone-suspected", .forbidden)
    /// The identity or the certificate's serial is on the revocation list.
    public static let identityRevoked = ErrorCode("identity.revoked", .forbidden)
    /// An mTLS caller's certificate is outside its validity period (routes other than renewal).
    public static let authCertificateExpired = ErrorCode("auth.certificate-expired", .unauthenticated)
    public static let authCertificateNotYetValid = ErrorCode("auth.certificate-not-yet-valid", .unauthenticated)
    /// A join token for the control plane's own namespace (`mesh-system`).
    public static let tokenReservedIdentity = ErrorCode("token.reserved-identity", .forbidden)
    /// `POST /v1/identities/revoke` without exactly one of `identity` or `serial`, or with a bad one.
    public static let revokeBadRequest = ErrorCode("revoke.bad-request", .badRequest)
    /// The revocation list holds its maximum number of entries.
    public static let revokeListFull = ErrorCode("revoke.list-full", .conflict)
    /// The identity records changed under a compare-and-set.
    public static let identitiesConflict = ErrorCode("identities.conflict", .conflict)
    /// `identities.json` cannot be read back.
    public static let identitiesCorrupt = ErrorCode("identities.corrupt", .storage)
}
