import MeshHTTP1
import Testing

/// Responses: every framing (length, chunked, until close, none), HEAD and bodiless statuses, interim
/// responses, truncation; every input fed whole, byte by byte and in random splits.
@Suite struct ResponseParserTests {
    @Test func parsesContentLengthBody() throws {
        let events = responseOutcome("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello").events
        #expect(events.count == 3)
        let head = try #require(events.first?.head)
        #expect(head.status == 200)
        #expect(head.reason == "OK")
        #expect(head.version == .http11)
        #expect(head.headers["content-type"] == "text/plain")
        #expect(head.keepAlive)
        #expect(Array(events.dropFirst()) == [.body(Array("hello".utf8)), .end])
    }

    @Test func parsesChunkedBody() {
        let events = responseOutcome("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n").events
        #expect(Array(events.dropFirst()) == [.body(Array("abcde".utf8)), .end])
    }

    @Test func readsUntilCloseAndFinishEndsIt() throws {
        let wire = "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of this is body\r\n\r\nHTTP/1.1 200 OK\r\n"
        let events = responseOutcome(wire, finish: true).events
        #expect(events.count == 3)
        #expect(events[1] == .body(Array("all of this is body\r\n\r\nHTTP/1.1 200 OK\r\n".utf8)))
        #expect(events[2] == .end)
        var parser = HTTPResponseParser()
        _ = try parser.feed(Array("HTTP/1.1 200 OK\r\n\r\nab".utf8))
        #expect(parser.readsUntilClose)
        #expect(try parser.finish() == [.end])
        #expect(try parser.finish() == [])
        let afterClose = #expect(throws: HTTPParseError.self) { _ = try parser.feed(Array("x".utf8)) }
        #expect(afterClose?.code == "http.closed")
    }

    @Test func readUntilCloseBodyIsBounded() {
        let outcome = responseOutcome("HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "b", count: 11), limits: smallLimits(bodyBytes: 10))
        #expect(outcome.error?.code == "http.body-too-large")
        #expect(outcome.error?.status == 413)
    }

    @Test func headResponseHasNoBodyWhateverItsLength() {
        let wire = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let events = responseOutcome(wire, methods: ["HEAD", "HEAD", "GET"]).events
        #expect(events.count == 7)
        #expect(events.compactMap(\.head).count == 3)
        #expect(Array(events.suffix(2)) == [.body(Array("ok".utf8)), .end])
    }

    @Test(arguments: [100, 102, 103, 204, 304])
    func bodilessStatusesEndWithTheirHead(status: Int) {
        let wire = "HTTP/1.1 \(status) X\r\nContent-Length: 7\r\n\r\n"
        let events = responseOutcome(wire, methods: ["GET"]).events
        #expect(events.count == 2)
        #expect(events.first?.head?.status == status)
        #expect(events.last == .end)
    }

    @Test func interimResponseIsFollowedByTheFinalOne() {
        let wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
            + "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"
        let events = responseOutcome(wire, methods: ["POST", "HEAD"]).events
        #expect(events.compactMap(\.head).map(\.status) == [100, 103, 200, 200])
        #expect(events.count == 9)  // the HEAD answer has no body
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", "body"),
        ("HTTP/1.1 200 OK\r\nContent-Le", "head"),
        ("HTTP/1.1 200 OK\r\n", "head without its end"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "chunked without last chunk"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", "chunked without final CRLF"),
    ])
    func truncatedResponseThrowsAtFinish(wire: String, label: String) {
        let outcome = responseOutcome(wire, finish: true)
        #expect(outcome.error?.code == "http.truncated", "\(label)")
        #expect(outcome.error?.status == 400, "\(label)")
    }

    @Test func finishBetweenResponsesIsClean() {
        #expect(responseOutcome("", finish: true) == .events([]))
        #expect(responseOutcome("HTTP/1.1 204 No Content\r\n\r\n", finish: true).events.count == 2)
    }

    @Test(arguments: [
        Rejection("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 400, "http.bad-status-line"),
        Rejection("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 400, "http.bad-status-line"),
        Rejection("status 600", "HTTP/1.1 600 X\r\n\r\n", 400, "http.bad-status-line"),
        Rejection("status 099", "HTTP/1.1 099 X\r\n\r\n", 400, "http.bad-status-line"),
        Rejection("letters", "HTTP/1.1 2x0 OK\r\n\r\n", 400, "http.bad-status-line"),
        Rejection("no space", "HTTP/1.1\r\n\r\n", 400, "http.bad-status-line"),
        Rejection("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 505, "http.version-not-supported"),
        Rejection("not HTTP", "SSH-2.0-OpenSSH_9.6 Ubuntu\r\n\r\n", 400, "http.bad-version"),
        Rejection("101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", 400, "http.switching-protocols"),
        Rejection("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "http.cl-and-te"),
        Rejection("two CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400,
                  "http.duplicate-content-length"),
        Rejection("signed CL", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc", 400, "http.bad-content-length"),
        Rejection("gzip TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "http.unsupported-transfer-encoding"),
        Rejection("TE in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "http.te-in-http10"),
        Rejection("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 400, "http.obs-fold"),
        Rejection("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 400, "http.bare-lf"),
        Rejection("declared too large", "HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n", 413, "http.body-too-large"),
        Rejection("bad chunk framing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", 400,
                  "http.bad-chunk-framing"),
    ])
    func rejectsMalformedResponses(_ row: Rejection) {
        let outcome = responseOutcome(row.input, methods: ["GET"], limits: row.limits)
        #expect(outcome.error?.code == row.code, "\(row.label): \(outcome)")
        #expect(outcome.error?.status == row.status, "\(row.label): \(outcome)")
    }

    @Test func statusLineKeepsReasonPhraseAsSent() {
        let head = responseOutcome("HTTP/1.1 404 Not  Found\t(really)\r\nContent-Length: 0\r\n\r\n").events.first?.head
        #expect(head?.reason == "Not  Found\t(really)")
        #expect(responseOutcome("HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n").events.first?.head?.reason == "")
        #expect(responseOutcome("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").events.first?.head?.reason == "")
    }
}
