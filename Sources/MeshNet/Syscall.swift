/// MeshNet owns the event loop and sockets: epoll, timers, non-blocking TCP. It knows nothing of TLS or
/// policy. Every syscall goes through `Syscall`, which retries `EINTR`, reports `EAGAIN` as would-block,
/// and treats `EBADF`/`EFAULT` as our own bug.
#if canImport(Glibc)
import Glibc
#endif

/// A failed syscall: which call, and the errno it returned.
public struct SyscallError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32
    public init(_ call: String, _ errno: Int32) {
        self.call = call
        self.errno = errno
    }
    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The result of a non-blocking I/O call.
public enum IOResult<T: Sendable>: Sendable {
    case done(T)
    case wouldBlock
}

public enum Syscall {
    /// Runs `body` until it does not fail with EINTR. Returns `.wouldBlock` for EAGAIN/EWOULDBLOCK.
    @inline(__always)
    public static func run<T: BinaryInteger & Sendable>(_ name: StaticString, _ body: () -> T) throws(SyscallError) -> IOResult<T> {
        while true {
            let r = body()
            if r >= 0 { return .done(r) }
            let e = Glibc.errno
            switch e {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case EBADF, EFAULT:
                preconditionFailure("\(name): \(e) — a file descriptor or pointer bug in our code")
            default: throw SyscallError("\(name)", e)
            }
        }
    }

    /// Like `run` but for calls that cannot block: would-block is an error too.
    @inline(__always)
    public static func must<T: BinaryInteger & Sendable>(_ name: StaticString, _ body: () -> T) throws(SyscallError) -> T {
        switch try run(name, body) {
        case .done(let v): return v
        case .wouldBlock: throw SyscallError("\(name)", EAGAIN)
        }
    }

    /// Ignore SIGPIPE once per process: a peer reset must not kill us.
    public static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Writes a whole string to a file descriptor, ignoring errors (for logs and messages).
    public static func writeAll(fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
        bytes.removeAll()
    }
}
