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
    typealias AuditState = (fd: Int32, lastHash: String, count: Int, size: Int, sealed: Int)
    private let state: Locked<AuditState>
    private let group: GroupCommit<Pending, Result<String, MeshError>>
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
        let state = Locked<AuditState>((fd, lastHash, before.seq + count, validBytes, sealed))
        self.state = state
        group = GroupCommit { [path, segmentBytes = self.segmentBytes] batch in
            state.withLock { s in
                Self.commit(batch, &s, path: path, segmentBytes: segmentBytes) { (s) throws(MeshError) in try Self.seal(&s, path: path) }
            }
        }
        try DurableFile.syncDirectory(DurableFile.directory(of: path))
    }

    deinit { _ = state.withLock { close($0.fd) } }

    /// Appends `{"seq","time","actor","action", fields…, "prev","hash"}` and fsyncs (sealing the tail first when
    /// the record would take it past `segmentBytes`). Throws when it cannot: the caller must then not
    /// acknowledge the change. Concurrent appends share one write and fsync (`GroupCommit`): the thread that
    /// commits chains the queued records in queue order; each caller returns once its own record is durable.
    @discardableResult
    public func append(time: Double, actor: String, action: String, _ fields: [(String, JSONValue)]) throws(MeshError) -> String {
        let outcome: Result<String, MeshError>
        do { outcome = try group.submit(Pending(time: time, actor: actor, action: action, fields: fields)) } catch {
            throw MeshError(.internalFailure, "audit group commit: \(error)")
        }
        return try outcome.get()
    }

    /// One queued record, before it is chained.
    struct Pending: @unchecked Sendable {
        // @unchecked: `fields` are values (JSONValue) handed from the caller to the committing thread once.
        let time: Double, actor: String, action: String, fields: [(String, JSONValue)]
    }

    /// Chains and writes a batch: records are flushed (written, fsynced) before a seal and at the end. A record
    /// whose flush failed, and every one after it in the batch, fails; the file is cut back to its last durable
    /// record, so the log stays a valid chain.
    static func commit(_ batch: [Pending], _ s: inout AuditState, path: String, segmentBytes: Int,
                       seal: (inout AuditState) throws(MeshError) -> Void) -> [Result<String, MeshError>] {
        var out: [Result<String, MeshError>] = []
        var buffer: [UInt8] = []
        var hashes: [String] = []
        var chain = (hash: s.lastHash, count: s.count)
        func flush() throws(MeshError) {
            guard !buffer.isEmpty else { return }
            try DurableFile.append(buffer, fd: s.fd, size: &s.size, path: path)
            s.lastHash = chain.hash
            s.count = chain.count
            out += hashes.map { .success($0) }
            buffer = []
            hashes = []
        }
        do {
            for p in batch {
                var members: [(String, JSONValue)] = [("seq", .int(chain.count + 1)), ("time", .string(UTCTime.iso8601(p.time))),
                                                      ("actor", .string(p.actor)), ("action", .string(p.action))]
                members += p.fields
                members.append(("prev", .string(chain.hash)))
                let body = JSONValue.object(members).text
                let hash = SHA256.hex(Array((chain.hash + body).utf8))
                members.append(("hash", .string(hash)))
                let line = Array((JSONValue.object(members).text + "\n").utf8)
                let size = s.size + buffer.count
                if size > 0 && size + line.count > segmentBytes {
                    try flush()
                    try seal(&s)
                }
                buffer += line
                hashes.append(hash)
                chain = (hash, chain.count + 1)
            }
            try flush()
        } catch {
            while out.count < batch.count { out.append(.failure(error)) }
        }
        return out
    }

    /// The tail becomes sealed segment `sealed + 1`; a new, empty tail is opened. A crash in between leaves no
    /// tail, which a start reads as an empty one.
    private static func seal(_ s: inout AuditState, path: String) throws(MeshError) {
        let target = segmentPath(path, s.sealed + 1)
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
    /// Batches written (one fsync each), records in them, largest batch: how much group commit shared.
    public var commitStats: (batches: Int, entries: Int, largest: Int) { group.stats }
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
