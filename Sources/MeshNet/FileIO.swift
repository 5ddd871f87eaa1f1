#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// Reading small files (configuration, PEM) whole, with a size cap, without Foundation.
public enum FileIO {
    public static func readAll(_ path: String, limit: Int) -> Result<[UInt8], MeshError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            return .failure(MeshError("file.unreadable", "cannot open \(path): \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(MeshError("file.unreadable", "cannot read \(path): \(String(cString: strerror(errno)))"))
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit {
                return .failure(MeshError("file.too-large", "\(path) is larger than \(limit) bytes"))
            }
        }
        return .success(out)
    }

    /// Writes `bytes` to `path` (created 0600 when new, truncated otherwise).
    public static func writeAll(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) -> Result<Void, MeshError> {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 {
            return .failure(MeshError("file.unwritable", "cannot create \(path): \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(MeshError("file.unwritable", "cannot write \(path): \(String(cString: strerror(errno)))"))
            }
            off += n
        }
        return .success(())
    }
}
