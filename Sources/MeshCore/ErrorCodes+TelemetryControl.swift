/// Declared error codes of the control plane's telemetry: ingestion, its journal, the graph query.
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// A report named a `source` other than the identity of the certificate it came with.
    public static let telemetryWrongSource = ErrorCode("telemetry.wrong-source", .forbidden)
    /// `GET /v1/graph`: `since` or `service` could not be read.
    public static let telemetryBadQuery = ErrorCode("telemetry.bad-query", .badRequest)
    /// The telemetry journal could not be written or made durable: the report was not acknowledged.
    public static let telemetryJournal = ErrorCode("telemetry.journal", .storage)
    /// The telemetry snapshot or journal on disk cannot be read back.
    public static let telemetryCorrupt = ErrorCode("telemetry.corrupt", .storage)
}
