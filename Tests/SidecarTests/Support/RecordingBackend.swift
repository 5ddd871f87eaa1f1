import Foundation
import Glibc
import MeshHTTP1
import Synchronization

/// An app for `http` port tests: it stores exactly the bytes of every request it receives (one entry per
/// request, split where its parser says the request ends) and answers each with `200 ok <METHOD> <target>`.
/// A request with `Upgrade` is answered `101` (path `/ws`; any other path gets 200), after which it echoes.
/// `Expect: 100-continue` gets a `100 Continue` first. A target starting `/close` is answered with
/// `Connection: close`, then the connection closes (`/close-split`: the head in two writes 50 ms apart).
final class RecordingBackend: LoopbackServer, @unchecked Sendable {
    // @unchecked: everything mutable is Mutex/Atomic.
    private let recorded = Mutex<[[UInt8]]>([])

    init() throws {
        try super.init(ioTimeoutSeconds: 30)
    }

    /// Every request received so far, byte for byte, in order.
    var requests: [[UInt8]] { recorded.withLock { $0 } }
    var requestTexts: [String] { requests.map { String(decoding: $0, as: UTF8.self) } }

    override func serve(_ c: Int32) {
        defer { close(c) }
        var parser = HTTPRequestParser()
        var buf = [UInt8](repeating: 0, count: 65_536)
        var current: [UInt8] = []
        var head: HTTPRequestHead?
        while true {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            let chunk = Array(buf[0..<n])
            current.append(contentsOf: chunk)
            guard let events = try? parser.feed(chunk) else {
                recorded.withLock { $0.append(current) }  // kept for the test to see, then the connection ends
                return
            }
            for e in events {
                switch e {
                case .head(let h):
                    head = h
                    if h.headers["Expect"]?.lowercased() == "100-continue" {
                        _ = TCP.sendAll(c, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                    }
                case .body:
                    break
                case .end:
                    recorded.withLock { $0.append(current) }
                    current = []
                    guard let h = head else { continue }
                    if h.headers.contains("Upgrade") && h.target == "/ws" {
                        _ = TCP.sendAll(c, Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8))
                        echo(c)
                        return
                    }
                    let body = "ok \(h.method) \(h.target)\n"
                    let close = h.target.hasPrefix("/close")
                    let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\(close ? "Connection: close\r\n" : "")\r\n\(h.method == "HEAD" ? "" : body)".utf8)
                    if h.target.hasPrefix("/close-split") {  // the head in two writes, cut inside `Connection`
                        let cut = answer.count - body.utf8.count - 10
                        _ = TCP.sendAll(c, Array(answer[..<cut]))
                        usleep(50_000)
                        _ = TCP.sendAll(c, Array(answer[cut...]))
                    } else {
                        _ = TCP.sendAll(c, answer)
                    }
                    if close { return }
                }
            }
        }
    }

    private func echo(_ c: Int32) {
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            if !buf.withUnsafeBytes({ TCP.sendAll(c, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) { return }
        }
    }
}
