import Foundation
import Glibc
import MeshHTTP1

/// `payments` behind a sidecar whose inbound listener speaks `http` (static config: allow `frontend`), a
/// recording backend as the app, and `frontend`'s sidecar with an outbound L4 listener to it: a test writes raw
/// HTTP to `frontendPort` and it crosses the mTLS hop unchanged.
final class L7Fixture {
    let pki: TestPKI
    let backend: RecordingBackend
    let inboundPort = TCP.freePort()
    let frontendPort = TCP.freePort()
    let payments: SidecarProcess
    let frontend: SidecarProcess
    var frontendID: String { "spiffe://\(pki.trustDomain.name)/ns/shop/sa/frontend" }

    /// `launcher` runs the payments sidecar (e.g. a release binary in place of the test build).
    /// `paymentsExtra`: more top-level members of payments' config (e.g. `http` limits).
    init(protocol proto: String = "http", launcher: [String] = [], paymentsExtra: [String: Any] = [:]) throws {
        pki = try TestPKI()
        backend = try RecordingBackend()
        for s in ["payments", "frontend"] { try pki.issue(s) }
        let td = pki.trustDomain.name
        func identity(_ s: String) -> [String: Any] {
            ["trustDomain": td, "certificate": "\(s).crt", "key": "\(s).key", "trustBundle": "ca.crt"]
        }
        let common: [String: Any] = ["loops": 1]
        payments = try SidecarProcess(name: "payments", config: common.merging(["identity": identity("payments"), "inbound": [[
            "name": "api", "listen": "127.0.0.1:\(inboundPort)", "forwardTo": "127.0.0.1:\(backend.port)", "protocol": proto,
            "allow": ["spiffe://\(td)/ns/shop/sa/frontend"]]]]) { $1 }.merging(paymentsExtra) { $1 }, dir: pki.dir, launcher: launcher)
        frontend = try SidecarProcess(name: "frontend", config: common.merging(["identity": identity("frontend"), "outbound": [[
            "name": "payments", "listen": "127.0.0.1:\(frontendPort)", "upstream": "127.0.0.1:\(inboundPort)",
            "expectIdentity": "spiffe://\(td)/ns/shop/sa/payments"]]]) { $1 }, dir: pki.dir)
        for s in [payments, frontend] { try s.waitReady() }
    }

    func connect() throws -> L7Client { try L7Client(port: frontendPort) }

    func stop() {
        frontend.stop()
        payments.stop()
        backend.stop()
        pki.cleanup()
    }
}

/// A raw HTTP/1.1 client: writes any bytes, reads whole responses (framed by our strict parser).
final class L7Client {
    struct Response {
        let status: Int
        let headers: HTTPHeaders
        let body: String
    }

    let fd: Int32
    private var parser = HTTPResponseParser()
    private var pending: [Response] = []
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    /// Set once the server closed.
    private(set) var closed = false

    init(port: UInt16) throws {
        fd = try TCP.connect(port: port, timeoutSeconds: 5)
        TCP.setTimeout(fd, seconds: 5)
    }

    deinit { close(fd) }

    func send(_ text: String) { _ = TCP.sendAll(fd, Array(text.utf8)) }

    /// Reads until `count` final responses arrived (interim 1xx skipped); fewer if the server closes or is silent.
    func responses(_ count: Int, methods: [String]? = nil) -> [Response] {
        for m in methods ?? Array(repeating: "GET", count: count) { parser.expect(requestMethod: m) }
        var buf = [UInt8](repeating: 0, count: 65_536)
        while pending.count < count && !closed {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                closed = true
                if let evs = try? parser.finish() { take(evs, []) }
                break
            }
            let chunk = Array(buf[0..<n])
            guard let evs = try? parser.feed(chunk) else { closed = true; break }
            take(evs, chunk)
        }
        let out = Array(pending.prefix(count))
        pending.removeFirst(out.count)
        return out
    }

    func response(method: String = "GET") -> Response? { responses(1, methods: [method]).first }

    private func take(_ events: [HTTPEvent<HTTPResponseHead>], _ chunk: [UInt8]) {
        for e in events {
            switch e {
            case .head(let h): head = h; body = []
            case .body(let r): body.append(contentsOf: chunk[r])
            case .end:
                if let h = head, h.status >= 200 {
                    pending.append(Response(status: h.status, headers: h.headers, body: String(decoding: body, as: UTF8.self)))
                }
                head = nil
            }
        }
    }

    /// True when the server ends the connection within the socket timeout (reads nothing more).
    func waitClosed() -> Bool {
        if closed { return true }
        var b = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = b.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            closed = n == 0 || (n < 0 && errno == ECONNRESET)
            if n <= 0 { return closed }
        }
    }

    /// Raw bytes until `count` bytes arrived or the timeout (for tunnels).
    func read(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var b = [UInt8](repeating: 0, count: 4096)
        while out.count < count {
            let n = b.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - out.count), 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: b[0..<n])
        }
        return out
    }
}
