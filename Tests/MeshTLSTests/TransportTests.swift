#if canImport(Glibc)
import MeshTestSupport
import Glibc
#endif
@testable import MeshTLS
import MeshCore
import MeshNet
import Testing

/// One transport API over a socket pair, plaintext and TLS: the same results for the same situations, so the
/// proxy, the HTTP server and the HTTP client share one read/write/want path.
@Suite struct TransportTests {
    /// Two transports over a fresh socket pair (plaintext, or with an established TLS session between them).
    private final class Pair {
        var a: Transport
        var b: Transport
        private let connection: TLSConnection?
        private let sockets: SocketPair?

        init(tls: Bool) throws {
            if tls {
                let authority = try TestCA()
                let c = try TLSConnection.established(server: authority.identity(serverID.description),
                                                      client: authority.identity(clientID.description))
                connection = c
                sockets = nil
                a = Transport(fd: c.sockets.clientFD, tls: c.client)
                b = Transport(fd: c.sockets.serverFD, tls: c.server)
            } else {
                let s = try SocketPair()
                sockets = s
                connection = nil
                a = Transport(plain: s.clientFD)
                b = Transport(plain: s.serverFD)
            }
        }

        func waitReadable() { (connection?.sockets ?? sockets!).waitReadable(milliseconds: 2) }

        /// Reads from `b` until something other than a want comes out, appending bytes to `into`.
        func readFromB(into received: inout [UInt8], rounds: Int = 200) -> TransportRead {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var last = TransportRead.wantRead
            for _ in 0..<rounds {
                last = buffer.withUnsafeMutableBytes { b.read(into: $0) }
                if case .bytes(let n) = last { received += buffer[0..<n]; return last }
                if last != .wantRead && last != .wantWrite { return last }
                waitReadable()
            }
            return last
        }
    }

    @Test(arguments: [false, true])
    func readWithNothingSentWantsRead(tls: Bool) throws {
        let p = try Pair(tls: tls)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(buffer.withUnsafeMutableBytes { p.b.read(into: $0) } == .wantRead)
        #expect(!p.b.hasBufferedInput)
        #expect(p.a.isTLS == tls)
    }

    @Test(arguments: [false, true])
    func bytesArriveUnchanged(tls: Bool) throws {
        let p = try Pair(tls: tls)
        let sent = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        #expect(sent.withUnsafeBytes { p.a.write($0) } == .wrote(sent.count))
        var received: [UInt8] = []
        while received.count < sent.count {
            guard case .bytes = p.readFromB(into: &received) else { break }
        }
        #expect(received == sent)
    }

    @Test(arguments: [false, true])
    func shutdownWriteIsEndOfStreamAndTheOtherWayStaysOpen(tls: Bool) throws {
        let p = try Pair(tls: tls)
        #expect(p.a.shutdownWrite() == .done)
        #expect(p.a.shutdownWrite() == .done)  // again: harmless, close_notify is not sent twice
        var received: [UInt8] = []
        #expect(p.readFromB(into: &received) == .eof)
        let answer = Array("still here".utf8)
        #expect(answer.withUnsafeBytes { p.b.write($0) } == .wrote(answer.count))
        var buffer = [UInt8](repeating: 0, count: 64)
        var got = TransportRead.wantRead
        for _ in 0..<200 {
            got = buffer.withUnsafeMutableBytes { p.a.read(into: $0) }
            if got != .wantRead { break }
            p.waitReadable()
        }
        #expect(got == .bytes(answer.count))
        #expect(Array(buffer[0..<answer.count]) == answer)
    }

    @Test(arguments: [false, true])
    func fullSocketWantsWrite(tls: Bool) throws {
        let p = try Pair(tls: tls)
        let chunk = [UInt8](repeating: 0x61, count: 65_536)
        var last = TransportWrite.wrote(0)
        for _ in 0..<1_000 {
            last = chunk.withUnsafeBytes { p.a.write($0) }
            if case .wrote = last { continue }
            break
        }
        #expect(last == .wantWrite)
    }

    @Test func plaintextFailureCarriesTheSyscallError() throws {
        var fds: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        var a = Transport(plain: fds[0])
        var b = Transport(plain: fds[1])
        defer { a.close() }
        #expect(Array("x".utf8).withUnsafeBytes { a.write($0) } == .wrote(1))
        b.close()  // with our byte unread: the peer sees a reset
        var buffer = [UInt8](repeating: 0, count: 16)
        let r = buffer.withUnsafeMutableBytes { a.read(into: $0) }
        #expect(r == .failed(.socket(SyscallError("read", ECONNRESET))))
        #expect(r.failureDescription?.contains("read failed") == true)
    }

    @Test func tlsBytesAlreadyDecryptedAreReportedAsBuffered() throws {
        let p = try Pair(tls: true)
        let sent = [UInt8](repeating: 0x62, count: 3_000)
        #expect(sent.withUnsafeBytes { p.a.write($0) } == .wrote(sent.count))
        var small = [UInt8](repeating: 0, count: 10)
        var first = TransportRead.wantRead
        for _ in 0..<200 {
            first = small.withUnsafeMutableBytes { p.b.read(into: $0) }
            if first != .wantRead { break }
            p.waitReadable()
        }
        #expect(first == .bytes(10))
        #expect(p.b.hasBufferedInput)  // the rest of the record: epoll would not report it
    }
}

extension TransportRead {
    var failureDescription: String? {
        if case .failed(let e) = self { return e.description }
        return nil
    }
}
