/// Declared error codes of the shared control channel (issue 9): the long-poll wait a sidecar may ask for.
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// `GET /v1/slice?wait=S` with S not an integer in 1…30.
    public static let policyBadWait = ErrorCode("policy.bad-wait", .badRequest)
}
