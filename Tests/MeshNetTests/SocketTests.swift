#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import Testing

/// Non-blocking TCP on 127.0.0.1 with real sockets: listen, accept, connect, would-block, end of stream, reset.
@Suite struct SocketTests {
    static let loopbackAny = try! SocketAddress(HostPort(host: "127.0.0.1", port: 0))

    /// A listener on an ephemeral loopback port, and the address clients dial.
    static func listener(reusePort: Bool = false) throws -> (fd: Int32, address: SocketAddress) {
        let fd = try Socket.listen(loopbackAny, reusePort: reusePort)
        let bound = try #require(Socket.localAddress(fd))
        return (fd, try SocketAddress(HostPort(host: "127.0.0.1", port: bound.port)))
    }

    /// A connected (client, server) pair through `listener`.
    static func connectedPair(_ listener: (fd: Int32, address: SocketAddress)) throws -> (client: Int32, server: Int32) {
        let (client, inProgress) = try Socket.connect(listener.address)
        if inProgress { #expect(waitFor(client, Int16(POLLOUT))) }
        #expect(Socket.pendingError(client) == 0)
        #expect(waitFor(listener.fd, Int16(POLLIN)))
        guard case .done(let (server, peer)) = try Socket.accept(listener.fd) else {
            Issue.record("accept would block after POLLIN")
            throw SyscallError("accept4", EAGAIN)
        }
        #expect(peer.isLoopback)
        #expect(peer.port == Socket.localAddress(client)?.port)
        return (client, server)
    }

    /// `Socket.listen` sets `TCP_NODELAY` once and servers rely on accepted sockets inheriting it (no
    /// `setsockopt` per connection); cleared on the listener, accepted sockets do not have it.
    @Test(arguments: [true, false])
    func acceptedSocketsInheritNoDelayFromTheListener(listenerHasIt: Bool) throws {
        let l = try Self.listener()
        defer { close(l.fd) }
        if !listenerHasIt { try Socket.setOption(l.fd, Int32(IPPROTO_TCP), TCP_NODELAY, 0) }
        let (client, server) = try Self.connectedPair(l)
        defer { close(client); close(server) }
        var value: Int32 = -1
        var size = socklen_t(MemoryLayout<Int32>.size)
        #expect(getsockopt(server, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &size) == 0)
        #expect(value == (listenerHasIt ? 1 : 0))
    }

    /// `TCP_DEFER_ACCEPT`: a client that has connected but sent nothing is not handed to `accept`; once its
    /// first bytes arrive it is, and they can be read at once. Without the option the same client is accepted
    /// before it speaks (the comparison keeps the test honest).
    @Test(arguments: [true, false])
    func aDeferringListenerHandsOverAConnectionOnlyWithItsFirstBytes(defers: Bool) throws {
        let fd = try Socket.listen(Self.loopbackAny, reusePort: false, deferAcceptSeconds: defers ? 1 : 0)
        defer { close(fd) }
        let bound = try #require(Socket.localAddress(fd))
        let (client, inProgress) = try Socket.connect(try SocketAddress(HostPort(host: "127.0.0.1", port: bound.port)))
        defer { close(client) }
        if inProgress { #expect(waitFor(client, Int16(POLLOUT))) }
        #expect(Socket.pendingError(client) == 0)
        #expect(waitFor(fd, Int16(POLLIN), ms: 200) == !defers, "a silent client is accepted only without the option")
        "GET / HTTP/1.1\r\n".withCString { _ = Glibc.write(client, $0, strlen($0)) }
        #expect(waitFor(fd, Int16(POLLIN)))
        guard case .done(let (server, _)) = try Socket.accept(fd) else {
            Issue.record("accept would block after the first bytes arrived")
            return
        }
        defer { close(server) }
        if !defers { #expect(waitFor(server, Int16(POLLIN))) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(server, $0.baseAddress, $0.count) }
        #expect(n == 16, "the request bytes are there right after accept")
    }

    @Test func listenOnPortZeroGetsAnEphemeralLoopbackPort() throws {
        let l = try Self.listener()
        defer { close(l.fd) }
        #expect(l.address.port != 0)
        #expect(Socket.localAddress(l.fd)?.description == "127.0.0.1:\(l.address.port)")
    }

    @Test func acceptWithNothingQueuedWouldBlock() throws {
        let l = try Self.listener()
        defer { close(l.fd) }
        guard case .wouldBlock = try Socket.accept(l.fd) else {
            Issue.record("accept on an empty queue did not report would-block")
            return
        }
    }

    @Test func connectAcceptAndExchangeBytesBothWays() throws {
        let l = try Self.listener()
        defer { close(l.fd) }
        let (client, server) = try Self.connectedPair(l)
        defer { close(client); close(server) }
        try send(client, "hello")
        #expect(waitFor(server, Int16(POLLIN)))
        #expect(try receive(server) == "hello")
        try send(server, "world")
        #expect(waitFor(client, Int16(POLLIN)))
        #expect(try receive(client) == "world")
    }

    @Test func readWithNothingToReadWouldBlock() throws {
        let l = try Self.listener()
        defer { close(l.fd) }
        let (client, server) = try Self.connectedPair(l)
        defer { close(client); close(server) }
        #expect(try receive(server) == nil)
    }

    @Test func shutdownWriteIsEndOfStreamForThePeerWhoMayStillSend() throws {
        let l = try Self.listener()
        defer { close(l.fd) }
        let (client, server) = try Self.connectedPair(l)
        defer { close(client); close(server) }
        Socket.shutdownWrite(client)
        #expect(waitFor(server, Int16(POLLIN)))
        #expect(try receive(server) == "")
        try send(server, "still open")
        #expect(waitFor(client, Int16(POLLIN)))
        #expect(try receive(client) == "still open")
    }

    @Test func closeWithResetIsAConnectionResetForThePeer() throws {
        let l = try Self.listener()
        defer { close(l.fd) }
        let (client, server) = try Self.connectedPair(l)
        defer { close(server) }
        Socket.closeWithReset(client)
        #expect(waitFor(server, Int16(POLLIN)))
        #expect(throws: SyscallError("read", ECONNRESET)) { _ = try receive(server) }
    }

    @Test func aFullSendBufferWouldBlock() throws {
        let l = try Self.listener()
        defer { close(l.fd) }
        let (client, server) = try Self.connectedPair(l)
        defer { close(client); close(server) }
        let chunk = [UInt8](repeating: 0x61, count: 65_536)
        var sent = 0
        var blocked = false
        while sent < 64 << 20 {
            let r = try chunk.withUnsafeBytes { b in try Socket.write(client, b) }
            guard case .done(let n) = r else { blocked = true; break }
            sent += n
        }
        #expect(blocked, "the peer reads nothing, so the send buffer must fill (sent \(sent) bytes)")
    }

    @Test func connectToAClosedPortIsRefused() throws {
        let l = try Self.listener()
        let port = l.address.port
        close(l.fd)
        let target = try SocketAddress(HostPort(host: "127.0.0.1", port: port))
        do {
            let (fd, inProgress) = try Socket.connect(target)
            defer { close(fd) }
            if inProgress { #expect(waitFor(fd, Int16(POLLOUT))) }
            #expect(Socket.pendingError(fd) == ECONNREFUSED)
        } catch {
            #expect(error == SyscallError("connect", ECONNREFUSED))
        }
    }

    @Test func aSecondListenerOnTheSamePortNeedsReusePort() throws {
        let first = try Self.listener(reusePort: true)
        defer { close(first.fd) }
        let second = try Socket.listen(first.address, reusePort: true)
        close(second)
        let plain = try Self.listener(reusePort: false)
        defer { close(plain.fd) }
        #expect(throws: SyscallError("bind \(plain.address)", EADDRINUSE)) {
            _ = try Socket.listen(plain.address, reusePort: false)
        }
    }
}
