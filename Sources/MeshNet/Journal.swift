#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore

/// An append-only file of lines with group commit: a store's changes since its last snapshot. `append` returns
/// once its line is durable (written and fsynced with whatever other lines were queued meanwhile); its `apply`
/// runs first, in commit order, so the owner's in-memory state only ever shows durable changes. A failed batch
/// is cut off the file again and every writer of it gets the error.
///
/// A crash mid-append leaves a torn last line: it was never acknowledged, so opening cuts it off. When the file
/// passes `compactAbove` bytes after a commit, the owner's `compaction` writes a snapshot of its state (all of
/// it durable) and the journal starts empty again.
public final class Journal: Sendable {
    public struct Entry: Sendable {
        let line: [UInt8]
        let apply: @Sendable () -> Void
    }

    public let path: String
    public let compactAbove: Int
    /// Journals larger than this (1 GiB) are refused at open: a bound on what a start reads.
    public static let maxBytes = 1 << 30
    /// The complete lines found at open (without their newlines), oldest first.
    public let linesAtOpen: [[UInt8]]
    private let file: Locked<(fd: Int32, size: Int)>
    private let compaction = Locked<(@Sendable () throws -> Void)?>(nil)
    private let failures = Locked<(count: Int, last: String?)>((0, nil))
    private let group: GroupCommit<Entry, Void>

    /// Opens (creating, mode 0600) the journal at `path`, cutting off a torn last line.
    public init(path: String, compactAbove: Int) throws(MeshError) {
        self.path = path
        self.compactAbove = compactAbove
        let bytes = DurableFile.exists(path) ? try DurableFile.read(path, limit: Self.maxBytes) : []
        let valid = (bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
        if valid < bytes.count, truncate(path, off_t(valid)) != 0 { throw DurableFile.failure("truncate \(path)") }
        linesAtOpen = bytes[0..<valid].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map(Array.init)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw DurableFile.failure("open \(path)") }
        if valid < bytes.count, fsync(fd) != 0 {
            let e = DurableFile.failure("fsync \(path)")
            close(fd)
            throw e
        }
        let file = Locked((fd: fd, size: valid))
        self.file = file
        let failures = self.failures
        let compaction = self.compaction
        group = GroupCommit { [path, compactAbove] entries in
            try file.withLock { (f) throws in
                try DurableFile.append(entries.flatMap { $0.line + [UInt8(ascii: "\n")] }, fd: f.fd, size: &f.size, path: path)
                for e in entries { e.apply() }
                guard f.size > compactAbove, let snapshot = compaction.withLock({ $0 }) else { return }
                // The lines are durable already: a failed compaction keeps the journal and is retried next time.
                do { try Self.reset(&f, path: path, snapshot: snapshot) } catch {
                    failures.withLock { $0 = ($0.count + 1, "\(error)") }
                }
            }
            return entries.map { _ in () }
        }
        try DurableFile.syncDirectory(DurableFile.directory(of: path))
    }

    deinit { _ = file.withLock { close($0.fd) } }

    /// The owner's snapshot writer, called (with no append in progress) when the journal is to be emptied.
    public func onCompaction(_ snapshot: @escaping @Sendable () throws -> Void) { compaction.withLock { $0 = snapshot } }

    /// Appends `line` (no newline in it) durably, running `apply` once it is durable; throws (nothing written,
    /// `apply` not run) when the batch could not be made durable.
    public func append(_ line: [UInt8], apply: @escaping @Sendable () -> Void = {}) throws {
        precondition(!line.contains(UInt8(ascii: "\n")), "a journal line holds no newline")
        try group.submit(Entry(line: line, apply: apply))
    }

    /// Writes the owner's snapshot and empties the journal now (at start, or from a test).
    public func compact() throws {
        guard let snapshot = compaction.withLock({ $0 }) else { return }
        try file.withLock { (f) throws in try Self.reset(&f, path: path, snapshot: snapshot) }
    }

    public var size: Int { file.withLock { $0.size } }
    /// Batches committed (one fsync each), lines in them, largest batch.
    public var stats: (batches: Int, entries: Int, largest: Int) { group.stats }
    /// Compactions that failed after their lines were durable (they are retried), and the last error.
    public var compactionFailures: (count: Int, last: String?) { failures.withLock { $0 } }

    /// The snapshot first (durable), then the journal emptied: a crash in between replays lines the snapshot
    /// already holds, which owners make harmless (each line sets a value, it does not add to one).
    private static func reset(_ f: inout (fd: Int32, size: Int), path: String, snapshot: () throws -> Void) throws {
        try snapshot()
        if ftruncate(f.fd, 0) != 0 { throw DurableFile.failure("truncate \(path)") }
        if fsync(f.fd) != 0 { throw DurableFile.failure("fsync \(path)") }
        f.size = 0
    }
}
