import Foundation
import Glibc
import Testing
import MeshHTTP1

/// Pooled mesh hops on an `http` outbound listener, through real sidecar processes on loopback.
@Suite(.serialized) struct PoolHopsTests {
    /// Today's L4 path pays one mTLS handshake per app connection; pooled, 200 `Connection: close` clients
    /// share a handful of hops (one per loop, a few more if requests overlap).
    @Test func closeClientsShareAHandfulOfHops() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        for i in 0..<200 {
            let r = try PoolClient.get(port: mesh.outboundPort, "/n\(i)")
            #expect(r.head.status == 200)
            #expect(r.text.hasPrefix("ok GET /n\(i) 0"), "\(r.text)")
            #expect(r.head.headers["Connection"] == "close")
            #expect(r.head.headers["Keep-Alive"] == nil, "hop-by-hop field relayed")
        }
        let pool = mesh.pool()
        let opened = pool["opened"] as? Int ?? -1
        #expect(pool["requests"] as? Int == 200)
        #expect((1...4).contains(opened), "hops opened: \(opened)")
        #expect(pool["reused"] as? Int == 200 - opened)
        let outbound = mesh.frontend.adminJSON("/stats")?["outbound"] as? [String: Any]
        #expect((outbound?["handshakes"] as? Int ?? 99) <= 4)
        #expect(mesh.backend.accepted.load(ordering: .relaxed) <= 4, "the L4 inbound pipes each hop to one app connection")
        #expect(mesh.backend.requests.load(ordering: .relaxed) == 200)
    }

    /// The outbound `http` listener defers accept until the app's first bytes and reads them at once. A client
    /// that stays silent past the deferral (1 s) and then sends its head in two pieces is still served: the first
    /// read finds half a head, and the connection then waits for the rest like any other.
    @Test func aSlowClientIsServedWhenItsBytesArrive() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.outboundPort, timeoutSeconds: 5)
        defer { close(fd) }
        TCP.setTimeout(fd, seconds: 5)
        usleep(1_500_000)
        #expect(TCP.sendAll(fd, Array("GET /slow HTTP/1.1\r\nHost: p".utf8)))
        usleep(200_000)
        #expect(TCP.sendAll(fd, Array("\r\nConnection: close\r\n\r\n".utf8)))
        let r = try PoolClient.read(fd, count: 1, expectClose: true)
        #expect(r.responses.map(\.text) == ["ok GET /slow 0 conn=- te=- x=-"])
        #expect(r.closed)
    }

    /// Keep-alive and pipelining on one app connection; hop-by-hop fields of the request are not forwarded,
    /// and the hop stays open whatever the app said (no `Connection` field on the hop: HTTP/1.1's default).
    @Test func keepAliveAndPipelinedRequests() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        let bytes = Array(("GET /a HTTP/1.1\r\nHost: p\r\nConnection: X-Drop\r\nX-Drop: secret\r\nTE: trailers\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\n\r\nhello"
            + "GET /c HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n").utf8)
        let r = try PoolClient.exchange(port: mesh.outboundPort, bytes, count: 3, expectClose: true)
        #expect(r.responses.map(\.text) == ["ok GET /a 0 conn=- te=- x=-", "ok POST /b 5 conn=- te=- x=-",
                                            "ok GET /c 0 conn=- te=- x=-"])
        #expect(r.closed)
        #expect(mesh.pool()["opened"] as? Int == 1)
        #expect(mesh.backend.receivedBodies.map { String(decoding: $0, as: UTF8.self) } == ["", "hello", ""])
    }

    /// An HTTP/1.0 request may come without `Host`, but the hop speaks HTTP/1.1, which needs one. It gets the
    /// destination's name as the mesh writes it (`<service>.<namespace>:<port>`), the authority this listener
    /// serves, not the address of the remote sidecar the hop happens to reach; a `Host` the client sent is kept.
    @Test func anHTTP10RequestWithoutHostCarriesTheDestinationsName() throws {
        let mesh = try PoolMesh(outbound: ["to": "shop/payments", "port": 8080])
        defer { mesh.stop() }
        let bare = try PoolClient.exchange(port: mesh.outboundPort, Array("GET /host HTTP/1.0\r\n\r\n".utf8), count: 1, expectClose: true)
        #expect(bare.responses.map(\.text) == ["host=payments.shop:8080"])
        let named = try PoolClient.exchange(port: mesh.outboundPort, Array("GET /host HTTP/1.0\r\nHost: pay.example\r\n\r\n".utf8),
                                            count: 1, expectClose: true)
        #expect(named.responses.map(\.text) == ["host=pay.example"])
    }

    /// HEAD and GET in turn on one app connection: each response is framed by its own request's method (a hop
    /// reuses its response parser from one exchange to the next, and a HEAD answer's length is not a body).
    @Test func headAndGetInTurnAreFramedByTheirOwnMethod() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        let bytes = Array(("HEAD /h1 HTTP/1.1\r\nHost: p\r\n\r\n" + "GET /g HTTP/1.1\r\nHost: p\r\n\r\n"
            + "HEAD /h2 HTTP/1.1\r\nHost: p\r\n\r\n" + "GET /last HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n").utf8)
        let r = try PoolClient.exchange(port: mesh.outboundPort, bytes, count: 4, expectClose: true,
                                        methods: ["HEAD", "GET", "HEAD", "GET"])
        #expect(r.responses.map(\.text) == ["", "ok GET /g 0 conn=- te=- x=-", "", "ok GET /last 0 conn=- te=- x=-"])
        #expect(r.responses.map { $0.head.headers["Content-Length"] } == ["29", "27", "29", "30"])
        #expect(r.closed)
        #expect(mesh.backend.requests.load(ordering: .relaxed) == 4)
    }

    /// Chunked request and response bodies arrive byte for byte (re-framed, never reinterpreted).
    @Test func chunkedBodiesRelayedByteForByte() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        var rng = SystemRandomNumberGenerator()
        let payload = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var req = Array("POST /chunked HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var i = 0, size = 5
        while i < payload.count {
            let n = min(size, payload.count - i)
            req += Array("\(String(n, radix: 16));ext=1\r\n".utf8) + payload[i..<(i + n)] + Array("\r\n".utf8)
            i += n
            size = size * 2 + 1
        }
        req += Array("0\r\n\r\nGET /after HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n".utf8)
        let r = try PoolClient.exchange(port: mesh.outboundPort, req, count: 2, expectClose: true)
        #expect(r.responses.count == 2)
        #expect(r.responses.first?.head.headers["Transfer-Encoding"] == "chunked")
        #expect(r.responses.first?.head.headers["X-Echo"] == "yes")
        #expect(r.responses.first?.body == payload)
        #expect(mesh.backend.receivedBodies.first == payload)
        #expect(r.responses.last?.text.hasPrefix("ok GET /after 0") == true)
    }

    /// A response that says `Connection: close` ends its hop, not the pool: the next request gets a new hop.
    @Test func connectionCloseResponseDoesNotPoisonThePool() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        #expect(try PoolClient.get(port: mesh.outboundPort, "/first").head.status == 200)
        let closed = try PoolClient.get(port: mesh.outboundPort, "/close")
        #expect(closed.text == "closed")
        for i in 0..<5 {
            let r = try PoolClient.get(port: mesh.outboundPort, "/next\(i)")
            #expect(r.head.status == 200 && r.text.hasPrefix("ok GET /next\(i)"), "\(r.text)")
        }
        let pool = mesh.pool()
        #expect((pool["closed"] as? [String: Any])?["connection-close"] as? Int == 1)
        #expect(pool["badGateway"] as? Int == 0)
        // one hop per loop (2) that served requests, plus the one `/close` ended
        #expect((2...3).contains(pool["opened"] as? Int ?? 0), "\(pool)")
    }

    /// The remote sidecar restarts between requests: idle hops see its close at once and are dropped, so no
    /// request fails (none was ever written to a dead hop).
    @Test func remoteRestartFailsNoRequest() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        for round in 0..<3 {
            for i in 0..<10 {
                let r = try PoolClient.get(port: mesh.outboundPort, "/r\(round)-\(i)")
                #expect(r.head.status == 200, "round \(round) request \(i): \(r.head.status) \(r.text)")
            }
            if round < 2 {
                try mesh.restartPayments()
                usleep(100_000)
            }
        }
        let pool = mesh.pool()
        #expect(pool["badGateway"] as? Int == 0)
        #expect(((pool["closed"] as? [String: Any])?["peer-closed"] as? Int ?? 0) >= 2)
        #expect(pool["requests"] as? Int == 30)
    }

    /// Nothing listens where the remote sidecar should be: a `502` with a JSON body, after the retries.
    @Test func remoteDeadAnswers502WithJSONBody() throws {
        let mesh = try PoolMesh(pool: ["maxRetries": 1])
        defer { mesh.stop() }
        mesh.payments.stop()
        let r = try PoolClient.get(port: mesh.outboundPort, "/x")
        #expect(r.head.status == 502)
        #expect(r.head.headers["Content-Type"] == "application/json")
        let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
        #expect(json?["error"] as? String == "pool.upstream-unreachable")
        #expect((json?["reason"] as? String)?.contains("127.0.0.1:\(mesh.inboundPort)") == true)
        let pool = mesh.pool()
        #expect(pool["retries"] as? Int == 1)
        #expect(pool["badGateway"] as? Int == 1)
        // keep-alive: the app connection survives a 502 for a request it sent whole
        let k = try PoolClient.exchange(port: mesh.outboundPort,
                                        Array("GET /1 HTTP/1.1\r\nHost: p\r\n\r\nGET /2 HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n".utf8),
                                        count: 2, expectClose: true)
        #expect(k.responses.map(\.head.status) == [502, 502])
    }

    /// The app's framing is checked like a server's: an ambiguous request is answered 400 and never forwarded.
    @Test func ambiguousFramingRefusedBeforeAnyHop() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        let r = try PoolClient.exchange(port: mesh.outboundPort,
                                        Array("POST / HTTP/1.1\r\nHost: p\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8),
                                        count: 1, expectClose: true)
        #expect(r.responses.first?.head.status == 400)
        #expect(r.responses.first?.text.contains("http.cl-and-te") == true)
        #expect(r.closed)
        #expect(mesh.backend.requests.load(ordering: .relaxed) == 0)
        #expect(mesh.pool()["opened"] as? Int == 0)
    }

    /// `Upgrade`: the answer and then raw bytes pass both ways; the hop is that connection's own and is never
    /// pooled again.
    @Test func upgradeDedicatesTheHop() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.outboundPort, timeoutSeconds: 5)
        TCP.setTimeout(fd, seconds: 5)
        #expect(TCP.sendAll(fd, Array("GET /ws HTTP/1.1\r\nHost: p\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n".utf8)))
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: got, as: UTF8.self).contains("\r\n\r\n") {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            got += buf[0..<n]
        }
        let head = String(decoding: got, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 101 "), "\(head)")
        #expect(head.contains("Upgrade: echo"))
        for word in ["ping-1", "frame two"] {
            #expect(TCP.sendAll(fd, Array(word.utf8)))
            var echoed: [UInt8] = []
            while echoed.count < word.utf8.count {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { break }
                echoed += buf[0..<n]
            }
            #expect(String(decoding: echoed, as: UTF8.self) == word)
        }
        close(fd)
        var upgraded = 0
        for _ in 0..<50 where upgraded == 0 {
            upgraded = (mesh.pool()["closed"] as? [String: Any])?["upgraded"] as? Int ?? 0
            usleep(20_000)
        }
        #expect(upgraded == 1)
        #expect(mesh.pool()["idle"] as? Int == 0)
        #expect(try PoolClient.get(port: mesh.outboundPort, "/after").head.status == 200)
        #expect(mesh.pool()["opened"] as? Int == 2)
    }

    /// A tunnel passes each side's end of stream on and keeps the other direction open: the client half-closes
    /// after its last words and still gets every echoed byte, then the end.
    @Test func tunnelClientHalfCloseStillGetsTheEcho() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        let fd = try Self.upgraded(mesh, protocol: "echo")
        defer { close(fd) }
        #expect(TCP.sendAll(fd, Array("last words".utf8)))
        shutdown(fd, Int32(SHUT_WR))
        let (rest, ended) = TCP.readToEOF(fd)
        #expect(String(decoding: rest, as: UTF8.self) == "last words")
        #expect(ended, "the end of stream reached the client")
    }

    /// The other way round: the server half-closes first; the client reads its last bytes and the end, then sends
    /// more, which reaches the server, and ends.
    @Test func tunnelServerHalfCloseKeepsTheClientsDirectionOpen() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        let fd = try Self.upgraded(mesh, protocol: "farewell")
        defer { close(fd) }
        let (said, ended) = TCP.readToEOF(fd)
        #expect(String(decoding: said, as: UTF8.self) == "bye\n")
        #expect(ended)
        #expect(TCP.sendAll(fd, Array("still here".utf8)))
        shutdown(fd, Int32(SHUT_WR))
        var tail: [UInt8]?
        for _ in 0..<100 where tail == nil {
            tail = mesh.backend.afterFarewell
            usleep(20_000)
        }
        #expect(tail.map { String(decoding: $0, as: UTF8.self) } == "still here")
    }

    /// A client connection through the tunnel after `101`, the answer's head read and checked.
    private static func upgraded(_ mesh: PoolMesh, protocol name: String) throws -> Int32 {
        let fd = try TCP.connect(port: mesh.outboundPort, timeoutSeconds: 5)
        TCP.setTimeout(fd, seconds: 5)
        #expect(TCP.sendAll(fd, Array("GET /ws HTTP/1.1\r\nHost: p\r\nConnection: Upgrade\r\nUpgrade: \(name)\r\n\r\n".utf8)))
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual("\r\n\r\n".utf8), recv(fd, &byte, 1, 0) == 1 { head.append(byte) }
        let text = String(decoding: head, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101 "), "\(text)")
        return fd
    }

    /// The app half-closes after its last request: it still gets the answer, then its connection ends (and the
    /// hop goes back to the pool).
    @Test func halfCloseAfterLastRequestStillAnswered() throws {
        let mesh = try PoolMesh()
        defer { mesh.stop() }
        for path in ["/h1", "/h2"] {
            let fd = try TCP.connect(port: mesh.outboundPort, timeoutSeconds: 5)
            defer { close(fd) }
            TCP.setTimeout(fd, seconds: 5)
            #expect(TCP.sendAll(fd, Array("GET \(path) HTTP/1.1\r\nHost: p\r\n\r\n".utf8)))
            shutdown(fd, Int32(SHUT_WR))
            let r = try PoolClient.read(fd, count: 1, expectClose: true)
            #expect(r.responses.first?.text.hasPrefix("ok GET \(path) 0") == true)
            #expect(r.closed)
        }
        #expect(((mesh.pool()["closed"] as? [String: Any])?["error"] as? Int) == 0)
    }
}

/// The receiving sidecar's L7 engine keeps the pooled hop when the app closes after each answer: the app's
/// `Connection: close` is hop-by-hop, so the next request gets a new app connection, not a new mTLS hop.
@Suite(.serialized) struct PoolL7RedialTests {
    /// Sends `count` requests one at a time on one keep-alive client connection; the responses in order.
    private func sequential(_ port: UInt16, _ path: String, count: Int) throws -> [PoolResponse] {
        let fd = try TCP.connect(port: port, timeoutSeconds: 5)
        defer { close(fd) }
        TCP.setTimeout(fd, seconds: 5)
        var out: [PoolResponse] = []
        for i in 0..<count {
            guard TCP.sendAll(fd, Array("GET \(path)?i=\(i) HTTP/1.1\r\nHost: payments\r\n\r\n".utf8)) else { throw TestFailure("send \(i) failed") }
            let r = try PoolClient.read(fd, count: 1, expectClose: false)
            guard let first = r.responses.first else { throw TestFailure("no response to request \(i)") }
            out.append(first)
        }
        return out
    }

    @Test func appConnectionCloseKeepsTheHop() throws {
        let mesh = try PoolMesh(inboundProtocol: "http")
        defer { mesh.stop() }
        let responses = try sequential(mesh.outboundPort, "/close", count: 20)
        #expect(responses.count == 20)
        for (i, r) in responses.enumerated() {
            #expect(r.head.status == 200 && r.text == "closed", "request \(i): \(r.head.status) \(r.text)")
            #expect(r.head.headers["Connection"] == nil, "request \(i): the app's Connection: close reached the client")
        }
        let pool = mesh.pool()
        #expect(pool["opened"] as? Int == 1, "mesh_pool_hops_opened_total: \(pool)")
        #expect(pool["badGateway"] as? Int == 0)
        #expect(mesh.backend.accepted.load(ordering: .relaxed) == 20)
        #expect(mesh.backend.requests.load(ordering: .relaxed) == 20)
        // A client that asks to close still gets its close.
        let last = try PoolClient.get(port: mesh.outboundPort, "/close")
        #expect(last.head.headers["Connection"] == "close")
    }

    /// The app is gone by the next request: that request gets a 502 with the JSON refusal body, the hop stays
    /// (one client connection throughout, so one hop: a second client connection could land on the other loop).
    @Test func appRedialFailureAnswers502AndKeepsTheHop() throws {
        let mesh = try PoolMesh(inboundProtocol: "http")
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.outboundPort, timeoutSeconds: 5)
        defer { close(fd) }
        TCP.setTimeout(fd, seconds: 5)
        for i in 0..<4 {
            if i == 1 { mesh.backend.stop() }
            guard TCP.sendAll(fd, Array("GET \(i == 0 ? "/close" : "/x\(i)") HTTP/1.1\r\nHost: payments\r\n\r\n".utf8)) else {
                throw TestFailure("send \(i) failed")
            }
            let r = try PoolClient.read(fd, count: 1, expectClose: false)
            let resp = try #require(r.responses.first)
            if i == 0 {
                #expect(resp.head.status == 200 && resp.text == "closed")
                continue
            }
            #expect(resp.head.status == 502, "\(resp.head.status) \(resp.text)")
            let json = try JSONSerialization.jsonObject(with: Data(resp.body)) as? [String: Any]
            #expect(json?["error"] as? String == "request.app-unreachable", "\(resp.text)")
            #expect(json?["requestId"] is String)
        }
        #expect(mesh.pool()["opened"] as? Int == 1, "\(mesh.pool())")
    }
}
