#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshNet

/// Size-based rotation of a log file: when the next line would take `FILE` past `maxBytes`, `FILE.<keep-1>` …
/// `FILE.1` move up one (the oldest, `FILE.<keep>`, is overwritten), `FILE` becomes `FILE.1`, and a new `FILE`
/// is opened. A line is never split: a line longer than `maxBytes` fills a file of its own.
public struct LogRotation: Sendable, Equatable {
    public let maxBytes: Int
    public let keep: Int
    public init(maxBytes: Int, keep: Int) {
        self.maxBytes = max(1, maxBytes)
        self.keep = max(1, keep)
    }
}

/// The one writer of a log: the descriptor (its owner), the size written so far, and rotation, all under one
/// lock, so lines from different loops never interleave and none is lost or split when the file turns over.
final class LogFile: Sendable {
    private struct Open {
        var fd: Int32
        var size: Int
    }

    private let path: String?
    private let rotation: LogRotation?
    private let ownsFD: Bool
    private let file: Mutex<Open>

    /// Appends to `path` (created 0640 if absent); its current size counts towards the first rotation.
    init(path: String, rotation: LogRotation?) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        if fd < 0 { throw SyscallError("open \(path)", errno) }
        var st = stat()
        let isFile = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        self.path = path
        // Only a regular file turns over: `/dev/null`, a FIFO or a terminal is never renamed.
        self.rotation = isFile ? rotation : nil
        let size = isFile ? Int(st.st_size) : 0
        ownsFD = true
        file = Mutex(Open(fd: fd, size: size))
    }

    /// An already open descriptor (stderr): never rotated, never closed here.
    init(fileDescriptor: Int32) {
        path = nil
        rotation = nil
        ownsFD = false
        file = Mutex(Open(fd: fileDescriptor, size: 0))
    }

    deinit {
        if ownsFD { file.withLock { _ = close($0.fd) } }
    }

    /// Writes whole lines (one `write(2)` unless the kernel takes less), rotating first if they would not fit.
    func write(_ text: String) {
        let count = text.utf8.count
        file.withLock { f in
            if let rotation, let path, f.size > 0, f.size + count > rotation.maxBytes {
                rotate(&f, path: path, rotation: rotation)
            }
            Syscall.writeAll(fd: f.fd, text)
            f.size += count
        }
    }

    /// Shifts the old files up and opens a new `FILE`. If the new file cannot be opened, lines keep going to
    /// the old descriptor (now `FILE.1`, nothing lost) and the next try is after another `maxBytes`.
    private func rotate(_ f: inout Open, path: String, rotation: LogRotation) {
        var i = rotation.keep - 1
        while i >= 1 {
            _ = rename("\(path).\(i)", "\(path).\(i + 1)")  // ENOENT: fewer old files so far
            i -= 1
        }
        _ = rename(path, "\(path).1")
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        f.size = 0
        guard fd >= 0 else { return }
        close(f.fd)
        f.fd = fd
    }
}
