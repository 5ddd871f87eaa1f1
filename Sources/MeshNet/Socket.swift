#if canImport(Glibc)
import Glibc
#endif
import CMeshSysShims

/// Non-blocking TCP socket calls on raw file descriptors. The owner of an fd (a connection or a listener)
/// decides when to close it; these helpers never close on their own except when creation fails half-way.
public enum Socket {
    /// A listening socket, non-blocking, with SO_REUSEADDR and (for one listener per loop) SO_REUSEPORT, and
    /// TCP_NODELAY, which every accepted socket inherits (Linux copies the listener's socket): we write whole
    /// messages and never want Nagle's delay, and it costs no `setsockopt` per connection.
    /// `deferAcceptSeconds` > 0 sets `TCP_DEFER_ACCEPT`: a connection is handed to `accept` only once its first
    /// bytes have arrived (or, for a client that stays silent, after about that long), so a protocol whose client
    /// speaks first can be read at once after `accept`, without waiting for a readiness event.
    public static func listen(_ address: SocketAddress, reusePort: Bool, backlog: Int32 = 1024,
                              deferAcceptSeconds: Int32 = 0) throws(SyscallError) -> Int32 {
        let fd = try Syscall.must("socket") {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do throws(SyscallError) {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            try setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            if deferAcceptSeconds > 0 { try setOption(fd, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, deferAcceptSeconds) }
            if address.withSockaddr({ bind(fd, $0, $1) }) != 0 { throw SyscallError("bind \(address)", errno) }
            _ = try Syscall.must("listen") { Glibc.listen(fd, backlog) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Accepts one connection, non-blocking and close-on-exec. `.wouldBlock` when the queue is empty.
    public static func accept(_ fd: Int32) throws(SyscallError) -> IOResult<(Int32, SocketAddress)> {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = try Syscall.run("accept4") {
            withUnsafeMutablePointer(to: &st) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    CMeshSysShims_accept4(fd, $0, &len, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
        }
        switch r {
        case .wouldBlock: return .wouldBlock
        case .done(let cfd): return .done((cfd, SocketAddress(storage: st, length: len)))
        }
    }

    /// Starts a non-blocking connect. Returns the fd and whether the connect is still in progress
    /// (then wait for writability and check `pendingError`).
    public static func connect(_ address: SocketAddress) throws(SyscallError) -> (fd: Int32, inProgress: Bool) {
        let fd = try Syscall.must("socket") {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        let r = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if r == 0 { return (fd, false) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return (fd, true) }
        close(fd)
        throw SyscallError("connect", e)
    }

    /// The error a non-blocking connect ended with (0 when it succeeded).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { return errno }
        return err
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SyscallError) {
        var v = value
        _ = try Syscall.must("setsockopt") { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// Reads into `buffer`. `.done(0)` is end of stream.
    @inline(__always)
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        try Syscall.run("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes from `buffer` without raising SIGPIPE.
    @inline(__always)
    public static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        try Syscall.run("send") { send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Half-close: no more bytes from us; the peer sees end of stream.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// The local address a socket is bound to (to learn an ephemeral port).
    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &st) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return r == 0 ? SocketAddress(storage: st, length: len) : nil
    }

    /// Closes with RST instead of FIN (SO_LINGER 0), used to propagate a reset.
    public static func closeWithReset(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }
}
