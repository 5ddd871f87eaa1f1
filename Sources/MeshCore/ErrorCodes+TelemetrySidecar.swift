/// Declared error codes of the sidecar's telemetry reporter (issue 9). The text of a code is a published
/// contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// `POST /telemetry/flush` on a sidecar that does not report (no control plane, or `telemetry.enabled` false).
    public static let telemetryDisabled = ErrorCode("telemetry.disabled", .notFound)
    /// `POST /telemetry/flush`: the batch was not acknowledged (the control plane is away or refused it).
    public static let telemetryFlushFailed = ErrorCode("telemetry.flush-failed", .unavailable)
}
