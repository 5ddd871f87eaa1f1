/// Declared error codes of endpoint registration (issue 14): sidecars telling the control plane where their
/// inbound listeners are. The text of a code is a published contract: add codes, never reword one.
extension ErrorCode {
    /// The reported address is not the caller's: its host differs from the connection's source (non-loopback).
    public static let endpointAddressMismatch = ErrorCode("endpoint.address-mismatch", .forbidden)
    /// A registration the control plane cannot read (bad body, address or port).
    public static let endpointBadRequest = ErrorCode("endpoint.bad-request", .badRequest)
    /// The per-service or total endpoint bound is reached.
    public static let endpointLimit = ErrorCode("endpoint.limit", .conflict)
}
