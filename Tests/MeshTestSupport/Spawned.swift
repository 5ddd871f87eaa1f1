import Foundation
import CMeshSysShims
import Glibc

/// A child process started with `posix_spawn` and reaped with `waitpid` on its own pid: the tests' one way to run
/// a program. Foundation's `Process` was dropped from the tests because it crashed the test process now and then
/// (a bad pointer in `memcpy` inside `Process.run()`, descriptors closed twice by its run-loop sources); this
/// helper owns nothing but the pid. The child's standard streams go to `/dev/null`, to the test's own streams or
/// to a file (appended), never to a pipe, so no reader thread is needed and a child that prints a lot cannot stall.
/// Every other descriptor of the test process is closed in the child, and signal dispositions and mask are reset.
public final class Spawned: @unchecked Sendable {
    // @unchecked: `exit` (the reaped status) is guarded by `lock`; `pid` never changes.
    public enum Stream: Sendable {
        case null
        case inherit
        /// Opened for appending (created when missing); as stdin, opened for reading.
        case file(String)
    }

    public let pid: pid_t
    private let lock = NSLock()
    private var exit: Int32?

    /// `environment`: when given, the child's whole environment (as Foundation's `Process` did), else the test's.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                currentDirectory: String? = nil, stdin: Stream = .null, stdout: Stream = .inherit,
                stderr: Stream = .inherit) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, fd, path, fd == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND, 0o644)
            }
        }
        if let currentDirectory { CMeshSysShims_spawn_addchdir(&actions, currentDirectory) }
        CMeshSysShims_spawn_addclosefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = (argv + [nil]).withUnsafeBufferPointer { a in
            if let envp {
                return (envp + [nil]).withUnsafeBufferPointer { e in
                    posix_spawn(&child, executable, &actions, &attributes, a.baseAddress!, e.baseAddress!)
                }
            }
            return posix_spawn(&child, executable, &actions, &attributes, a.baseAddress!, environ)
        }
        guard rc == 0 else { throw SpawnFailure("\(executable): posix_spawn failed: \(String(cString: strerror(rc)))") }
        pid = child
    }

    deinit {
        if isRunning { Glibc.kill(pid, SIGKILL) }
        waitForExit()
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool {
        lock.withLock {
            if exit != nil { return false }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) {
                exit = Self.code(status)
                return false
            }
            return true
        }
    }

    /// Sends `signal` unless the child was already reaped (its pid may then belong to someone else).
    public func signal(_ signal: Int32) {
        lock.withLock { if exit == nil { _ = Glibc.kill(pid, signal) } }
    }

    /// SIGTERM.
    public func terminate() { signal(SIGTERM) }

    /// Waits until the child exited; returns its exit code (128 + signal when a signal ended it).
    @discardableResult
    public func waitForExit() -> Int32 {
        while isRunning { usleep(5_000) }
        return lock.withLock { exit ?? -1 }
    }

    /// Waits at most `seconds`; nil when the child still runs then.
    public func waitForExit(within seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning {
            if Date() > deadline { return nil }
            usleep(5_000)
        }
        return lock.withLock { exit }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; waits for the end.
    public func stop(grace: Double = 3) {
        guard isRunning else { return }
        signal(SIGCONT)  // a stopped child must see the SIGTERM
        terminate()
        if waitForExit(within: grace) == nil { signal(SIGKILL) }
        waitForExit()
    }

    private static func code(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Why a program could not be started.
public struct SpawnFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
