#if canImport(Glibc)
import Glibc
#endif
@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// After a good handshake, bytes move unchanged both ways, and each direction can end on its own.
@Suite struct DataTransferTests {
    private func established() throws -> TLSConnection {
        let authority = try TestCA()
        return try TLSConnection.established(server: authority.identity(serverID.description),
                                             client: authority.identity(clientID.description))
    }

    @Test(arguments: [1, 4_096, 40_000])
    func movesBytesBothWaysUnchanged(size: Int) throws {
        let c = try established()
        let up = randomBytes(size), down = randomBytes(size)
        let atServer = transfer(up, from: c.client, to: c.server, sockets: c.sockets)
        let atClient = transfer(down, from: c.server, to: c.client, sockets: c.sockets)
        #expect(atServer.count == size && atServer == up)
        #expect(atClient.count == size && atClient == down)
        #expect(SHA256.hex(atServer) == SHA256.hex(up))
    }

    @Test func bothSidesKnowEachOtherAfterHandshake() throws {
        let c = try established()
        #expect(c.server.verifyPeer() == .success(clientID))
        #expect(c.client.verifyPeer(expecting: serverID) == .success(serverID))
        #expect(!c.server.isResumed && !c.client.isResumed)
    }

    @Test func clientHalfCloseReachesServerAsEOFAndServerCanStillWrite() throws {
        let c = try established()
        let request = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        #expect(transfer(request, from: c.client, to: c.server, sockets: c.sockets) == request)

        #expect(c.client.shutdownWrite() == .done)
        #expect(c.client.closeNotifySent)
        #expect(readOnce(c.server, sockets: c.sockets) == .eof)

        let response = randomBytes(8_192)
        #expect(transfer(response, from: c.server, to: c.client, sockets: c.sockets) == response)
        #expect(c.server.shutdownWrite() == .done)
        #expect(readOnce(c.client, sockets: c.sockets) == .eof)
    }

    @Test func writingAfterOwnShutdownFails() throws {
        let c = try established()
        #expect(c.client.shutdownWrite() == .done)
        let result = Array("late".utf8).withUnsafeBytes { c.client.write($0) }
        guard case .failed = result else {
            Issue.record("a write after close_notify must fail, got \(result)")
            return
        }
    }

    @Test func readWithNothingSentWantsRead() throws {
        let c = try established()
        var buffer = [UInt8](repeating: 0, count: 64)
        let server = buffer.withUnsafeMutableBytes { c.server.read(into: $0) }
        #expect(server == .wantRead)
        #expect(!c.server.hasPending)
    }

    /// A peer that closes the socket without close_notify is a failure, not a clean EOF (truncation attack).
    @Test func socketClosedWithoutCloseNotifyIsNotEOF() throws {
        let authority = try TestCA()
        let serverContext = try TLSContext(role: .server, identity: authority.identity(serverID.description))
        let clientContext = try TLSContext(role: .client, identity: authority.identity(clientID.description))
        let sockets = try SocketPair()
        let server = try TLSStream(context: serverContext, fd: sockets.serverFD)
        do {
            let client = try TLSStream(context: clientContext, fd: sockets.clientFD)
            var s = TLSStream.Step.wantRead, k = TLSStream.Step.wantWrite
            for _ in 0..<100 where !(s == .done && k == .done) {
                if k != .done { k = client.handshake() }
                if s != .done { s = server.handshake() }
                sockets.waitReadable(milliseconds: 2)
            }
            try #require(s == .done && k == .done)
        }
        shutdown(sockets.clientFD, Int32(SHUT_WR))
        let result = readOnce(server, sockets: sockets)
        guard case .failed = result else {
            Issue.record("expected a failure on a truncated stream, got \(result)")
            return
        }
    }
}
