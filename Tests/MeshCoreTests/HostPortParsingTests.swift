import MeshCore
import Testing
import MeshTestSupport

@Suite struct HostPortParsingTests {
    @Test(arguments: [
        ("127.0.0.1:1", "127.0.0.1", 1),
        ("0.0.0.0:65535", "0.0.0.0", 65535),
        ("255.255.255.255:80", "255.255.255.255", 80),
        ("localhost:8080", "localhost", 8080),
        ("[::1]:80", "::1", 80),
        ("[::]:15443", "::", 15443),
        ("[2001:db8::1]:443", "2001:db8::1", 443),
        ("[2001:DB8:0:0:0:0:0:1]:443", "2001:DB8:0:0:0:0:0:1", 443),
        ("[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80),
        ("[1:2:3:4:5:6:7:8]:80", "1:2:3:4:5:6:7:8", 80),
        ("[1::]:80", "1::", 80),
        ("[1:2:3:4:5:6::8]:80", "1:2:3:4:5:6::8", 80),
    ])
    func parsesAddresses(text: String, host: String, port: Int) throws {
        let parsed = try HostPort(parsing: text)
        #expect(parsed == HostPort(host: host, port: UInt16(port)))
        #expect(parsed.description == text)
    }

    @Test(arguments: [
        ("", "config.bad-address"),
        ("127.0.0.1", "config.bad-address"),
        ("example.com:80", "config.bad-address"),
        ("LOCALHOST:80", "config.bad-address"),
        ("::1:80", "config.bad-address"),
        ("[::1]80", "config.bad-address"),
        ("[::1:80", "config.bad-address"),
        ("[1.2.3.4]:80", "config.bad-address"),
        ("[localhost]:80", "config.bad-address"),
        ("256.0.0.1:80", "config.bad-address"),
        ("01.2.3.4:80", "config.bad-address"),
        ("1.2.3:80", "config.bad-address"),
        ("1.2.3.4.5:80", "config.bad-address"),
        ("1..3.4:80", "config.bad-address"),
        (" 1.2.3.4:80", "config.bad-address"),
        ("[fe80::1%eth0]:80", "config.bad-address"),
        ("[1:2:3:4:5:6:7:8:9]:80", "config.bad-address"),
        ("[1:2:3:4:5:6:7]:80", "config.bad-address"),
        ("[1::2::3]:80", "config.bad-address"),
        ("[1:2:3:4:5:6:7::8]:80", "config.bad-address"),
        ("[:::1]:80", "config.bad-address"),
        ("[1:]:80", "config.bad-address"),
        ("[:1]:80", "config.bad-address"),
        ("[12345::]:80", "config.bad-address"),
        ("[g::]:80", "config.bad-address"),
        ("[+f::]:80", "config.bad-address"),
        ("[::1.2.3]:80", "config.bad-address"),
        ("[1.2.3.4::]:80", "config.bad-address"),
        ("[]:80", "config.bad-address"),
        ("1.2.3.4:0", "config.bad-port"),
        ("1.2.3.4:65536", "config.bad-port"),
        ("1.2.3.4:99999999999999999999", "config.bad-port"),
        ("1.2.3.4:+80", "config.bad-port"),
        ("1.2.3.4:-80", "config.bad-port"),
        ("1.2.3.4:080", "config.bad-port"),
        ("1.2.3.4:00", "config.bad-port"),
        ("1.2.3.4: 80", "config.bad-port"),
        ("1.2.3.4:80 ", "config.bad-port"),
        ("1.2.3.4:", "config.bad-port"),
        ("[::1]:", "config.bad-port"),
        ("[::1]:0x50", "config.bad-port"),
    ])
    func rejectsBadAddresses(text: String, code: String) {
        expectMeshError(code, reasonPrefix: text.debugDescription + ": ") { _ = try HostPort(parsing: text) }
    }
}
