#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// Limits of an HTTP server, with their defaults.
public struct HTTPServerLimits: Sendable {
    /// Header and body caps (431 / 413 beyond).
    public var codec = HTTPLimits()
    /// From the first byte of a request to its last: slow headers and slow bodies are reaped (408).
    public var requestTimeoutMs: Int64 = 10_000
    /// A keep-alive connection with no request for this long is closed.
    public var idleTimeoutMs: Int64 = 60_000
    /// TLS handshake deadline (TLS servers only).
    public var handshakeTimeoutMs: Int64 = 10_000
    /// Open connections; beyond it new ones are closed at once.
    public var maxConnections = 256
    public init() {}
}

/// An HTTP/1.1 server on one event loop, plaintext or TLS (`tls` given: every caller must present a valid
/// certificate of our trust domain, and the handler sees its SPIFFE ID).
public final class HTTPServer: EventHandler, @unchecked Sendable {
    // @unchecked: all mutable state is confined to `loop`'s thread; `open` is atomic.
    public let loop: EventLoop
    let fd: Int32
    /// Swappable (on the loop thread) so a server can renew its own certificate without restarting.
    var tls: TLSContext?
    let limits: HTTPServerLimits
    let handler: HTTPHandler
    let open = Atomic<Int>(0)
    /// The bound address (useful with port 0).
    public let address: SocketAddress
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
    var connections: [ObjectIdentifier: HTTPServerConnection] = [:]

    /// Binds now (so a busy port fails here); serving starts when the loop runs.
    public init(loop: EventLoop, address: SocketAddress, tls: TLSContext? = nil, limits: HTTPServerLimits = HTTPServerLimits(),
                handler: @escaping HTTPHandler) throws {
        self.loop = loop
        self.tls = tls
        self.limits = limits
        self.handler = handler
        fd = try Socket.listen(address, reusePort: false, backlog: 128)
        self.address = Socket.localAddress(fd) ?? address
        try loop.register(fd, .read, self)
    }

    deinit { scratch.deallocate() }

    /// New connections use `context` from now on; established ones keep theirs. Call on the loop thread.
    public func setTLS(_ context: TLSContext) { tls = context }

    /// Stops listening and closes every connection. Call on the loop thread.
    public func close() {
        loop.deregister(fd)
        Glibc.close(fd)
        for c in Array(connections.values) { c.finish() }
    }

    public func ready(fd: Int32, _ readiness: Readiness) {
        while true {
            guard case .done(let (cfd, peer))? = try? Socket.accept(self.fd) else { return }
            if open.load(ordering: .relaxed) >= limits.maxConnections {
                Glibc.close(cfd)
                continue
            }
            Socket.setNoDelay(cfd)
            let c = HTTPServerConnection(server: self, fd: cfd, peer: peer)
            do {
                try c.start()
                connections[ObjectIdentifier(c)] = c
                open.add(1, ordering: .relaxed)
            } catch {
                Glibc.close(cfd)
            }
        }
    }

    func ended(_ c: HTTPServerConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(c)) != nil {
            open.subtract(1, ordering: .relaxed)
        }
    }
}
