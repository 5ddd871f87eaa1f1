import Foundation
import MeshTestSupport
import Glibc

/// A real `mesh-sidecar` process started from the build folder with a JSON config written for it.
final class SidecarProcess {
    let process: Spawned
    let configPath: String
    let logPath: String
    let stderrPath: String
    /// The stats endpoint's port (a free port chosen per process).
    let adminPort: UInt16
    private(set) var config: [String: Any]

    /// The folder holding the built executables (next to the test bundle).
    static var binDir: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }

    /// `launcher`: a command that execs the sidecar in place (e.g. `prlimit --nofile=256:4096`), keeping its pid.
    init(name: String, config: [String: Any], dir: String, launcher: [String] = []) throws {
        configPath = "\(dir)/\(name).json"
        logPath = "\(dir)/\(name).log"
        stderrPath = "\(dir)/\(name).stderr"
        var cfg = config
        var log = (cfg["log"] as? [String: Any]) ?? [:]
        log["file"] = logPath
        cfg["log"] = log
        if let listen = (cfg["admin"] as? [String: Any])?["listen"] as? String, let p = listen.split(separator: ":").last.flatMap({ UInt16($0) }) {
            adminPort = p  // a restart with the same config keeps its stats port
        } else {
            adminPort = TCP.freePort()
            cfg["admin"] = ["listen": "127.0.0.1:\(adminPort)"]
        }
        self.config = cfg
        try Self.write(cfg, to: configPath)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let command = launcher + ["\(Self.binDir)/mesh-sidecar", "run", "--config", configPath]
        process = try Spawned(command[0], Array(command.dropFirst()), stderr: .file(stderrPath))
    }

    var pid: Int32 { process.pid }

    /// Replaces the config file atomically (temp file + rename), as an operator or a config agent would.
    func rewriteConfig(_ change: (inout [String: Any]) -> Void) throws {
        change(&config)
        try Self.write(config, to: configPath)
    }

    static func write(_ cfg: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path + ".tmp"))
        guard rename(path + ".tmp", path) == 0 else { throw TestFailure("rename failed: \(errno)") }
    }

    /// One request to the stats endpoint.
    func admin(_ method: String = "GET", _ path: String) -> (status: Int, body: String) {
        guard let fd = try? TCP.connect(port: adminPort, timeoutSeconds: 5) else { return (0, "") }
        defer { close(fd) }
        _ = TCP.sendAll(fd, Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(adminPort)\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8))
        let text = String(decoding: TCP.readToEOF(fd).bytes, as: UTF8.self)
        guard let sp = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).dropFirst().first, let status = Int(sp),
              let bodyStart = text.range(of: "\r\n\r\n") else { return (0, text) }
        return (status, String(text[bodyStart.upperBound...]))
    }

    /// The admin answer parsed as a JSON object (nil when it is not one).
    func adminJSON(_ path: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(admin("GET", path).body.utf8))) as? [String: Any]
    }

    /// Waits until the stats endpoint says ready: every listener is bound then, and no probe connection
    /// has touched the data path (so counters start at zero).
    func waitReady(timeout: Double = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while admin("GET", "/ready").status != 200 {
            if !process.isRunning { throw TestFailure("sidecar exited early: \(stderr())") }
            if Date() > deadline { throw TestFailure("not ready after \(timeout)s; stderr: \(stderr())") }
            usleep(20_000)
        }
    }

    /// Waits until every port accepts TCP connections (or the process dies).
    func waitListening(_ ports: [UInt16], timeout: Double = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        for port in ports {
            while true {
                if !process.isRunning { throw TestFailure("sidecar exited early: \(stderr())") }
                if let fd = try? TCP.connect(port: port) { close(fd); break }
                if Date() > deadline { throw TestFailure("port \(port) not listening after \(timeout)s; stderr: \(stderr())") }
                usleep(20_000)
            }
        }
    }

    /// Open file descriptors of the process.
    var openFDs: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Waits (bounded) until the fd count drops to `baseline`; returns the last count seen.
    func waitFDs(atMost baseline: Int, timeout: Double = 5) -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var n = openFDs
        while n > baseline && Date() < deadline {
            usleep(50_000)
            n = openFDs
        }
        return n
    }

    /// The JSON log lines written so far, parsed.
    func logEvents() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// Waits (bounded) for a log event matching `predicate`.
    func waitForEvent(timeout: Double = 5, _ predicate: ([String: Any]) -> Bool) -> [String: Any]? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let e = logEvents().first(where: predicate) { return e }
            usleep(30_000)
        } while Date() < deadline
        return nil
    }

    func stderr() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitForExit()
        }
    }

    deinit { stop() }

    /// Runs the binary to completion (for exit-code tests).
    static func runToExit(_ args: [String], timeout: Double = 10) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run("\(binDir)/mesh-sidecar", args, timeout: timeout)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
