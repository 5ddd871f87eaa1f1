import MeshHTTP1
import Testing

/// The serializer's bytes, and round trips through the parsers.
@Suite struct SerializerTests {
    @Test func writesResponseBytes() {
        let bytes = HTTPSerializer.response(status: 200, headers: ["Content-Type": "text/plain"], body: Array("hi".utf8))
        #expect(bytes.text == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
        let closing = HTTPSerializer.response(status: 404, body: [], keepAlive: false)
        #expect(closing.text == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    @Test func writesRequestBytes() {
        #expect(HTTPSerializer.request(method: "GET", target: "/a?b=c", headers: ["Host": "h"]).text
            == "GET /a?b=c HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(HTTPSerializer.request(method: "POST", target: "/p", headers: ["Host": "h"]).text
            == "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        #expect(HTTPSerializer.request(method: "DELETE", target: "/p", headers: ["Host": "h"], body: [1]).text
            == "DELETE /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n\u{1}")
    }

    @Test(arguments: [
        (200, "", true), (201, "created", true), (404, "nope", false), (500, "", false), (200, String(repeating: "x", count: 70_000), true),
    ])
    func responseRoundTripsThroughParser(status: Int, body: String, keepAlive: Bool) throws {
        let headers: HTTPHeaders = ["Content-Type": "application/json", "X-Request-Id": "abc", "x-request-id": "def"]
        let bytes = HTTPSerializer.response(status: status, headers: headers, body: Array(body.utf8), keepAlive: keepAlive)
        let events = responseOutcome(bytes, methods: ["GET"]).events
        let head = try #require(events.first?.head)
        #expect(head.status == status)
        #expect(head.reason == HTTPSerializer.reasonPhrase(status))
        #expect(head.keepAlive == keepAlive)
        #expect(head.headers.values("X-Request-Id") == ["abc", "def"])
        #expect(head.headers["Content-Length"] == String(body.utf8.count))
        #expect(Array(events.dropFirst()) == (body.isEmpty ? [.end] : [.body(Array(body.utf8)), .end]))
    }

    @Test(arguments: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    func requestRoundTripsThroughParser(method: String) throws {
        let body = method == "GET" ? "" : "{\"a\":1}"
        let bytes = HTTPSerializer.request(method: method, target: "/v1/x?k=a+b", headers: ["Host": "cp:8443", "Accept": "*/*"],
                                           body: Array(body.utf8))
        let events = requestOutcome(bytes).events
        let head = try #require(events.first?.head)
        #expect(head.method == method)
        #expect(head.path == "/v1/x")
        #expect(head.query == ["k": "a b"])
        #expect(head.headers["host"] == "cp:8443")
        #expect(Array(events.dropFirst()) == (body.isEmpty ? [.end] : [.body(Array(body.utf8)), .end]))
    }

    @Test(arguments: [100, 204, 304])
    func bodilessStatusesGetNoLengthAndNoBody(status: Int) {
        let bytes = HTTPSerializer.response(status: status, body: Array("ignored".utf8))
        #expect(bytes.text == "HTTP/1.1 \(status) \(HTTPSerializer.reasonPhrase(status))\r\n\r\n")
    }

    @Test func dropsCallerFramingAndUnsafeFields() throws {
        let headers = HTTPHeaders([
            ("Content-Length", "999"), ("Transfer-Encoding", "chunked"), ("X-Split", "a\r\nInjected: yes"),
            ("X-Nul", "a\u{0}b"), ("Bad Name", "v"), ("", "v"), ("X-Tab", "a\tb"), ("Connection", "keep-alive"),
        ])
        let response = HTTPSerializer.response(status: 200, reason: "OK\r\nInjected: yes", headers: headers, body: [0x41],
                                               keepAlive: false)
        let events = responseOutcome(response, methods: ["GET"]).events
        let head = try #require(events.first?.head)
        #expect(head.reason == "OK  Injected: yes")
        #expect(head.headers["Injected"] == nil)
        #expect(head.headers.values("Content-Length") == ["1"])
        #expect(head.headers["Transfer-Encoding"] == nil)
        #expect(head.headers["X-Tab"] == "a\tb")
        #expect(head.headers.values("Connection") == ["close"])
        #expect(head.headers.count == 3)
        #expect(Array(events.dropFirst()) == [.body([0x41]), .end])

        let request = HTTPSerializer.request(method: "PUT", target: "/a b\r\nX: y", headers: headers + ["Host": "h"])
        let requestHead = try #require(requestOutcome(request).events.first?.head)
        #expect(requestHead.target == "/a%20b%0D%0AX:%20y")
        #expect(requestHead.headers.values("Content-Length") == ["0"])
    }

    @Test func keepsCallerConnectionWhenKeepingAlive() {
        let bytes = HTTPSerializer.response(status: 200, headers: ["Connection": "keep-alive"], keepAlive: true)
        #expect(bytes.text == "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
    }

    @Test(arguments: [
        (200, "OK"), (204, "No Content"), (400, "Bad Request"), (404, "Not Found"), (413, "Content Too Large"),
        (431, "Request Header Fields Too Large"), (501, "Not Implemented"), (502, "Bad Gateway"), (503, "Service Unavailable"),
        (505, "HTTP Version Not Supported"), (299, "Unknown"),
    ])
    func reasonPhrases(status: Int, phrase: String) {
        #expect(HTTPSerializer.reasonPhrase(status) == phrase)
    }
}

func + (lhs: HTTPHeaders, rhs: HTTPHeaders) -> HTTPHeaders {
    var out = lhs
    for (name, value) in rhs { out.add(name, value) }
    return out
}
