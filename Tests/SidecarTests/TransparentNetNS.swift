import Foundation
import Glibc
import MeshTestSupport
import Synchronization

/// A network namespace a test creates and deletes (`ip netns`), and the calls to reach into it: run a command in
/// it, or create a socket in it (a socket keeps the namespace it was created in, so the test process can listen
/// or connect inside one without a helper process).
final class NetNS: @unchecked Sendable {
    let name: String

    /// Root, and `ip` and `iptables` installed: else tests that need namespaces skip with this reason.
    static var unavailableReason: String? {
        if getuid() != 0 { return "network namespace tests need root" }
        for tool in ["/usr/sbin/ip", "/usr/sbin/iptables", "/usr/sbin/iptables-save"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing (.ci/run installs iptables)"
        }
        return nil
    }

    init(_ prefix: String) throws {
        name = "\(prefix)-\(UUID().uuidString.prefix(6).lowercased())"
        try Self.must(["/usr/sbin/ip", "netns", "add", name])
        try exec(["/usr/sbin/ip", "link", "set", "lo", "up"])
    }

    /// Deletes the namespace (its veth ends, rules and sockets' network go with it) and its resolv.conf.
    func delete() {
        _ = try? ChildProcess.run("/usr/sbin/ip", ["netns", "delete", name])
        try? FileManager.default.removeItem(atPath: "/etc/netns/\(name)")
        rmdir("/etc/netns")  // only when empty (then it is ours)
    }

    /// `resolv.conf` seen by processes started with `ip netns exec` (it bind-mounts /etc/netns/NAME/*).
    func setResolvConf(_ text: String) throws {
        try FileManager.default.createDirectory(atPath: "/etc/netns/\(name)", withIntermediateDirectories: true)
        try text.writeReplacing(toFile: "/etc/netns/\(name)/resolv.conf")
    }

    @discardableResult
    func exec(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try Self.must(["/usr/sbin/ip", "netns", "exec", name] + args)
    }

    func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run("/usr/sbin/ip", ["netns", "exec", name] + args)
    }

    @discardableResult
    static func must(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try ChildProcess.run(args[0], Array(args.dropFirst()))
        guard r.status == 0 else { throw TestFailure("\(args.joined(separator: " ")): \(r.status) \(r.stderr)") }
        return r
    }

    /// A veth pair between `a` and `b` with `addrA`/`addrB` (CIDR text) on the two ends.
    static func link(_ a: NetNS, _ addrA: String, _ b: NetNS, _ addrB: String) throws {
        let ea = "v\(UUID().uuidString.prefix(6).lowercased())", eb = "v\(UUID().uuidString.prefix(6).lowercased())"
        try must(["/usr/sbin/ip", "link", "add", ea, "netns", a.name, "type", "veth", "peer", "name", eb, "netns", b.name])
        try a.exec(["/usr/sbin/ip", "addr", "add", addrA, "dev", ea])
        try b.exec(["/usr/sbin/ip", "addr", "add", addrB, "dev", eb])
        try a.exec(["/usr/sbin/ip", "link", "set", ea, "up"])
        try b.exec(["/usr/sbin/ip", "link", "set", eb, "up"])
    }

    /// glibc's setns(2) (not visible to Swift without _GNU_SOURCE).
    private static let setns: @convention(c) (Int32, Int32) -> Int32 = unsafeBitCast(dlsym(nil, "setns")!, to: (@convention(c) (Int32, Int32) -> Int32).self)

    /// Runs `body` with this thread in the namespace (sockets created meanwhile belong to it), then returns.
    func inside<T>(_ body: () throws -> T) throws -> T {
        let mine = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let target = open("/var/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        defer { close(mine); close(target) }
        guard mine >= 0, target >= 0, Self.setns(target, 0x4000_0000) == 0 else { throw TestFailure("setns \(name): errno \(errno)") }
        defer { precondition(Self.setns(mine, 0x4000_0000) == 0, "setns back failed") }
        return try body()
    }
}

/// Forwards TCP from a listening socket to `127.0.0.1:port` of another namespace (a socket made by `dial`):
/// lets loopback-only fixtures (the control plane, the stats endpoint, the test app) be reached across
/// namespaces. Blocking, two threads per connection; closes everything on `stop`.
final class TCPBridge: @unchecked Sendable {
    private let listenFD: Int32
    private let dial: @Sendable () -> Int32?
    private let stopped = Atomic<Bool>(false)
    private let open = Mutex<Set<Int32>>([])

    init(listenFD: Int32, dial: @escaping @Sendable () -> Int32?) {
        self.listenFD = listenFD
        self.dial = dial
        let me = self
        spawnThread { me.acceptLoop() }
    }

    /// A socket connected to 127.0.0.1:`port` inside `ns` (nil: refused).
    static func connector(_ ns: NetNS?, port: UInt16) -> @Sendable () -> Int32? {
        { () -> Int32? in
            let fd: Int32 = (try? ns.map { n in try n.inside { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) } } ?? socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)) ?? -1
            guard fd >= 0 else { return nil }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            a.sin_port = port.bigEndian
            let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if r != 0 { close(fd); return nil }
            return fd
        }
    }

    /// Listens on 127.0.0.1:`port` in `from` (nil: this namespace) and forwards to 127.0.0.1:`toPort` in `to`.
    static func make(from: NetNS?, port: UInt16, to: NetNS?, toPort: UInt16) throws -> TCPBridge {
        let fd = try from.map { try $0.inside { try TCP.listen(port: port) } } ?? TCP.listen(port: port)
        return TCPBridge(listenFD: fd, dial: connector(to, port: toPort))
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        open.withLock { for fd in $0 { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let c = accept(listenFD, nil, nil)
            if c < 0 { if errno == EINTR { continue }; return }
            guard let u = dial() else { close(c); continue }
            open.withLock { $0.insert(c); $0.insert(u) }
            let me = self
            spawnThread { me.pump(c, u) }
            spawnThread { me.pump(u, c) }
        }
    }

    private func pump(_ from: Int32, _ to: Int32) {
        var buf = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || !TCP.sendAll(to, Array(buf[0..<n])) { break }
        }
        shutdown(to, Int32(SHUT_WR))
        shutdown(from, Int32(SHUT_RD))
        // The second pump to finish closes both.
        let last = open.withLock { s -> Bool in
            if s.contains(-from - 2) { s.remove(-from - 2); s.remove(from); s.remove(to); return true }
            s.insert(-to - 2)
            return false
        }
        if last { close(from); close(to) }
    }
}
