import Foundation
import Glibc
import Synchronization

/// An in-process app behind a sidecar, on a real loopback port. It counts every connection it accepts and
/// every byte it receives, so a test can prove that a refused caller never reached it.
final class TestApp: LoopbackServer, @unchecked Sendable {
    // @unchecked: `mode` is immutable; counters are Atomics.
    enum Mode: Sendable {
        /// Answers one HTTP request with "hello from NAME" and closes.
        case http(String)
        /// Echoes every byte; half-closes after the client does.
        case echo
        /// Reads to end of stream, then answers "got N bytes" and closes.
        case countThenReply
        /// Accepts and never reads: a receiver that pushes back until the connection is gone.
        case sink
    }

    let mode: Mode
    let bytesReceived = Atomic<Int>(0)

    init(_ mode: Mode) throws {
        self.mode = mode
        try super.init(ioTimeoutSeconds: 60)
    }

    override func serve(_ c: Int32) {
        defer { close(c) }
        var buf = [UInt8](repeating: 0, count: 256 * 1024)
        switch mode {
        case .http(let name):
            var got: [UInt8] = []
            while !got.contains(13) || !String(decoding: got, as: UTF8.self).contains("\r\n\r\n") {
                let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                bytesReceived.add(n, ordering: .relaxed)
                got.append(contentsOf: buf[0..<n])
            }
            let body = "hello from \(name)\n"
            _ = TCP.sendAll(c, Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8))
        case .echo:
            while true {
                let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { shutdown(c, Int32(SHUT_WR)); return }
                bytesReceived.add(n, ordering: .relaxed)
                let ok = buf.withUnsafeBytes { TCP.sendAll(c, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                if !ok { return }
            }
        case .countThenReply:
            var total = 0
            while true {
                let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return }
                if n == 0 { break }
                total += n
                bytesReceived.add(n, ordering: .relaxed)
            }
            _ = TCP.sendAll(c, Array("got \(total) bytes".utf8))
        case .sink:
            var p = pollfd(fd: c, events: 0, revents: 0)  // errors and hang-ups only
            while !stopped.load(ordering: .relaxed) && poll(&p, 1, 50) == 0 {}
        }
    }
}
