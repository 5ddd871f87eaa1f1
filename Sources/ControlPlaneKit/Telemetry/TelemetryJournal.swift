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

    /// Hands each complete line of `path` to `body`, reading 1 MiB at a time (a file may be larger than is
    /// wise to hold); returns true when a torn last line (no newline: a crash mid-append) was left out. A line
    /// longer than `maxLine` is unreadable.
    static func forEachLine(_ path: String, maxLine: Int = 16 << 20,
                            _ body: (ArraySlice<UInt8>) throws(MeshError) -> Void) throws(MeshError) -> Bool {
        let f = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if f < 0 { throw DurableFile.failure("open \(path)") }
        defer { Glibc.close(f) }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(f, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DurableFile.failure("read \(path)")
            }
            if n == 0 { break }
            pending += chunk[0..<n]
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: 0x0a) {
                if nl > start { try body(pending[start..<nl]) }
                start = nl + 1
            }
            pending.removeSubrange(0..<start)
            if pending.count > maxLine { throw MeshError(.telemetryCorrupt, "\(path): a line longer than \(maxLine) bytes") }
        }
        return !pending.isEmpty
    }

    /// Writes the snapshot as `write` produces it, with the `DurableFile` discipline (a new temp file, fsync,
    /// rename over the old one, fsync the folder), streamed so that it is never held whole in memory.
    func writeSnapshot(_ produce: (([UInt8]) throws(MeshError) -> Void) throws(MeshError) -> Void) throws(MeshError) {
        let path = snapshotPath
        let tmp = "\(path).tmp-\(getpid())"
        unlink(tmp)
        let f = Glibc.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if f < 0 { throw DurableFile.failure("create \(tmp)") }
        do throws(MeshError) {
            try produce { (bytes: [UInt8]) throws(MeshError) in
                var off = 0
                while off < bytes.count {
                    let n = bytes.withUnsafeBytes { Glibc.write(f, $0.baseAddress! + off, $0.count - off) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw DurableFile.failure("write \(tmp)")
                    }
                    off += n
                }
            }
            if fsync(f) != 0 { throw DurableFile.failure("fsync \(tmp)") }
        } catch {
            Glibc.close(f)
            unlink(tmp)
            throw error
        }
        Glibc.close(f)
        if rename(tmp, path) != 0 {
            let e = DurableFile.failure("rename \(tmp) to \(path)")
            unlink(tmp)
            throw e
        }
        try DurableFile.syncDirectory(dir)
    }

    func remove(below generation: Int) {
        for g in generations() where g < generation { unlink(path(g)) }
    }
}
