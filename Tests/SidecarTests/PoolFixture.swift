import Foundation
import Glibc
import Synchronization
import MeshHTTP1

/// A keep-alive HTTP/1.1 backend for the pooled-hop tests (thread per connection, parsed with our strict
/// parser). `GET /close` answers with `Connection: close` and closes; `POST /chunked` echoes the request body
/// as a chunked response in uneven pieces; `/host` answers `host=<its Host field>`; anything else answers `ok <method> <target> <body bytes>` with a
/// Content-Length (HEAD: the head alone). It counts connections and keeps every request body it received, in order.
/// An `Upgrade` request is answered `101`; then `Upgrade: farewell` sends "bye\n", half-closes and keeps what the
/// client still sends until its end (`afterFarewell`); any other protocol echoes every byte until the client ends.
final class PoolBackend: LoopbackServer, @unchecked Sendable {
    let requests = Atomic<Int>(0)
    private let bodies = Mutex<[[UInt8]]>([])
    private let farewellTail = Mutex<[UInt8]?>(nil)
    /// What a `farewell` client sent after the backend's half-close, once it ended (nil until then).
    var afterFarewell: [UInt8]? { farewellTail.withLock { $0 } }

    init() throws {
        try super.init(ioTimeoutSeconds: 20)
    }

    var receivedBodies: [[UInt8]] { bodies.withLock { $0 } }

    override func serve(_ c: Int32) {
        defer { close(c) }
        var parser = HTTPRequestParser()
        var buf = [UInt8](repeating: 0, count: 65_536)
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        while true {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            guard let events = try? parser.feed(Array(buf[0..<n])) else { return }
            for e in events {
                switch e {
                case .head(let h): head = h; body = []
                case .body(let r): body.append(contentsOf: buf[r])
                case .end:
                    guard let h = head else { return }
                    requests.add(1, ordering: .relaxed)
                    bodies.withLock { $0.append(body) }
                    if h.headers["Upgrade"] != nil {
                        let up = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: \(h.headers["Upgrade"]!)\r\nConnection: Upgrade\r\n\r\n"
                        guard TCP.sendAll(c, Array(up.utf8)) else { return }
                        return h.headers["Upgrade"] == "farewell" ? farewell(c) : echo(c)
                    }
                    if !answer(c, h, body) { return }
                }
            }
        }
    }

    /// After a 101: every byte back, until the peer closes.
    private func echo(_ c: Int32) {
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            guard TCP.sendAll(c, Array(buf[0..<n])) else { return }
        }
    }

    /// After a 101 for `farewell`: the backend is done talking first, and still listens.
    private func farewell(_ c: Int32) {
        guard TCP.sendAll(c, Array("bye\n".utf8)) else { return }
        shutdown(c, Int32(SHUT_WR))
        let (tail, ended) = TCP.readToEOF(c)
        if ended { farewellTail.withLock { $0 = tail } }
    }

    /// False when the connection must close after this answer.
    private func answer(_ c: Int32, _ h: HTTPRequestHead, _ body: [UInt8]) -> Bool {
        if h.path == "/close" {
            _ = TCP.sendAll(c, Array("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nclosed".utf8))
            return false
        }
        if h.path == "/host" {
            let text = "host=\(h.headers["Host"] ?? "-")"
            return TCP.sendAll(c, Array("HTTP/1.1 200 OK\r\nContent-Length: \(text.utf8.count)\r\n\r\n\(text)".utf8))
        }
        if h.path == "/chunked" {
            var out = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Echo: yes\r\n\r\n".utf8)
            var i = 0, size = 1
            while i < body.count {
                let n = min(size, body.count - i)
                out += Array("\(String(n, radix: 16))\r\n".utf8) + body[i..<(i + n)] + Array("\r\n".utf8)
                i += n
                size = size * 3 + 7
            }
            out += Array("0\r\nX-Trailer: t\r\n\r\n".utf8)
            return TCP.sendAll(c, out)
        }
        let text = "ok \(h.method) \(h.target) \(body.count) conn=\(h.headers["Connection"] ?? "-") te=\(h.headers["TE"] ?? "-") x=\(h.headers["X-Drop"] ?? "-")"
        let head = "HTTP/1.1 200 OK\r\nContent-Length: \(text.utf8.count)\r\nKeep-Alive: timeout=5\r\n\r\n"
        return TCP.sendAll(c, Array((h.method == "HEAD" ? head : head + text).utf8))  // HEAD: the length GET would have
    }
}

/// Two sidecars on loopback: `frontend` (outbound listener `payments`, protocol `http`, loops 2) and
/// `payments` (inbound, L4 for now, to a `PoolBackend`).
final class PoolMesh {
    let pki: TestPKI
    let backend: PoolBackend
    let inboundPort = TCP.freePort()
    let outboundPort = TCP.freePort()
    var payments: SidecarProcess
    let frontend: SidecarProcess
    let paymentsConfig: [String: Any]

    /// `inboundProtocol: "http"` makes the payments inbound the L7 engine (requests decided one by one);
    /// `outbound` is merged into the frontend's outbound listener.
    init(pool: [String: Any] = [:], inboundProtocol: String? = nil, outbound: [String: Any] = [:]) throws {
        pki = try TestPKI()
        backend = try PoolBackend()
        for s in ["payments", "frontend"] { try pki.issue(s) }
        let td = pki.trustDomain.name
        func identity(_ s: String) -> [String: Any] {
            ["trustDomain": td, "certificate": "\(s).crt", "key": "\(s).key", "trustBundle": "ca.crt"]
        }
        paymentsConfig = ["identity": identity("payments"), "loops": 2, "inbound": [[
            "name": "http", "listen": "127.0.0.1:\(inboundPort)", "forwardTo": "127.0.0.1:\(backend.port)",
            "allow": ["spiffe://\(td)/ns/shop/sa/frontend"]].merging(inboundProtocol.map { ["protocol": $0] } ?? [:]) { $1 }]]
        payments = try SidecarProcess(name: "payments", config: paymentsConfig, dir: pki.dir)
        frontend = try SidecarProcess(name: "frontend", config: ["identity": identity("frontend"), "loops": 2, "pool": pool,
            "outbound": [["name": "payments", "listen": "127.0.0.1:\(outboundPort)", "upstream": "127.0.0.1:\(inboundPort)",
                          "expectIdentity": "spiffe://\(td)/ns/shop/sa/payments", "protocol": "http"].merging(outbound) { $1 }]],
            dir: pki.dir)
        for s in [payments, frontend] { try s.waitReady() }
    }

    /// Stops the payments sidecar and starts it again with the same config (same ports).
    func restartPayments() throws {
        payments.stop()
        payments = try SidecarProcess(name: "payments", config: payments.config, dir: pki.dir)
        try payments.waitReady()
    }

    /// The frontend's `/stats` `pool` member.
    func pool() -> [String: Any] { (frontend.adminJSON("/stats")?["pool"] as? [String: Any]) ?? [:] }

    func stop() {
        frontend.stop()
        payments.stop()
        backend.stop()
        pki.cleanup()
    }
}

/// A response read back by the test client: head and de-chunked body.
struct PoolResponse {
    let head: HTTPResponseHead
    let body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

enum PoolClient {
    /// Sends `bytes` on a new connection to `port`, reads `count` responses (to requests with `methods`), and
    /// reports whether the server closed the connection afterwards (read until EOF when `expectClose`).
    static func exchange(port: UInt16, _ bytes: [UInt8], count: Int, expectClose: Bool = false,
                         methods: [String]? = nil) throws -> (responses: [PoolResponse], closed: Bool) {
        let fd = try TCP.connect(port: port, timeoutSeconds: 5)
        defer { close(fd) }
        TCP.setTimeout(fd, seconds: 5)
        guard TCP.sendAll(fd, bytes) else { throw TestFailure("send failed") }
        return try read(fd, count: count, expectClose: expectClose, methods: methods)
    }

    static func read(_ fd: Int32, count: Int, expectClose: Bool, methods: [String]? = nil) throws -> (responses: [PoolResponse], closed: Bool) {
        var parser = HTTPResponseParser(limits: { var l = HTTPLimits(); l.maxBodyBytes = 1 << 26; return l }())
        for m in methods ?? Array(repeating: "GET", count: count) { parser.expect(requestMethod: m) }
        var out: [PoolResponse] = []
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while out.count < count || expectClose {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n == 0 {
                for e in try parser.finish() { if case .end = e, let h = head { out.append(PoolResponse(head: h, body: body)) } }
                return (out, true)
            }
            if n < 0 { throw TestFailure("read failed after \(out.count) responses: errno \(errno)") }
            for e in try parser.feed(Array(buf[0..<n])) {
                switch e {
                case .head(let h): head = h; body = []
                case .body(let r): body.append(contentsOf: buf[r])
                case .end: if let h = head { out.append(PoolResponse(head: h, body: body)) }
                }
            }
        }
        return (out, false)
    }

    static func get(port: UInt16, _ path: String, close: Bool = true) throws -> PoolResponse {
        let r = try exchange(port: port, Array("GET \(path) HTTP/1.1\r\nHost: payments\r\n\(close ? "Connection: close\r\n" : "")\r\n".utf8),
                             count: 1, expectClose: close)
        guard let first = r.responses.first else { throw TestFailure("no response to GET \(path)") }
        return first
    }
}
