#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MeshCore
import MeshNet
import Synchronization

/// A TCP proxy in front of the control plane that, when armed, swallows the next bytes a client sends on an
/// open connection and closes it without a word: a keep-alive connection that went stale exactly when a
/// request was written (the server closed it, and nothing showed before the write).
final class DroppingProxy: @unchecked Sendable {
    // @unchecked: `listener` and `port` are set in init; the rest is atomic.
    let listener: Int32
    let port: UInt16
    let upstream: SocketAddress
    let armed = Atomic<Bool>(false)
    let accepted = Atomic<Int>(0)
    /// Client-to-server pumps that ended (their connection closed): a test arms only once the connections it
    /// closed are gone, or their last bytes (a TLS close_notify) would take the arm.
    let clientPumpsEnded = Atomic<Int>(0)

    init(upstream: SocketAddress) throws {
        self.upstream = upstream
        (listener, port) = LoopbackSocket.listen(port: 0)
        Thread { [self] in acceptLoop() }.start()
    }

    /// Stops accepting (shutdown wakes the blocked accept); pumps end with their connections.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    var address: SocketAddress { try! SocketAddress(HostPort(host: "127.0.0.1", port: port)) }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            accepted.add(1, ordering: .relaxed)
            let server = LoopbackSocket.connect(port: upstream.port)
            Thread { [self] in pump(from: client, to: server, dropWhenArmed: true) }.start()
            Thread { [self] in pump(from: server, to: client, dropWhenArmed: false) }.start()
        }
    }

    private func pump(from: Int32, to: Int32, dropWhenArmed: Bool) {
        var buf = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = read(from, &buf, buf.count)
            if n <= 0 { break }
            if dropWhenArmed && armed.compareExchange(expected: true, desired: false, ordering: .relaxed).exchanged { break }
            var off = 0
            while off < n {
                let w = buf.withUnsafeBytes { write(to, $0.baseAddress! + off, n - off) }
                if w <= 0 { break }
                off += w
            }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
        if dropWhenArmed { clientPumpsEnded.add(1, ordering: .relaxed) }
    }

    /// Waits (≤ 5 s) until every accepted connection's client-to-server pump has ended.
    func waitUntilIdle() {
        for _ in 0..<250 where clientPumpsEnded.load(ordering: .relaxed) < accepted.load(ordering: .relaxed) { usleep(20_000) }
    }
}
