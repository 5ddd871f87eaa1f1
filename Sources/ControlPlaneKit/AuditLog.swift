#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshNet
import MeshTLS

/// The append-only audit log: one JSON object per line, each carrying the SHA-256 of the line before it
/// (`prev`) and its own (`hash`, over `prev` and the record), fsynced before the API answers. Tampering with
/// or losing a line breaks the chain, which `verify` detects. The file implementation of `AuditSink`.
public final class AuditLog: AuditSink {
    public let path: String
    private let state: Mutex<(fd: Int32, lastHash: String, count: Int)>
    public static let genesis = String(repeating: "0", count: 64)

    /// Opens (creating) the log and verifies the existing chain. A torn last line (a crash mid-append, never
    /// acknowledged) is cut off; any other break is an error.
    public init(path: String) throws(MeshError) {
        self.path = path
        let existing = DurableFile.exists(path) ? try DurableFile.read(path, limit: 1 << 30) : []
        let (lastHash, count, validBytes) = try Self.verify(existing)
        if validBytes < existing.count {
            if truncate(path, off_t(validBytes)) != 0 { throw DurableFile.failure("truncate \(path)") }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd < 0 { throw DurableFile.failure("open \(path)") }
        state = Mutex((fd, lastHash, count))
        try DurableFile.syncDirectory(DurableFile.directory(of: path))
    }

    deinit { _ = state.withLock { close($0.fd) } }

    /// Appends `{"seq","time","actor","action", fields…, "prev","hash"}` and fsyncs. Throws when it cannot:
    /// the caller must then not acknowledge the change.
    @discardableResult
    public func append(time: Double, actor: String, action: String, _ fields: [(String, JSONValue)]) throws(MeshError) -> String {
        try state.withLock { (s) throws(MeshError) -> String in
            var members: [(String, JSONValue)] = [("seq", .int(s.count + 1)), ("time", .string(UTCTime.iso8601(time))),
                                                  ("actor", .string(actor)), ("action", .string(action))]
            members += fields
            members.append(("prev", .string(s.lastHash)))
            let body = JSONValue.object(members).text
            let hash = SHA256.hex(Array((s.lastHash + body).utf8))
            members.append(("hash", .string(hash)))
            let line = Array((JSONValue.object(members).text + "\n").utf8)
            // On any failure, cut the file back to where it was: the log must stay a valid chain.
            let size = lseek(s.fd, 0, SEEK_END)
            func undo(_ what: String) -> MeshError {
                let e = DurableFile.failure(what)
                if size >= 0 { _ = ftruncate(s.fd, size) }
                return e
            }
            var off = 0
            while off < line.count {
                let n = line.withUnsafeBytes { write(s.fd, $0.baseAddress! + off, $0.count - off) }
                if n < 0 { if errno == EINTR { continue }; throw undo("append \(path)") }
                off += n
            }
            if fsync(s.fd) != 0 { throw undo("fsync \(path)") }
            s.lastHash = hash
            s.count += 1
            return hash
        }
    }

    public var count: Int { state.withLock { $0.count } }
    public var lastHash: String { state.withLock { $0.lastHash } }

    /// Checks every line's chain; returns the last hash, the number of records, and how many bytes form whole,
    /// valid lines (a torn final line without its newline is not counted).
    public static func verify(_ bytes: [UInt8]) throws(MeshError) -> (lastHash: String, count: Int, validBytes: Int) {
        var prev = genesis
        var count = 0
        var start = 0
        while let nl = bytes[start...].firstIndex(of: 0x0A) {
            let line = Array(bytes[start..<nl])
            let value: JSONValue
            do { value = try StrictJSON.parse(line) } catch { throw MeshError(.auditCorrupt, "record \(count + 1): \(error)") }
            guard case .object(var members) = value, let last = members.last, last.0 == "hash",
                  let hash = last.1.stringValue, value["prev"]?.stringValue == prev else {
                throw MeshError(.auditBrokenChain, "record \(count + 1) does not follow record \(count)")
            }
            members.removeLast()
            guard SHA256.hex(Array((prev + JSONValue.object(members).text).utf8)) == hash else {
                throw MeshError(.auditBrokenChain, "record \(count + 1) was altered (hash mismatch)")
            }
            prev = hash
            count += 1
            start = nl + 1
        }
        return (prev, count, start)
    }

    public func record(time: Double, actor: String, action: String, _ fields: [(String, JSONValue)]) throws {
        try append(time: time, actor: actor, action: action, fields)
    }

    /// Reads the file back and checks its whole chain; the number of records.
    public func verify() throws -> Int {
        try Self.verify(try DurableFile.read(path, limit: 1 << 30)).count
    }

    /// Every record, oldest first.
    public func records() throws(MeshError) -> [JSONValue] {
        let bytes = try DurableFile.read(path, limit: 1 << 30)
        var out: [JSONValue] = []
        for line in bytes.split(separator: 0x0A) {
            if let v = try? StrictJSON.parse(Array(line)) { out.append(v) }
        }
        return out
    }
}
