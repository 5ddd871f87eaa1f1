#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import MeshHTTP
import MeshNet
import MeshCore

/// The server on a real loopback socket: connections that never send a request are reaped by the request
/// deadline, and a request parked in a handler whose client resets gives its slot back at once.
@Suite struct HTTPServerDeadlineTests {
    final class Running: @unchecked Sendable {
        let loop: EventLoop
        let server: HTTPServer
        let thread: LoopThread

        init(limits: HTTPServerLimits, handler: @escaping HTTPHandler) throws {
            loop = try EventLoop()
            server = try HTTPServer(loop: loop, address: try SocketAddress(HostPort(host: "127.0.0.1", port: 0)), limits: limits, handler: handler)
            thread = loop.startThread()
        }

        var open: Int { server.open.load(ordering: .relaxed) }

        func stop() {
            loop.execute { [server] in server.close() }
            loop.stop()
            thread.join()
        }
    }

    static func connect(_ address: SocketAddress) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = address.port.bigEndian
        let r = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else { throw SyscallError("connect", errno) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    @Test func aConnectionThatSendsNoRequestIsReapedByTheRequestDeadline() throws {
        var limits = HTTPServerLimits()
        limits.requestTimeoutMs = 300
        let s = try Running(limits: limits) { _, respond in respond(.text("ok")) }
        defer { s.stop() }
        let fd = try Self.connect(s.server.address)
        defer { close(fd) }
        let started = Date()
        var b: UInt8 = 0
        let n = recv(fd, &b, 1, 0)
        #expect(n == 0, "closed by the server (recv: \(n), errno \(errno))")
        #expect(Date().timeIntervalSince(started) < 2)
    }

    @Test func aParkedRequestWhoseClientResetsIsReapedAtOnce() throws {
        let parked = Mutex<[@Sendable (HTTPResponse) -> Void]>([])
        let s = try Running(limits: HTTPServerLimits()) { _, respond in parked.withLock { $0.append(respond) } }
        defer { s.stop() }
        let fd = try Self.connect(s.server.address)
        let request = Array("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
        #expect(send(fd, request, request.count, 0) == request.count)
        let deadline = Date().addingTimeInterval(2)
        while parked.withLock({ $0.isEmpty }) && Date() < deadline { usleep(10_000) }
        #expect(s.open == 1)
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(fd)
        let gone = Date().addingTimeInterval(1)
        while s.open > 0 && Date() < gone { usleep(10_000) }
        #expect(s.open == 0, "the reset connection still holds its slot")
    }
}
