#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshTestSupport
import Testing

/// Literal addresses only (no DNS in the data path); `localhost` is the one name, and means 127.0.0.1.
@Suite struct SocketAddressTests {
    @Test(arguments: [
        ("127.0.0.1", UInt16(8080), AF_INET, "127.0.0.1:8080", true),
        ("localhost", 15001, AF_INET, "127.0.0.1:15001", true),
        ("127.255.0.9", 1, AF_INET, "127.255.0.9:1", true),
        ("10.1.2.3", 443, AF_INET, "10.1.2.3:443", false),
        ("0.0.0.0", 15443, AF_INET, "0.0.0.0:15443", false),
        ("::1", 443, AF_INET6, "[::1]:443", true),
        ("::", 0, AF_INET6, "[::]:0", false),
        ("2001:db8::1", 65535, AF_INET6, "[2001:db8::1]:65535", false),
        ("::ffff:127.0.0.1", 80, AF_INET6, "[::ffff:127.0.0.1]:80", true),
        ("::ffff:10.0.0.1", 80, AF_INET6, "[::ffff:10.0.0.1]:80", false),
    ])
    func parsesLiterals(host: String, port: UInt16, family: Int32, text: String, loopback: Bool) throws {
        let a = try SocketAddress(HostPort(host: host, port: port))
        #expect(a.family == family)
        #expect(a.port == port)
        #expect(a.description == text)
        #expect(a.isLoopback == loopback)
        #expect(Int(a.length) == (family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size))
    }

    @Test(arguments: [
        ("256.0.0.1", "not an IPv4 literal"),
        ("10.0.0", "not an IPv4 literal"),
        ("example.com", "not an IPv4 literal"),
        ("", "not an IPv4 literal"),
        ("fe80::zz", "not an IPv6 literal"),
        (":::1", "not an IPv6 literal"),
        ("[::1]", "not an IPv6 literal"),
    ])
    func refusesWhatIsNotALiteral(host: String, reasonPrefix: String) {
        expectMeshError("net.bad-address", reasonPrefix: reasonPrefix) {
            _ = try SocketAddress(HostPort(host: host, port: 80))
        }
    }
}
