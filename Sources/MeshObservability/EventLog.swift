/// MeshObservability is what the sidecar, the control plane and the CLI share to be observed: the JSON-lines
/// event log, lock-free counters and histograms, and `StatsSnapshot` (one value rendered as JSON or
/// Prometheus text, and subtracted from an earlier one for telemetry deltas).
#if canImport(Glibc)
import Glibc
#endif
import MeshNet
import MeshCore

/// One JSON object per line, on stderr or appended to a file. Every process of the mesh logs through this type,
/// so every line has the same shape: `{"ts":"<UTC, ms>","event":"<name>", fields…}`. One writer (`LogFile`)
/// owns the descriptor: lines from different loops never interleave, and a file log can be rotated by size.
/// Lines a peer can cause (refusals) go through `refusal`, rate-limited per reason when a limiter is given.
public final class EventLog: Sendable {
    private let file: LogFile
    private let limiter: LogRateLimiter?
    private let clock: any Clock

    /// nil path: stderr (never rotated).
    public init(path: String?, rotation: LogRotation? = nil, limiter: LogRateLimiter? = nil, clock: any Clock = SystemClock()) throws {
        self.clock = clock
        self.limiter = limiter
        file = try path.map { try LogFile(path: $0, rotation: rotation) } ?? LogFile(fileDescriptor: 2)
    }

    /// Lines on an already open descriptor (default stderr) that stays open when the log goes away.
    public init(fileDescriptor: Int32 = 2, limiter: LogRateLimiter? = nil, clock: any Clock = SystemClock()) {
        self.clock = clock
        self.limiter = limiter
        file = LogFile(fileDescriptor: fileDescriptor)
    }

    /// Writes `{"ts":…,"event":…, fields…}`. Field values are strings, numbers or booleans.
    public func event(_ name: String, _ fields: KeyValuePairs<String, LogValue> = [:]) {
        event(name, fields: fields.map { ($0.key, $0.value) })
    }

    /// Like `event` with fields built at run time.
    public func event(_ name: String, fields: [(String, LogValue)]) {
        file.write(line(name, fields))
    }

    /// A line a peer can cause, for a `reason` from a closed set: written only if that reason's bucket has a
    /// token; the first line let through after some were held back is preceded (in the same write) by
    /// `{"event":"log-suppressed","reason":…,"suppressed":N}`.
    public func refusal(_ name: String, reason: String, fields: [(String, LogValue)]) {
        guard let limiter else { return event(name, fields: fields) }
        switch limiter.admit(reason) {
        case .suppress:
            return
        case .write(let held):
            file.write((held > 0 ? summary(reason, held) : "") + line(name, fields))
        }
    }

    /// Reports the held-back counts of reasons that are quiet again (call it on a timer and before stopping).
    public func flushSuppressed() {
        for (reason, held) in limiter?.drainPending() ?? [] { file.write(summary(reason, held)) }
    }

    /// Lines held back since start, by reason (`mesh_log_suppressed_total`).
    public func suppressedTotals() -> [String: Int] { limiter?.suppressedTotals() ?? [:] }

    private func summary(_ reason: String, _ held: Int) -> String {
        line("log-suppressed", [("reason", .string(reason)), ("suppressed", .int(held))])
    }

    private func line(_ name: String, _ fields: [(String, LogValue)]) -> String {
        var line = "{\"ts\":\"\(UTCTime.iso8601(clock.wallSeconds(), milliseconds: true))\",\"event\":\(LogValue.string(name).json)"
        for (k, v) in fields {
            if case .none = v { continue }
            line += ",\(LogValue.string(k).json):\(v.json)"
        }
        return line + "}\n"
    }
}

/// A value in a log line.
public enum LogValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public static func optional(_ s: String?) -> LogValue { s.map { .string($0) } ?? .none }

    var json: String {
        switch self {
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .none: return "null"
        case .string(let s): return JSONValue.quoted(s)
        }
    }
}
