import Foundation
import Glibc
import Testing

/// The receiving sidecar on an `http` port, end to end through a real mTLS hop (frontend's L4 outbound →
/// payments' http inbound → a recording backend): what the app receives is exactly what was allowed, byte for
/// byte, with our identity fields and never the caller's forgeries.
@Suite(.serialized) struct L7InboundTests {
    /// The request id the sidecar added (16 hex), replaced by `ID` so the rest can be compared byte for byte.
    static func maskID(_ text: String) -> (String, String?) {
        guard let r = text.range(of: #"x-mesh-request-id: [0-9a-f]{16}\r\n"#, options: .regularExpression) else { return (text, nil) }
        let id = String(text[r].dropFirst("x-mesh-request-id: ".count).prefix(16))
        return (text.replacingCharacters(in: r, with: "x-mesh-request-id: ID\r\n"), id)
    }

    @Test func allowedRequestArrivesNormalisedStrippedAndStamped() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let c = try f.connect()
        c.send("GET /a/./b//c?x=1 HTTP/1.1\r\nHost: svc\r\nX-Mesh-Peer-Identity: spiffe://mesh.local/ns/shop/sa/admin\r\n"
               + "x-mesh-token-subject: root\r\nX-Forwarded-Client-Cert: By=forged\r\nx-client-cert: forged\r\n"
               + "Connection: keep-alive, X-Hop\r\nX-Hop: gone\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eA==\r\n"
               + "TE: trailers\r\nUpgrade: h2c\r\nAccept: */*\r\n\r\n")
        let r = try #require(c.response())
        #expect(r.status == 200)
        #expect(r.body == "ok GET /a/b/c?x=1\n")
        let got = f.backend.requestTexts
        try #require(got.count == 1)
        let (masked, id) = Self.maskID(got[0])
        #expect(masked == "GET /a/b/c?x=1 HTTP/1.1\r\nHost: svc\r\nAccept: */*\r\nx-mesh-peer-identity: \(f.frontendID)\r\nx-mesh-request-id: ID\r\n\r\n")
        #expect(id != nil)
    }

    /// The attack, on today's L4 path (a `tcp` port): the caller's forged identity field and an unnormalised
    /// path reach the app untouched. The tests below show the `http` port stops both.
    @Test func onATCPPortForgedIdentityFieldsReachTheApp() throws {
        let f = try L7Fixture(protocol: "tcp")
        defer { f.stop() }
        let c = try f.connect()
        let raw = "GET /public/../admin HTTP/1.1\r\nHost: svc\r\nX-Mesh-Peer-Identity: spiffe://mesh.local/ns/shop/sa/admin\r\n\r\n"
        c.send(raw)
        #expect(c.response()?.status == 200)
        #expect(f.backend.requestTexts == [raw])
    }

    /// The app answers `Connection: close` and closes after every answer: `Connection` is hop-by-hop, so the
    /// caller's keep-alive connection stays open, the head it gets has no `Connection` (every other field and
    /// the body as the app sent them), and each request goes to the app on a new connection. A caller that asks
    /// to close still gets `Connection: close`.
    @Test func appConnectionCloseIsHopByHop() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let c = try f.connect()
        for i in 0..<3 {
            let path = i == 1 ? "/close-split/\(i)" : "/close/\(i)"  // a head that spans reads is re-emitted whole
            c.send("GET \(path) HTTP/1.1\r\nHost: svc\r\n\r\n")
            let r = try #require(c.response(), "request \(i)")
            #expect(r.status == 200 && r.body == "ok GET \(path)\n")
            #expect(r.headers["Connection"] == nil, "request \(i): \(r.headers)")
            #expect(r.headers["Content-Length"] == "\(r.body.utf8.count)")
        }
        c.send("GET /close/last HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n")
        let last = try #require(c.response())
        #expect(last.status == 200 && last.headers["Connection"] == "close")
        #expect(c.waitClosed())
        #expect(f.backend.accepted.load(ordering: .relaxed) == 4)
        #expect(f.backend.requestTexts.count == 4)
    }

    @Test func smugglingVectorsNeverReachTheApp() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let vectors: [(String, String, Int, String)] = [
            ("CL.TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400, "http.cl-and-te"),
            ("TE.CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400, "http.cl-and-te"),
            ("duplicate CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhello", 400, "http.duplicate-content-length"),
            ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, "http.obs-fold"),
            ("TE not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501, "http.unsupported-transfer-encoding"),
            ("TE obfuscated", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, "http.space-before-colon"),
            ("bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400, "http.bare-lf"),
            ("bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, "http.bad-chunk-size"),
            ("two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "http.duplicate-host"),
            ("head over 32 KiB", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n", 431, "http.header-too-large"),
            ("101 header lines", "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-A: b\r\n", count: 100) + "\r\n", 431, "http.too-many-headers"),
        ]
        for (name, raw, status, code) in vectors {
            let c = try f.connect()
            c.send(raw)
            let r = c.response(method: "POST")
            #expect(r?.status == status, "\(name)")
            #expect(r?.body.contains("\"error\":\"\(code)\"") == true, "\(name): \(r?.body ?? "no answer")")
            #expect(r?.headers["Connection"] == "close", "\(name)")
            #expect(c.waitClosed(), "\(name)")
        }
        #expect(f.backend.requests.isEmpty, "the app saw \(f.backend.requestTexts)")
        #expect(f.backend.accepted.load(ordering: .relaxed) == vectors.count)  // dialled at accept, never written to
    }

    @Test func chunkExtensionsAndTrailersAreDroppedAndBodiesReframed() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let c = try f.connect()
        c.send("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\"GET /x HTTP/1.1\"\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
               + "PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody")
        let rs = c.responses(2, methods: ["POST", "PUT"])
        #expect(rs.map(\.status) == [200, 200])
        let got = f.backend.requestTexts.map { Self.maskID($0).0 }
        let peer = "x-mesh-peer-identity: \(f.frontendID)\r\nx-mesh-request-id: ID\r\n"
        #expect(got == [
            "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\(peer)\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n",
            "PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\(peer)\r\nbody",
        ])
    }

    @Test func pipelinedRequestsAfterARefusedOneStayInOrder() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let c = try f.connect()
        // The refused request's body holds a whole request: it is skipped, never parsed as one.
        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        c.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
               + "POST /a%2Fb HTTP/1.1\r\nHost: x\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)"
               + "GET /public/../../admin HTTP/1.1\r\nHost: x\r\n\r\n"
               + "GET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        let rs = c.responses(4, methods: ["GET", "POST", "GET", "GET"])
        #expect(rs.map(\.status) == [200, 400, 400, 200])
        #expect(rs[1].body.contains("\"error\":\"http.path-encoded-slash\""))
        #expect(rs[2].body.contains("\"error\":\"http.path-escapes-root\""))
        #expect(rs[1].headers["Connection"] == nil)
        let targets = f.backend.requestTexts.map { $0.split(separator: " ")[1] }
        #expect(targets == ["/one", "/two"])
        // Each refusal is in /decisions with its method and code, and logged.
        let decisions = f.payments.admin("GET", "/decisions").body
        #expect(decisions.contains(#""verdict":"deny","rule":"request-target","reason":"http.path-encoded-slash","method":"POST","route":null"#), "\(decisions)")
        #expect(f.payments.waitForEvent { $0["event"] as? String == "request-refused" && $0["reason"] as? String == "http.path-escapes-root" } != nil)
    }

    @Test func pathVectorsEndToEnd() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let cases: [(String, String?, String?)] = [
            ("/public/../admin", "/admin", nil), ("/public/%2e%2e/admin", "/admin", nil), ("//admin", "/admin", nil),
            ("/%61dmin", "/admin", nil), ("/admin%2Fx", nil, "http.path-encoded-slash"), ("/admin%5Cx", nil, "http.path-encoded-backslash"),
            ("/admin%00", nil, "http.path-nul"), ("/%C0%AE%C0%AE/admin", nil, "http.path-bad-utf8"), ("/a/%zz", nil, "http.path-bad-escape"),
        ]
        let c = try f.connect()
        for (raw, forwarded, code) in cases {
            let before = f.backend.requests.count
            c.send("GET \(raw) HTTP/1.1\r\nHost: x\r\n\r\n")
            let r = try #require(c.response(), "\(raw)")
            if let forwarded {
                #expect(r.status == 200, "\(raw)")
                #expect(f.backend.requestTexts.last?.hasPrefix("GET \(forwarded) HTTP/1.1\r\n") == true, "\(raw)")
            } else if let code {
                #expect(r.status == 400, "\(raw)")
                #expect(r.body.contains("\"error\":\"\(code)\""), "\(raw): \(r.body)")
                #expect(r.body.contains("\"requestId\":\"\(r.headers["x-mesh-request-id"] ?? "?")\""))
                #expect(f.backend.requests.count == before, "\(raw) reached the app")
            }
        }
    }

    @Test func keepAliveHundredRequestsOnOneConnection() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let c = try f.connect()
        var ok = 0
        for i in 0..<100 {
            c.send("GET /n/\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
            if let r = c.response(), r.status == 200, r.body == "ok GET /n/\(i)\n" { ok += 1 }
        }
        #expect(ok == 100)
        #expect(f.backend.requests.count == 100)
        #expect(f.backend.accepted.load(ordering: .relaxed) == 1)
        let metrics = f.payments.admin("GET", "/metrics").body
        #expect(metrics.contains(#"mesh_http_requests_total{direction="inbound",method="GET",route="-",status_class="2xx",verdict="allow"} 100"#),
                "\(metrics.split(separator: "\n").filter { $0.contains("http_requests") })")
    }

    /// 400 requests in one write (~40 KB, more than fits the read-ahead at once with their bodies): reading pauses
    /// and resumes, every answer comes back in order, the app sees them one at a time.
    @Test func deepPipelineIsAnsweredInOrder() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let c = try f.connect()
        let body = String(repeating: "b", count: 200)
        c.send((0..<400).map { "POST /p/\($0) HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n\(body)" }.joined())
        let rs = c.responses(400, methods: Array(repeating: "POST", count: 400))
        #expect(rs.count == 400)
        #expect(rs.enumerated().allSatisfy { $0.element.status == 200 && $0.element.body == "ok POST /p/\($0.offset)\n" })
        #expect(f.backend.requests.count == 400)
    }

    @Test func upgradePassesThroughOnlyAfterThe101() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let c = try f.connect()
        // An upgrade the app declines is an ordinary exchange; the connection stays HTTP.
        c.send("GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(c.response()?.status == 200)
        // A refused upgrade never reaches the app, and what follows is still parsed as HTTP (no tunnel).
        c.send("GET /ws%2F HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(c.responses(2).map(\.status) == [400, 200])
        #expect(f.backend.requestTexts.map { $0.split(separator: " ")[1] } == ["/plain", "/after"])
        c.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Mesh-Foo: forged\r\n\r\n")
        let expected101 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        #expect(String(decoding: c.read(expected101.utf8.count), as: UTF8.self) == expected101)
        let frame = "ping-frame GET /nothttp HTTP/1.1\r\n\r\n"  // not parsed any more: echoed as bytes
        c.send(frame)
        #expect(String(decoding: c.read(frame.utf8.count), as: UTF8.self) == frame)
        let got = f.backend.requestTexts.map { Self.maskID($0).0 }
        #expect(got.last == "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nx-mesh-peer-identity: \(f.frontendID)\r\nx-mesh-request-id: ID\r\n\r\n")
    }

    @Test func expectContinueIsForwardedAfterAuthorization() throws {
        let f = try L7Fixture()
        defer { f.stop() }
        let c = try f.connect()
        c.send("POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        let interim = String(decoding: c.read(25), as: UTF8.self)
        #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
        c.send("hi")
        #expect(c.response(method: "POST")?.status == 200)
        // A refused one is answered at once, without waiting for a body that may never come, and closed.
        c.send("POST /a%2F HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        let r = c.response(method: "POST")
        #expect(r?.status == 400)
        #expect(r?.headers["Connection"] == "close")
        #expect(c.waitClosed())
        #expect(f.backend.requests.count == 1)
    }
}
