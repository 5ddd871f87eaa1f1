#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// Reading small files (configuration, PEM) whole, with a size cap, without Foundation. Writing is
/// `DurableFile`'s job.
public enum FileIO {
    public static func readAll(_ path: String, limit: Int) -> Result<[UInt8], MeshError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            return .failure(MeshError(.fileUnreadable, "cannot open \(path): \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(MeshError(.fileUnreadable, "cannot read \(path): \(String(cString: strerror(errno)))"))
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit {
                return .failure(MeshError(.fileTooLarge, "\(path) is larger than \(limit) bytes"))
            }
        }
        return .success(out)
    }
}
