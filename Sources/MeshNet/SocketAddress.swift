#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// An IPv4 or IPv6 socket address, resolved from a literal host (no DNS: configuration names addresses).
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage: sockaddr_storage
    public let length: socklen_t
    public var family: Int32 { Int32(storage.ss_family) }

    public init(_ hp: HostPort) throws {
        let host = hp.host == "localhost" ? "127.0.0.1" : hp.host
        var st = sockaddr_storage()
        if host.contains(":") {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = hp.port.bigEndian
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else {
                throw MeshError(.netBadAddress, "not an IPv6 literal: \(host)")
            }
            withUnsafeBytes(of: a) { src in withUnsafeMutableBytes(of: &st) { $0.copyMemory(from: src) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = hp.port.bigEndian
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else {
                throw MeshError(.netBadAddress, "not an IPv4 literal: \(host)")
            }
            withUnsafeBytes(of: a) { src in withUnsafeMutableBytes(of: &st) { $0.copyMemory(from: src) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        storage = st
    }

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// The port in host order.
    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            family == AF_INET6 ? UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
                               : UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
        }
    }

    /// "ip:port" or "[ip6]:port".
    public var description: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafeBytes(of: storage) { raw -> String in
            if family == AF_INET6 {
                let a = raw.load(as: sockaddr_in6.self)
                var addr = a.sin6_addr
                inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
                let s = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                return "[\(s)]:\(UInt16(bigEndian: a.sin6_port))"
            } else {
                let a = raw.load(as: sockaddr_in.self)
                var addr = a.sin_addr
                inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count))
                let s = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                return "\(s):\(UInt16(bigEndian: a.sin_port))"
            }
        }
    }

    /// True for 127.0.0.0/8 and ::1 (and v4-mapped loopback).
    public var isLoopback: Bool {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET {
                let a = raw.load(as: sockaddr_in.self)
                return (UInt32(bigEndian: a.sin_addr.s_addr) >> 24) == 127
            }
            let a = raw.load(as: sockaddr_in6.self)
            let b = withUnsafeBytes(of: a.sin6_addr) { Array($0) }
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return b[12] == 127 }
            return false
        }
    }
}

/// Two addresses are equal when their first `length` bytes are (same family, address and port): so a set of
/// endpoints can be compared with the one a balancer was built from.
extension SocketAddress: Hashable {
    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        guard a.length == b.length else { return false }
        var x = a.storage, y = b.storage
        let n = Int(a.length)
        return withUnsafeBytes(of: &x) { p in withUnsafeBytes(of: &y) { q in memcmp(p.baseAddress!, q.baseAddress!, n) == 0 } }
    }

    public func hash(into hasher: inout Hasher) {
        var x = storage
        withUnsafeBytes(of: &x) { hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<Int(length)])) }
    }
}
