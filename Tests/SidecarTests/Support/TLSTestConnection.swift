import Foundation
import Glibc
@testable import MeshTLS

/// A client TLS connection a test keeps open (to park a long poll, then reset it): handshake done, request sent.
final class TLSTestConnection {
    let fd: Int32
    let tls: TLSStream

    init(port: UInt16, context: TLSContext, send text: String, timeout: Double = 5) throws {
        fd = try TCP.connect(port: port)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        tls = try TLSStream(context: context, fd: fd)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let step = tls.handshake()
            if step == .done { break }
            if case .failed = step { close(fd); throw TestFailure("handshake failed: \(step)") }
            if Date() > deadline { close(fd); throw TestFailure("handshake timed out") }
            var p = pollfd(fd: fd, events: Int16(step == .wantWrite ? POLLOUT : POLLIN), revents: 0)
            _ = poll(&p, 1, 100)
        }
        _ = Array(text.utf8).withUnsafeBytes { tls.write($0) }
    }

    /// Whether the server has answered anything (or closed) by now. Session tickets (TLS 1.3 sends them after
    /// the handshake) are consumed, not counted.
    var hasAnswer: Bool {
        var buf = [UInt8](repeating: 0, count: 4096)
        switch buf.withUnsafeMutableBytes({ tls.read(into: $0) }) {
        case .wantRead, .wantWrite: return false
        case .bytes, .eof, .failed: return true
        }
    }

    /// RST, not FIN: what a crashed or killed client leaves behind.
    func reset() { TCP.reset(fd) }
}
