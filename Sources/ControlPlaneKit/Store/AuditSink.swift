import MeshCore

/// Where accepted changes are recorded, append-only and tamper-evident.
///
/// Contract:
/// - `record` appends one record and returns only once it is durable; if it throws, nothing was recorded and the
///   caller must not acknowledge the change (and undoes what it wrote).
/// - Records are totally ordered; `records` returns them oldest first; `verify` checks the whole chain and
///   returns how many records it holds, or throws `audit.*` when it is broken.
public protocol AuditSink: Sendable {
    func record(time: Double, actor: String, action: String, _ fields: [(String, JSONValue)]) throws
    func records() throws -> [JSONValue]
    func verify() throws -> Int
    /// How many records were appended (since the sink was opened, including those found then).
    var count: Int { get }
    /// Up to `limit` records with `seq > after`, oldest first, and the `after` of the next page (nil at the end).
    func page(after: Int, limit: Int) throws -> (records: [JSONValue], next: Int?)
}

extension AuditSink {
    /// For sinks that hold few records: a page cut from `records()`.
    public func page(after: Int, limit: Int) throws -> (records: [JSONValue], next: Int?) {
        let rest = try records().filter { ($0["seq"]?.intValue ?? 0) > after }
        guard rest.count > limit else { return (rest, nil) }
        let page = Array(rest.prefix(limit))
        return (page, page.last?["seq"]?.intValue)
    }
}
