#if canImport(Glibc)
import Glibc
#endif
import CMeshSysShims

/// Non-blocking UDP datagram calls on raw file descriptors (the sidecar's DNS responder). The caller owns and
/// closes the fd.
public enum UDPSocket {
    /// A datagram socket bound to `address` (nil: unbound), then connected to `peer` when given (the kernel then
    /// drops datagrams from anyone else).
    public static func open(bind address: SocketAddress?, connect peer: SocketAddress? = nil, family: Int32 = AF_INET) throws(SyscallError) -> Int32 {
        let fd = try Syscall.must("socket") {
            socket(address?.family ?? peer?.family ?? family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        if let address, address.withSockaddr({ bind(fd, $0, $1) }) != 0 {
            let e = errno
            close(fd)
            throw SyscallError("bind \(address)", e)
        }
        if let peer, peer.withSockaddr({ Glibc.connect(fd, $0, $1) }) != 0 {
            let e = errno
            close(fd)
            throw SyscallError("connect \(peer)", e)
        }
        return fd
    }

    /// One datagram into `buffer` (longer ones are cut: check the returned length against the buffer size) and
    /// who sent it; nil when none is waiting (or on an error, which UDP reports per datagram).
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, from: SocketAddress)? {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &st) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                recvfrom(fd, buffer.baseAddress, buffer.count, Int32(MSG_TRUNC), $0, &len)
            }
        }
        guard n >= 0 else { return nil }
        return (n, SocketAddress(storage: st, length: len))
    }

    /// Sends one datagram (to `to`, or to the connected peer); false when the kernel did not take it.
    @discardableResult
    public static func send(_ fd: Int32, _ bytes: [UInt8], to: SocketAddress? = nil) -> Bool {
        bytes.withUnsafeBytes { raw in
            if let to { return to.withSockaddr { sendto(fd, raw.baseAddress, raw.count, 0, $0, $1) } == raw.count }
            return Glibc.send(fd, raw.baseAddress, raw.count, 0) == raw.count
        }
    }
}
