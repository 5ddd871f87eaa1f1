import MeshHTTP1
import Testing

/// Valid requests: heads, bodies, pipelining, keep-alive, queries, and the parser's state between messages.
@Suite struct RequestParsingTests {
    @Test func parsesGet() throws {
        let events = requestOutcome("GET /stats?verbose=1 HTTP/1.1\r\nHost: mesh.local:9901\r\nAccept: */*\r\n"
            + "X-Empty:\r\nX-Spaces: \t padded value \t \r\n\r\n").events
        #expect(events.count == 2)
        let head = try #require(events.first?.head)
        #expect(head.method == "GET")
        #expect(head.target == "/stats?verbose=1")
        #expect(head.path == "/stats")
        #expect(head.version == .http11)
        #expect(head.headers.count == 4)
        #expect(head.headers["host"] == "mesh.local:9901")
        #expect(head.headers["ACCEPT"] == "*/*")
        #expect(head.headers["X-Empty"] == "")
        #expect(head.headers["X-Spaces"] == "padded value")
        #expect(head.headers["Missing"] == nil)
        #expect(Array(head.headers.map(\.name)) == ["Host", "Accept", "X-Empty", "X-Spaces"])
        #expect(events[1] == .end)
    }

    @Test func parsesPostWithContentLength() {
        let events = requestOutcome("POST /v1/policy HTTP/1.1\r\nHost: cp\r\nContent-Length: 13\r\n"
            + "Content-Type: application/json\r\n\r\n{\"version\":1}").events
        #expect(events.count == 3)
        #expect(events.first?.head?.method == "POST")
        #expect(events[1] == .body(Array("{\"version\":1}".utf8)))
        #expect(events[2] == .end)
    }

    @Test func parsesPipelinedRequests() {
        let wire = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
            + "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n"
            + "DELETE /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        let events = requestOutcome(wire).events
        #expect(events.compactMap(\.head).map(\.path) == ["/a", "/b", "/c", "/d"])
        #expect(events.filter { $0 == .end }.count == 4)
        #expect(events.contains(.body(Array("xyz".utf8))))
        #expect(events.contains(.body(Array("q".utf8))))
        #expect(events.compactMap(\.head).map(\.keepAlive) == [true, true, true, false])
    }

    @Test func errorInSecondPipelinedRequestKillsTheParser() {
        var parser = HTTPRequestParser()
        let first = Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        #expect(throws: HTTPParseError.self) { _ = try parser.feed(first + Array("GET /b HTTP/1.1\r\n\r\n".utf8)) }
        // Dead: the same error again, whatever comes next.
        let again = #expect(throws: HTTPParseError.self) { _ = try parser.feed(first) }
        #expect(again?.code == "http.missing-host")
        let atClose = #expect(throws: HTTPParseError.self) { _ = try parser.finish() }
        #expect(atClose?.code == "http.missing-host")
    }

    @Test(arguments: [
        ("HTTP/1.1", "", true),
        ("HTTP/1.1", "Connection: close\r\n", false),
        ("HTTP/1.1", "Connection: CLOSE\r\n", false),
        ("HTTP/1.1", "Connection: keep-alive\r\n", true),
        ("HTTP/1.1", "Connection: Upgrade, close\r\n", false),
        ("HTTP/1.1", "Connection: x-closed\r\n", true),
        ("HTTP/1.1", "Connection: te\r\nConnection: close\r\n", false),
        ("HTTP/1.0", "", false),
        ("HTTP/1.0", "Connection: keep-alive\r\n", true),
        ("HTTP/1.0", "Connection: Keep-Alive\r\n", true),
        ("HTTP/1.0", "Connection: keep-alive, close\r\n", false),
        ("HTTP/1.0", "Connection: close\r\n", false),
    ])
    func keepAliveFollowsVersionAndConnection(version: String, fields: String, keepAlive: Bool) {
        let head = requestOutcome("GET / \(version)\r\nHost: a\r\n\(fields)\r\n").events.first?.head
        #expect(head?.keepAlive == keepAlive)
    }

    @Test(arguments: [
        ("/p", [String: String]()),
        ("/p?", [:]),
        ("/p?a=1&b=2", ["a": "1", "b": "2"]),
        ("/p?q=hello+world&x=%41%42%43", ["q": "hello world", "x": "ABC"]),
        ("/p?id=spiffe%3A%2F%2Fmesh.local%2Fns%2Fa", ["id": "spiffe://mesh.local/ns/a"]),
        ("/p?flag&k=", ["flag": "", "k": ""]),
        ("/p?a=1&a=2", ["a": "1"]),
        ("/p?bad=%zz%4&pct=100%25", ["bad": "%zz%4", "pct": "100%"]),
        ("/p?utf8=%C3%A9&sp=a%20b", ["utf8": "\u{E9}", "sp": "a b"]),
        ("/p?%2B=%2b&eq=a=b", ["+": "+", "eq": "a=b"]),
        ("/p?&&x=1&&", ["x": "1"]),
    ])
    func decodesQuery(target: String, expected: [String: String]) {
        let head = HTTPRequestHead(method: "GET", target: target)
        #expect(head.query == expected)
        #expect(head.path == "/p")
    }

    @Test func acceptsOptionsAsteriskAndHTTP10WithoutHost() {
        let options = requestOutcome("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").events.first?.head
        #expect(options?.target == "*")
        #expect(options?.path == "*")
        let old = requestOutcome("GET /x HTTP/1.0\r\n\r\n").events.first?.head
        #expect(old?.version == .http10)
        #expect(old?.headers.count == 0)
    }

    @Test func skipsEmptyLinesBeforeRequestLine() {
        let events = requestOutcome("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").events
        #expect(events.first?.head?.method == "GET")
    }

    @Test func keepsObsTextInValuesAndUnusualTokensInNames() {
        let head = requestOutcome("PATCH /x HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+-.^_`|~: caf\u{E9}\r\n\r\n").events.first?.head
        #expect(head?.method == "PATCH")
        #expect(head?.headers["x-!#$%&'*+-.^_`|~"] == "caf\u{E9}")
    }

    @Test func reportsIdleAndInHead() throws {
        var parser = HTTPRequestParser()
        #expect(parser.isIdle && !parser.inHead)
        _ = try parser.feed(Array("GET / HT".utf8))
        #expect(!parser.isIdle && parser.inHead)
        _ = try parser.feed(Array("TP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n".utf8))
        #expect(!parser.isIdle && !parser.inHead)  // in the body
        let events = try parser.feed(Array("hi".utf8))
        #expect(events == [.body(0..<2), .end])
        #expect(parser.isIdle && !parser.inHead)
        #expect(try parser.finish().isEmpty)
    }

    @Test(arguments: ["GET / HTTP/1.1\r\nHo", "GET / HTTP/1.1\r\nHost: a\r\n", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel"])
    func closeInTheMiddleIsTruncated(input: String) {
        #expect(requestOutcome(input, finish: true).error?.code == "http.truncated")
    }

    @Test func closeBetweenRequestsIsClean() {
        #expect(requestOutcome("", finish: true) == .events([]))
        #expect(requestOutcome("GET / HTTP/1.1\r\nHost: a\r\n\r\n", finish: true).events.count == 2)
        #expect(requestOutcome("\r\n", finish: true) == .events([]))
    }

    @Test func rawBufferAndArrayFeedsAgree() throws {
        let bytes = Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx".utf8)
        var a = HTTPRequestParser(), b = HTTPRequestParser()
        let fromArray = try a.feed(bytes)
        let fromBuffer = try bytes.withUnsafeBytes { try b.feed($0) }
        #expect(fromArray == fromBuffer)
        #expect(fromArray.count == 3)
    }
}
