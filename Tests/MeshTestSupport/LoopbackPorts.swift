import Glibc
import Synchronization

/// Loopback ports for test servers: free now and never handed out before in this test process. The kernel may
/// give a port that was bound and closed to the next `bind(0)`, so two callers (a sidecar's inbound and admin
/// ports, an etcd member's client and peer ports, or one of each from tests running side by side) could
/// otherwise get the same one. One registry for every fixture.
///
/// Ports come from just below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768-60999 by
/// default), where neither a `bind(0)` nor an outgoing connection's source port ever lands: between being handed
/// out and being bound by its fixture (a process that is still starting), a port cannot be taken by a server
/// another test started on port 0, nor become the local end of some sidecar's connection (seen as `listen …:
/// errno 98` in a full run, and as a killed control plane's port answering for another test's server). With an
/// ephemeral range too low to leave room below it, the kernel's `bind(0)` is the fallback.
public enum LoopbackPorts {
    private static let handedOut = Mutex<Set<UInt16>>([])
    /// 10,000 ports below the ephemeral range, walked from a random start (two test processes on one machine
    /// start apart); nil when the range starts below 12,000.
    private static let below: ClosedRange<Int>? = {
        guard let low = ephemeralLow(), low >= 12_000 else { return nil }
        return (low - 10_000)...(low - 1)
    }()
    private static let cursor = Mutex<Int>(Int.random(in: 0..<10_000))

    /// One port (after 64 collisions in a row, whatever the kernel gives).
    public static func take() -> UInt16 {
        if let below {
            for _ in 0..<below.count {
                let port = UInt16(cursor.withLock { c in c = (c + 1) % below.count; return below.lowerBound + c })
                if bindable(port) && handedOut.withLock({ $0.insert(port).inserted }) { return port }
            }
        }
        for _ in 0..<64 {
            let port = ephemeral()
            if port != 0 && handedOut.withLock({ $0.insert(port).inserted }) { return port }
        }
        return ephemeral()
    }

    public static func take(_ n: Int) -> [UInt16] { (0..<n).map { _ in take() } }

    /// The first port of the kernel's ephemeral range (nil when it cannot be read).
    static func ephemeralLow() -> Int? {
        guard let f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 64)
        guard fgets(&line, Int32(line.count), f) != nil else { return nil }
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
    }

    /// Whether 127.0.0.1:`port` can be bound right now (nobody listens on it, no connection uses it).
    private static func bindable(_ port: UInt16) -> Bool {
        var a = loopback(port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    private static func ephemeral() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = loopback(0)
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: a.sin_port)
    }

    private static func loopback(_ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = port.bigEndian
        return a
    }
}
