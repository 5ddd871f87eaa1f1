#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshNet
import MeshTLS

/// The append-only audit log: one JSON object per line, each carrying the SHA-256 of the record before it
/// (`prev`) and its own (`hash`, over `prev` and the record), fsynced before the API answers. Tampering with
/// or losing a line breaks the chain, which `verify` detects. The file implementation of `AuditSink`.
///
/// Segmented so that neither a start nor a page costs more as the log grows: `path` is the active (tail)
/// segment; when an append would take it past `segmentBytes` it is sealed as `path.000001`, `path.000002`, …
/// (oldest first) and a new tail begins. The chain runs on across segments (a segment's first record chains
/// to the last of the one before), and `seq` keeps counting. A start verifies only the tail and checks that it
/// follows the last record of the newest sealed segment; `verify` walks every segment from the genesis.
public final class AuditLog: AuditSink {
    public let path: String
    public let segmentBytes: Int
    private let state: Mutex<(fd: Int32, lastHash: String, count: Int, size: Int, sealed: Int)>
    /// Bytes read to open the log (the tail, and the end of the newest sealed segment): shows a start does not
    /// read the whole history.
    public let bytesReadAtOpen: Int
    public static let genesis = String(repeating: "0", count: 64)
    /// Default segment size: 64 MiB.
    public static let defaultSegmentBytes = 64 << 20

    /// Opens (creating) the log and verifies the tail segment. A torn last line (a crash mid-append, never
    /// acknowledged) is cut off; any other break is an error.
    public init(path: String, segmentBytes: Int = AuditLog.defaultSegmentBytes) throws(MeshError) {
        self.path = path
        self.segmentBytes = max(segmentBytes, 1)
        let sealed = Self.sealedCount(path)
        var read = 0
        var before = (hash: genesisHash, seq: 0)
        if sealed > 0 {
            let (last, n) = try Self.lastRecord(Self.segmentPath(path, sealed))
            read += n
            guard let hash = last["hash"]?.stringValue, let seq = last["seq"]?.intValue else {
                throw MeshError(.auditCorrupt, "the last record of \(Self.segmentPath(path, sealed)) has no hash or seq")
            }
            before = (hash, seq)
        }
        let existing = DurableFile.exists(path) ? try DurableFile.read(path, limit: 1 << 30) : []
        read += existing.count
        let (lastHash, count, validBytes) = try Self.verify(existing, from: before.hash)
        if validBytes < existing.count {
            if truncate(path, off_t(validBytes)) != 0 { throw DurableFile.failure("truncate \(path)") }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd < 0 { throw DurableFile.failure("open \(path)") }
        bytesReadAtOpen = read
        state = Mutex((fd, lastHash, before.seq + count, validBytes, sealed))
        try DurableFile.syncDirectory(DurableFile.directory(of: path))
    }

    deinit { _ = state.withLock { close($0.fd) } }

    /// Appends `{"seq","time","actor","action", fields…, "prev","hash"}` and fsyncs (sealing the tail first when
    /// the record would take it past `segmentBytes`). Throws when it cannot: the caller must then not
    /// acknowledge the change.
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
            if s.size > 0 && s.size + line.count > segmentBytes { try seal(&s) }
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
            s.size += line.count
            return hash
        }
    }

    /// The tail becomes sealed segment `sealed + 1`; a new, empty tail is opened. A crash in between leaves no
    /// tail, which a start reads as an empty one.
    private func seal(_ s: inout (fd: Int32, lastHash: String, count: Int, size: Int, sealed: Int)) throws(MeshError) {
        let target = Self.segmentPath(path, s.sealed + 1)
        if rename(path, target) != 0 { throw DurableFile.failure("rename \(path) to \(target)") }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd < 0 {
            let e = DurableFile.failure("open \(path)")
            _ = rename(target, path)  // keep appending to the old tail
            throw e
        }
        close(s.fd)
        s.fd = fd
        s.size = 0
        s.sealed += 1
        try DurableFile.syncDirectory(DurableFile.directory(of: path))
    }

    public var count: Int { state.withLock { $0.count } }
    public var lastHash: String { state.withLock { $0.lastHash } }

    /// Sealed segments oldest first, then the tail.
    public func segmentPaths() -> [String] {
        let sealed = state.withLock { $0.sealed }
        return (0..<sealed).map { Self.segmentPath(path, $0 + 1) } + [path]
    }

    public func record(time: Double, actor: String, action: String, _ fields: [(String, JSONValue)]) throws {
        try append(time: time, actor: actor, action: action, fields)
    }

    /// The full check (`meshctl audit --verify`): every segment from the genesis; the number of records.
    public func verify() throws -> Int {
        var prev = Self.genesis
        var total = 0
        for p in segmentPaths() {
            let bytes = DurableFile.exists(p) ? try DurableFile.read(p, limit: 1 << 30) : []
            let (last, n, valid) = try Self.verify(bytes, from: prev)
            guard valid == bytes.count else { throw MeshError(.auditCorrupt, "\(p) ends with a partial record") }
            prev = last
            total += n
        }
        return total
    }
}

private let genesisHash = AuditLog.genesis
