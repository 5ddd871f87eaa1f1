import Foundation
import Glibc
import MeshCore
import Testing
import MeshTestSupport
@testable import SidecarKit

/// The sidecar's DNS responder over real UDP on loopback: mesh names from the slice, NXDOMAIN under the domain,
/// forwarding under a fresh ID with the client's ID restored, the in-flight bound and the timeout, malformed
/// queries dropped.
@Suite struct DNSResponderTests {
    /// A UDP socket on 127.0.0.1 (port 0: any) with a receive timeout.
    static func udp(port: UInt16 = 0, timeoutMs: Int = 2_000) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = port.bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let r = withUnsafeMutablePointer(to: &a) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 } }
        guard r else { throw TestFailure("udp bind: errno \(errno)") }
        var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: Int((timeoutMs % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return (fd, UInt16(bigEndian: a.sin_port))
    }

    static func send(_ fd: Int32, _ bytes: [UInt8], to port: UInt16) {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = port.bigEndian
        _ = bytes.withUnsafeBytes { b in withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } }
    }

    /// One datagram and its sender's port (nil: timed out).
    static func receive(_ fd: Int32) -> (bytes: [UInt8], port: UInt16)? {
        var buf = [UInt8](repeating: 0, count: 4096)
        var a = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buf.withUnsafeMutableBytes { b in withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &len) } } }
        return n < 0 ? nil : (Array(buf[0..<n]), UInt16(bigEndian: a.sin_port))
    }

    @Test func answersForwardsAndBoundsInFlight() throws {
        let mesh = try ManagedMesh(rules: TelemetryEndToEndTests.allowFrontend, callers: [])
        defer { mesh.stop() }
        let upstream = try Self.udp(timeoutMs: 2_000)
        defer { close(upstream.fd) }
        let dnsPort = TCP.freePort()
        let fe = try mesh.sidecar("frontend", extra: [
            "transparent": ["listen": "127.0.0.1:\(TCP.freePort())"],
            "dns": ["listen": "127.0.0.1:\(dnsPort)", "upstream": "127.0.0.1:\(upstream.port)", "maxInFlight": 2, "forwardTimeoutMs": 300]])
        try fe.waitReady(timeout: 20)
        let client = try Self.udp(timeoutMs: 2_000)
        defer { close(client.fd) }
        let payments = ServiceKey(namespace: "shop", name: "payments")
        let vip = VirtualIPs.assign([payments])[payments]!

        // A mesh name: the virtual IP, authoritative; an unknown one under the domain: NXDOMAIN. Nothing forwarded.
        Self.send(client.fd, DNSMessageTests.query("payments.shop.mesh.local", id: 7), to: dnsPort)
        let a = try #require(Self.receive(client.fd)).bytes
        #expect(Array(a[0..<4]) == [0, 7, 0x85, 0x80] && a[7] == 1)
        #expect(Array(a.suffix(4)) == [UInt8(vip >> 24), UInt8(vip >> 16 & 255), UInt8(vip >> 8 & 255), UInt8(vip & 255)])
        Self.send(client.fd, DNSMessageTests.query("ledger.shop.mesh.local", id: 8), to: dnsPort)
        let nx = try #require(Self.receive(client.fd)).bytes
        #expect(nx[1] == 8 && nx[3] & 0x0F == 3)

        // Malformed (a compression loop): dropped, no answer; the responder keeps answering.
        Self.send(client.fd, DNSMessageTests.header + [0xC0, 12, 0, 1, 0, 1], to: dnsPort)
        Self.send(client.fd, DNSMessageTests.query("payments.shop.mesh.local", id: 9), to: dnsPort)
        #expect(try #require(Self.receive(client.fd)).bytes[1] == 9)

        // Other names go upstream under another ID; the answer comes back under the client's.
        let q = DNSMessageTests.query("example.com", id: 0x4242)
        Self.send(client.fd, q, to: dnsPort)
        let (fwd, from) = try #require(Self.receive(upstream.fd))
        #expect(Array(fwd[2...]) == Array(q[2...]))
        var reply = fwd
        reply[2] |= 0x80
        reply[7] = 1
        reply += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]
        // A spoofed answer with the wrong ID is ignored, then the real one is relayed.
        var spoof = reply
        spoof[0] ^= 0xFF
        Self.send(upstream.fd, spoof, to: from)
        Self.send(upstream.fd, reply, to: from)
        let relayed = try #require(Self.receive(client.fd)).bytes
        #expect(Array(relayed[0..<2]) == [0x42, 0x42])
        #expect(Array(relayed[2...]) == Array(reply[2...]))

        // At most 2 forwards wait: the third is answered SERVFAIL at once, the first two after the 300 ms timeout.
        let t0 = Date()
        for id: UInt16 in [1, 2, 3] { Self.send(client.fd, DNSMessageTests.query("slow\(id).example.com", id: id), to: dnsPort) }
        let first = try #require(Self.receive(client.fd)).bytes
        #expect(first[1] == 3 && first[3] & 0x0F == 2)
        #expect(Date().timeIntervalSince(t0) < 0.25)
        let late = [try #require(Self.receive(client.fd)).bytes, try #require(Self.receive(client.fd)).bytes]
        #expect(Set(late.map { $0[1] }) == [1, 2] && late.allSatisfy { $0[3] & 0x0F == 2 })
        #expect(Date().timeIntervalSince(t0) >= 0.25)  // the loop's timers tick in milliseconds
        for (result, count) in [("answered", 2), ("nxdomain", 1), ("forwarded", 3), ("malformed", 1), ("overflow", 1), ("timed-out", 2)] {
            #expect(ControlPlaneLifecycleTests.metric(fe, "mesh_dns_queries_total{result=\"\(result)\"}") == count, "\(result)")
        }
    }
}
