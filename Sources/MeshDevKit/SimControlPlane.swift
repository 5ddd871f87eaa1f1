#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet

/// CPU seconds (user + system, all threads) and resident memory of a process, from `/proc/<pid>/stat` and
/// `/proc/<pid>/status`: what the load tool reports for the control plane at the start and end of a drive.
struct ProcessUsage: Equatable {
    var cpuSeconds: Double
    var rssKiB: Int

    static func read(pid: Int32) -> ProcessUsage? {
        guard let stat = try? FileIO.readAll("/proc/\(pid)/stat", limit: 8192).get(),
              let status = try? FileIO.readAll("/proc/\(pid)/status", limit: 65_536).get() else { return nil }
        let text = String(decoding: stat, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        // After "(comm)": field 3 (state) is index 0, so utime (14) and stime (15) are indexes 11 and 12.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let rss = String(decoding: status, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("VmRSS:") }
            .flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
        return ProcessUsage(cpuSeconds: (user + system) / Double(sysconf(Int32(_SC_CLK_TCK))), rssKiB: rss)
    }
}

/// A `mesh-control` the tool starts itself (`--spawn`): `init` and `serve` in a fresh temporary folder, on a
/// free loopback port, its log in `DIR/control.log`. Killed (SIGTERM) when the run ends.
final class SpawnedControlPlane {
    let dir: String
    let port: UInt16
    let pid: pid_t
    var dataDir: String { "\(dir)/data" }

    static let passphrase = "simulate-passphrase-not-secret"

    init(extraArgs: [String]) throws {
        var template = Array("/tmp/mesh-sim-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw MeshError(.simSetup, "cannot make a temporary folder") }
        dir = String(cString: template)
        let binary = Self.sibling("mesh-control")
        let initStatus = try Self.run(binary, ["init", "--data-dir", "\(dir)/data", "--trust-domain", "mesh.local"], log: "\(dir)/init.log", wait: true)
        guard initStatus == 0 else { throw MeshError(.simSetup, "mesh-control init failed (exit \(initStatus)); see \(dir)/init.log") }
        port = try Self.freePort()
        pid = try Self.run(binary, ["serve", "--data-dir", "\(dir)/data", "--listen", "127.0.0.1:\(port)"] + extraArgs,
                           log: "\(dir)/control.log", wait: false)
        let address = try SocketAddress(HostPort(host: "127.0.0.1", port: port))
        let deadline = SystemClock().monotonicMs() + 15_000
        while SystemClock().monotonicMs() < deadline {
            if let (fd, _) = try? Socket.connect(address) {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 200)
                let ok = Socket.pendingError(fd) == 0
                close(fd)
                if ok { return }
            }
            if waitpid(pid, nil, WNOHANG) == pid { break }
            usleep(20_000)
        }
        stop()
        throw MeshError(.simSetup, "mesh-control serve did not start; see \(dir)/control.log")
    }

    /// Stops the control plane; with `removeFolder`, deletes its temporary folder (kept when a run failed, for its log).
    func stop(removeFolder: Bool = false) {
        defer { if removeFolder { _ = try? Self.run("/bin/rm", ["-rf", dir], log: "/dev/null", wait: true) } }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<250 where waitpid(pid, &status, WNOHANG) == 0 { usleep(20_000) }
        if waitpid(pid, &status, WNOHANG) == 0 { kill(pid, SIGKILL); waitpid(pid, &status, 0) }
    }

    /// A binary next to this one (`mesh-dev` is built with `mesh-control` in the same folder).
    static func sibling(_ name: String) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return name }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return exe.lastIndex(of: "/").map { String(exe[...$0]) + name } ?? name
    }

    /// Starts `binary args` with the CA passphrase in its environment and stdout+stderr to `log`; with `wait`,
    /// returns its exit status, else its pid.
    static func run(_ binary: String, _ args: [String], log: String, wait: Bool) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + args).map { strdup($0) } + [nil]
        let env: [String] = ["MESH_CA_PASSPHRASE=\(passphrase)", "PATH=/usr/bin:/bin"]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, binary, &actions, nil, argv, envp)
        guard rc == 0 else { throw MeshError(.simSetup, "cannot start \(binary): \(String(cString: strerror(rc)))") }
        guard wait else { return pid }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (status >> 8) & 0xFF
    }

    static func freePort() throws -> UInt16 {
        let fd = try Socket.listen(try SocketAddress(HostPort(host: "127.0.0.1", port: 0)), reusePort: false)
        defer { close(fd) }
        guard let port = Socket.localAddress(fd)?.port, port != 0 else { throw MeshError(.simSetup, "no free port") }
        return port
    }
}
