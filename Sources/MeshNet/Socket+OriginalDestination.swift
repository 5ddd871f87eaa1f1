#if canImport(Glibc)
import Glibc
#endif
import CMeshSysShims

/// Transparent interception (issue 14): where a connection redirected by iptables was going.
extension Socket {
    /// The destination before the REDIRECT (`SO_ORIGINAL_DST`; `IP6T_SO_ORIGINAL_DST` on an IPv6 socket); nil
    /// when the kernel has none for this socket (not redirected, no conntrack entry).
    public static func originalDestination(_ fd: Int32) -> SocketAddress? {
        guard let local = localAddress(fd) else { return nil }
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        guard CMeshSysShims_original_dst(fd, local.family == AF_INET6 ? 1 : 0, &st, &len) == 0 else { return nil }
        guard Int32(st.ss_family) == AF_INET || Int32(st.ss_family) == AF_INET6 else { return nil }
        return SocketAddress(storage: st, length: Int32(st.ss_family) == AF_INET ? socklen_t(MemoryLayout<sockaddr_in>.size) : len)
    }
}

extension SocketAddress {
    /// The IPv4 address in host order (nil for IPv6 that is not v4-mapped).
    public var ipv4: UInt32? {
        withUnsafeBytes(of: storage) { raw -> UInt32? in
            if family == AF_INET { return UInt32(bigEndian: raw.load(as: sockaddr_in.self).sin_addr.s_addr) }
            let b = withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
            guard b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff else { return nil }
            return UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15])
        }
    }

    /// An IPv4 address (host order) and port.
    public init(ipv4: UInt32, port: UInt16) {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = ipv4.bigEndian
        var st = sockaddr_storage()
        withUnsafeBytes(of: a) { src in withUnsafeMutableBytes(of: &st) { $0.copyMemory(from: src) } }
        self.init(storage: st, length: socklen_t(MemoryLayout<sockaddr_in>.size))
    }
}
