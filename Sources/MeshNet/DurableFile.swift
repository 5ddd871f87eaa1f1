#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// Replacing a file so that a crash leaves either the old or the new content, never a mix: write a
/// temporary file in the same folder, fsync it, rename it over the old one, fsync the folder. A failed step
/// means the write failed and nothing may be acknowledged. Every file the mesh writes (the control plane's
/// store, the sidecar's keys, certificates and last-known-good policy, the dev tools' PKI) goes through here.
public enum DurableFile {
    /// The temporary file is created new (`O_EXCL`) and never through a symlink (`O_NOFOLLOW`), so nobody
    /// can make us write a key elsewhere; it has `mode` (default 0600, owner only; less the umask) before its first byte.
    public static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws(MeshError) {
        let dir = directory(of: path)
        let tmp = "\(path).tmp-\(getpid())"
        unlink(tmp)  // a leftover would keep its old mode
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd < 0 { throw failure("create \(tmp)") }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = failure("write \(tmp)")
                close(fd)
                unlink(tmp)
                throw e
            }
            off += n
        }
        if fsync(fd) != 0 {
            let e = failure("fsync \(tmp)")
            close(fd)
            unlink(tmp)
            throw e
        }
        close(fd)
        if rename(tmp, path) != 0 {
            let e = failure("rename \(tmp) to \(path)")
            unlink(tmp)
            throw e
        }
        try syncDirectory(dir)
    }

    public static func syncDirectory(_ dir: String) throws(MeshError) {
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd < 0 { throw failure("open folder \(dir)") }
        defer { close(dfd) }
        if fsync(dfd) != 0 { throw failure("fsync folder \(dir)") }
    }

    /// Removes `*.tmp-*` leftovers of interrupted writes in `dir` (called at start; they were never acknowledged).
    public static func removeLeftovers(in dir: String) {
        guard let d = opendir(dir) else { return }
        defer { closedir(d) }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.contains(".tmp-") { unlink("\(dir)/\(name)") }
        }
    }

    public static func read(_ path: String, limit: Int = 16 << 20) throws(MeshError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw MeshError(errno == ENOENT ? .storeMissing : .storeIo, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw failure("read \(path)") }
            if n == 0 { return out }
            out += chunk[0..<n]
            if out.count > limit { throw MeshError(.storeTooLarge, "\(path) is larger than \(limit) bytes") }
        }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(MeshError) {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw failure("mkdir \(path)") }
    }

    /// The folder holding `path` (`.` for a bare name).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    /// Appends `bytes` to the open file `fd` (now `size` bytes long) and fsyncs; `size` grows only once they are
    /// durable. On a failure the file is cut back to `size`, so a reader never meets half an append.
    public static func append(_ bytes: [UInt8], fd: Int32, size: inout Int, path: String) throws(MeshError) {
        func undo(_ what: String) -> MeshError {
            let e = failure(what)
            _ = ftruncate(fd, off_t(size))
            return e
        }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 { if errno == EINTR { continue }; throw undo("append \(path)") }
            off += n
        }
        if fsync(fd) != 0 { throw undo("fsync \(path)") }
        size += bytes.count
    }

    /// A `store.io` error naming the step that failed and the errno it left.
    public static func failure(_ what: String) -> MeshError {
        MeshError(.storeIo, "\(what): \(String(cString: strerror(errno)))")
    }
}
