#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MeshCore
import MeshNet
import Synchronization

/// A TCP proxy standing for one control-plane replica (all of them forward to the same real control plane):
/// `kill()` refuses new connections and resets the open ones, as a replica killed with `kill -9` does;
/// `revive()` listens on the same port again.
final class ReplicaProxy: @unchecked Sendable {
    // @unchecked: `port` and `upstream` are set in init; the listener and connections are behind `state`.
    let port: UInt16
    let upstream: SocketAddress
    let accepted = Atomic<Int>(0)
    private let state = Mutex<(listener: Int32, fds: [Int32])>((-1, []))

    init(upstream: SocketAddress) throws {
        self.upstream = upstream
        let (fd, port) = LoopbackSocket.listen(port: 0)
        self.port = port
        start(fd)
    }

    var address: SocketAddress { try! SocketAddress(HostPort(host: "127.0.0.1", port: port)) }

    /// Refuses new connections and resets every open one (RST: SO_LINGER 0). Under the lock, so no pump closes
    /// (and the system reuses) a descriptor meanwhile.
    func kill() {
        state.withLock { s in
            if s.listener >= 0 { shutdown(s.listener, Int32(SHUT_RDWR)); close(s.listener) }
            for fd in s.fds {
                var lg = linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
                shutdown(fd, Int32(SHUT_RDWR))
            }
            s.listener = -1
        }
    }

    /// Listens on the same port again.
    func revive() { start(LoopbackSocket.listen(port: port).fd) }

    private func start(_ fd: Int32) {
        state.withLock { $0.listener = fd }
        Thread { [self] in acceptLoop(fd) }.start()
    }

    private func acceptLoop(_ listener: Int32) {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            accepted.add(1, ordering: .relaxed)
            let server = LoopbackSocket.connect(port: upstream.port)
            state.withLock { $0.fds += [client, server] }
            let pair = Pair()
            Thread { [self] in pump(from: client, to: server, pair) }.start()
            Thread { [self] in pump(from: server, to: client, pair) }.start()
        }
    }

    /// The two directions of one connection: the second pump to end closes both descriptors.
    private final class Pair: Sendable { let ended = Atomic<Int>(0) }

    private func pump(from: Int32, to: Int32, _ pair: Pair) {
        var buf = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = read(from, &buf, buf.count)
            if n <= 0 { break }
            var off = 0
            while off < n {
                let w = buf.withUnsafeBytes { send(to, $0.baseAddress! + off, n - off, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { break }
                off += w
            }
        }
        state.withLock { s in
            shutdown(from, Int32(SHUT_RDWR))
            shutdown(to, Int32(SHUT_RDWR))
            guard pair.ended.add(1, ordering: .relaxed).newValue == 2 else { return }
            s.fds.removeAll { $0 == from || $0 == to }
            close(from)
            close(to)
        }
    }
}
