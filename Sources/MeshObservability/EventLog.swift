/// MeshObservability is what the sidecar, the control plane and the CLI share to be observed: the JSON-lines
/// event log, lock-free counters and histograms, and `StatsSnapshot` (one value rendered as JSON or
/// Prometheus text, and subtracted from an earlier one for telemetry deltas).
#if canImport(Glibc)
import Glibc
#endif
import MeshNet
import MeshCore

/// One JSON object per line, on stderr or appended to a file. A line is written with one `write(2)`, so
/// lines from different loops never interleave. Every process of the mesh logs through this type, so every
/// line has the same shape: `{"ts":"<UTC, ms>","event":"<name>", fields…}`.
public final class EventLog: Sendable {
    private let fd: Int32
    private let ownsFD: Bool
    private let clock: any Clock

    /// nil path: stderr.
    public init(path: String?, clock: any Clock = SystemClock()) throws {
        self.clock = clock
        if let path {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd < 0 { throw SyscallError("open \(path)", errno) }
            self.fd = fd
            ownsFD = true
        } else {
            fd = 2
            ownsFD = false
        }
    }

    /// Lines on an already open descriptor (default stderr) that stays open when the log goes away.
    public init(fileDescriptor: Int32 = 2, clock: any Clock = SystemClock()) {
        self.clock = clock
        fd = fileDescriptor
        ownsFD = false
    }

    deinit { if ownsFD { close(fd) } }

    /// Writes `{"ts":…,"event":…, fields…}`. Field values are strings, numbers or booleans.
    public func event(_ name: String, _ fields: KeyValuePairs<String, LogValue> = [:]) {
        event(name, fields: fields.map { ($0.key, $0.value) })
    }

    /// Like `event` with fields built at run time.
    public func event(_ name: String, fields: [(String, LogValue)]) {
        var line = "{\"ts\":\"\(UTCTime.iso8601(clock.wallSeconds(), milliseconds: true))\",\"event\":\(LogValue.string(name).json)"
        for (k, v) in fields {
            if case .none = v { continue }
            line += ",\(LogValue.string(k).json):\(v.json)"
        }
        line += "}\n"
        Syscall.writeAll(fd: fd, line)
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
