import Glibc
import Synchronization

/// Loopback ports for test servers: free now and never handed out before in this test process. The kernel may
/// give a port that was bound and closed to the next `bind(0)`, so two callers (a sidecar's inbound and admin
/// ports, an etcd member's client and peer ports, or one of each from tests running side by side) could
/// otherwise get the same one. One registry for every fixture.
public enum LoopbackPorts {
    private static let handedOut = Mutex<Set<UInt16>>([])

    /// One port (after 64 collisions in a row, whatever the kernel gives).
    public static func take() -> UInt16 {
        for _ in 0..<64 {
            let port = ephemeral()
            if port != 0 && handedOut.withLock({ $0.insert(port).inserted }) { return port }
        }
        return ephemeral()
    }

    public static func take(_ n: Int) -> [UInt16] { (0..<n).map { _ in take() } }

    private static func ephemeral() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = 0
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: a.sin_port)
    }
}
