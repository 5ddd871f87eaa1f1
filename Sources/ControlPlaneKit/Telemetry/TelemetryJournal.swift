#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet

/// The telemetry folder: `snapshot.jsonl` (written with the `DurableFile` discipline) and the journals
/// `journal-<generation>.jsonl` appended since. A snapshot names the first journal generation it does not
/// contain; older journals are deleted once it is durable. Not thread-safe: `TelemetryService` serializes.
struct TelemetryJournal {
    let dir: String
    private(set) var fd: Int32 = -1
    private(set) var generation = 0

    var snapshotPath: String { "\(dir)/snapshot.jsonl" }
    func path(_ generation: Int) -> String { "\(dir)/journal-\(generation).jsonl" }

    init(dir: String) { self.dir = dir }

    /// Generations of the journals on disk, oldest first.
    func generations() -> [Int] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [Int] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("journal-"), name.hasSuffix(".jsonl"), let n = Int(name.dropFirst(8).dropLast(6)) { out.append(n) }
        }
        return out.sorted()
    }

    /// Starts journal `generation` (a new, empty file); returns the previous descriptor (−1 if none), which the
    /// caller fsyncs and closes off the lock.
    mutating func open(generation: Int) throws(MeshError) -> Int32 {
        let f = Glibc.open(path(generation), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if f < 0 { throw MeshError(.telemetryJournal, "open \(path(generation)): errno \(errno)") }
        let old = fd
        fd = f
        self.generation = generation
        return old
    }

    /// Appends one line to the page cache (durable at the next `fsync`).
    func write(_ line: [UInt8]) throws(MeshError) {
        var off = 0
        while off < line.count {
            let n = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MeshError(.telemetryJournal, "write \(path(generation)): errno \(errno)")
            }
            off += n
        }
    }

    /// The complete lines of a journal, and whether a torn last line (a crash mid-append) was left out.
    static func lines(_ bytes: [UInt8]) -> (lines: [ArraySlice<UInt8>], torn: Bool) {
        var out = bytes.split(separator: 0x0a, omittingEmptySubsequences: true)
        let torn = !bytes.isEmpty && bytes.last != 0x0a
        if torn { out.removeLast() }
        return (out, torn)
    }

    func remove(below generation: Int) {
        for g in generations() where g < generation { unlink(path(g)) }
    }
}
