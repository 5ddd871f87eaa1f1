import Foundation
import Glibc
@testable import MeshTLS

/// A one-shot mTLS client over a real socket, driven with poll: handshake, send, read until the end.
enum BlockingTLSClient {
    struct Outcome {
        var handshake: TLSStream.Step
        var received: [UInt8]
    }

    static func connect(port: UInt16, context: TLSContext, send bytes: [UInt8], timeout: Double = 5) throws -> Outcome {
        let fd = try TCP.connect(port: port)
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let tls = try TLSStream(context: context, fd: fd)
        let deadline = Date().addingTimeInterval(timeout)
        var step = TLSStream.Step.wantRead
        while Date() < deadline {
            step = tls.handshake()
            if step == .done { break }
            if case .failed = step { return Outcome(handshake: step, received: []) }
            var p = pollfd(fd: fd, events: Int16(step == .wantWrite ? POLLOUT : POLLIN), revents: 0)
            _ = poll(&p, 1, 100)
        }
        _ = bytes.withUnsafeBytes { tls.write($0) }
        var received: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16_384)
        while Date() < deadline {
            let r = buf.withUnsafeMutableBytes { tls.read(into: $0) }
            switch r {
            case .bytes(let n): received.append(contentsOf: buf[0..<n])
            case .wantRead, .wantWrite:
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, 100)
            case .eof, .failed: return Outcome(handshake: step, received: received)
            }
        }
        return Outcome(handshake: step, received: received)
    }
}
