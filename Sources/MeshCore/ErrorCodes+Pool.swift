/// Declared error codes: pooled mesh hops on the calling side of `http` ports (the JSON body of the `502` the
/// app gets). The text of a code is a published contract: add codes, never reword one.
extension ErrorCode {
    /// No hop could be opened: every attempt failed to connect or to finish the mTLS handshake (the request
    /// never left this sidecar).
    public static let poolUpstreamUnreachable = ErrorCode("pool.upstream-unreachable", .unavailable)
    /// The remote sidecar closed the hop after the request was (partly) sent and before a complete response.
    public static let poolUpstreamClosed = ErrorCode("pool.upstream-closed", .unavailable)
    /// The remote sidecar answered with a response our strict parser refuses.
    public static let poolBadResponse = ErrorCode("pool.bad-response", .unavailable)
    /// The upstream has no endpoint to dial.
    public static let poolNoEndpoint = ErrorCode("pool.no-endpoint", .unavailable)
    /// An app sent bytes after an `Upgrade` request, before its answer (a client waits for `101`).
    public static let poolUpgradePipelined = ErrorCode("pool.upgrade-pipelined", .badRequest)
}
