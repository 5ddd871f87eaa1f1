import MeshHTTP1
import Testing

/// Line discipline, header-line and request-line grammar, and head size, each with its status and code,
/// every input fed whole, byte by byte and in random splits.
@Suite struct RequestHeadTests {
    static let get = "GET / HTTP/1.1\r\nHost: a\r\n"

    @Test(arguments: [
        Rejection("bare LF ends a header", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400, "http.bare-lf"),
        Rejection("bare LF ends the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "http.bare-lf"),
        Rejection("bare LF ends the head", get + "\n", 400, "http.bare-lf"),
        Rejection("only LFs", "GET / HTTP/1.1\nHost: a\n\n", 400, "http.bare-lf"),
        Rejection("bare CR inside a value", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400, "http.bare-cr"),
        Rejection("bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bare-cr"),
        Rejection("CR CR LF", get + "X: y\r\r\n\r\n", 400, "http.bare-cr"),
        Rejection("bare CR ends the head", get + "\r\r", 400, "http.bare-cr"),
    ])
    func rejectsBareCROrLF(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("NUL in a value", get + "X: a\u{0}b\r\n\r\n", 400, "http.nul"),
        Rejection("NUL in the target", "GET /a\u{0}b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.nul"),
        Rejection("NUL in a name", get + "X\u{0}: y\r\n\r\n", 400, "http.nul"),
        Rejection("NUL first", "\u{0}GET / HTTP/1.1\r\n\r\n", 400, "http.nul"),
        Rejection("SOH in a value", get + "X: a\u{1}b\r\n\r\n", 400, "http.control-char"),
        Rejection("ESC in a value", get + "X: \u{1B}[31m\r\n\r\n", 400, "http.control-char"),
        Rejection("DEL in a value", get + "X: a\u{7F}\r\n\r\n", 400, "http.control-char"),
        Rejection("VT in a value", get + "X: a\u{0B}b\r\n\r\n", 400, "http.control-char"),
        Rejection("FF in the method", "G\u{0C}ET / HTTP/1.1\r\n\r\n", 400, "http.control-char"),
    ])
    func rejectsNulAndControlCharacters(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("space fold", get + "X: a\r\n b\r\n\r\n", 400, "http.obs-fold"),
        Rejection("tab fold", get + "X: a\r\n\tb\r\n\r\n", 400, "http.obs-fold"),
        Rejection("fold after request line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "http.obs-fold"),
        Rejection("folded Transfer-Encoding", get + "Transfer-Encoding:\r\n chunked\r\n\r\n", 400, "http.obs-fold"),
        Rejection("whitespace-only line", get + " \r\n\r\n", 400, "http.obs-fold"),
    ])
    func rejectsObsoleteLineFolding(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "http.space-before-colon"),
        Rejection("tab before colon", get + "Content-Length\t: 5\r\n\r\nhello", 400, "http.space-before-colon"),
        Rejection("space inside name", get + "X Y: z\r\n\r\n", 400, "http.space-before-colon"),
        Rejection("at sign", get + "X@Y: z\r\n\r\n", 400, "http.bad-header-name"),
        Rejection("parenthesis", get + "X(Y): z\r\n\r\n", 400, "http.bad-header-name"),
        Rejection("non-ASCII", get + "H\u{00F6}st: z\r\n\r\n", 400, "http.bad-header-name"),
        Rejection("slash", get + "X/Y: z\r\n\r\n", 400, "http.bad-header-name"),
        Rejection("empty name", get + ": z\r\n\r\n", 400, "http.bad-header-name"),
        Rejection("no colon", get + "NoColonHere\r\n\r\n", 400, "http.missing-colon"),
    ])
    func rejectsBadHeaderNames(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-request-line"),
        Rejection("two spaces before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-request-line"),
        Rejection("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-request-line"),
        Rejection("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "http.bad-request-line"),
        Rejection("no version", "GET /\r\nHost: a\r\n\r\n", 400, "http.bad-request-line"),
        Rejection("method only", "GET\r\n\r\n", 400, "http.bad-request-line"),
        Rejection("method and space", "GET \r\n\r\n", 400, "http.bad-request-line"),
        Rejection("method with parenthesis", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-method"),
        Rejection("method with tab", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-method"),
        Rejection("absolute form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-target"),
        Rejection("authority form", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-target"),
        Rejection("asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-target"),
        Rejection("relative", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-target"),
        Rejection("non-ASCII target", "GET /\u{00E9} HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-target"),
        Rejection("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http.version-not-supported"),
        Rejection("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505, "http.version-not-supported"),
        Rejection("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "http.version-not-supported"),
        Rejection("HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 505, "http.version-not-supported"),
        Rejection("lowercase http", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-version"),
        Rejection("HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "http.bad-version"),
        Rejection("HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "http.bad-version"),
        Rejection("HTTP/2", "GET / HTTP/2\r\nHost: a\r\n\r\n", 400, "http.bad-version"),
        Rejection("garbage", "GET / FOO/1.1\r\nHost: a\r\n\r\n", 400, "http.bad-version"),
        Rejection("TLS hello bytes", "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}", 400, "http.control-char"),
    ])
    func rejectsMalformedRequestLine(_ row: Rejection) {
        expectRequestRejected(row)
    }

    static let bigValue = String(repeating: "v", count: 40_000)

    @Test(arguments: [
        Rejection("one huge header", get + "X: \(bigValue)\r\n\r\n", 431, "http.header-too-large"),
        Rejection("huge request line", "GET /\(bigValue) HTTP/1.1\r\n\r\n", 431, "http.header-too-large"),
        Rejection("endless line", "GET /\(bigValue)", 431, "http.header-too-large"),
        Rejection("many small headers", get + String(repeating: "X-Filler: \(String(repeating: "f", count: 390))\r\n", count: 90),
                  431, "http.header-too-large"),
        Rejection("over a small limit", get + "X: 0123456789\r\n\r\n", 431, "http.header-too-large",
                  limits: smallLimits(headerBytes: 40)),
        Rejection("leading empty lines count", String(repeating: "\r\n", count: 20) + get + "\r\n", 431,
                  "http.header-too-large", limits: smallLimits(headerBytes: 60)),
        Rejection("101 headers", get + String(repeating: "X: y\r\n", count: 100) + "\r\n", 431, "http.too-many-headers"),
        Rejection("4 headers over 3", get + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, "http.too-many-headers",
                  limits: smallLimits(headerCount: 3)),
    ])
    func rejectsOversizedHead(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test func headExactlyAtLimitsIsAccepted() {
        let head = Self.get + String(repeating: "X: y\r\n", count: 99) + "\r\n"
        #expect(requestOutcome(head).events.first?.head?.headers.count == 100)
        let limits = smallLimits(headerBytes: head.utf8.count)
        #expect(requestOutcome(head, limits: limits).error == nil)
        var smaller = limits
        smaller.maxHeaderBytes -= 1
        #expect(requestOutcome(head, limits: smaller).error?.code == "http.header-too-large")
    }

    @Test func oversizedHeadIsRefusedWithoutWaitingForItsEnd() {
        var parser = HTTPRequestParser(limits: smallLimits(headerBytes: 100))
        let error = #expect(throws: HTTPParseError.self) {
            _ = try parser.feed(Array(("GET /" + String(repeating: "a", count: 200)).utf8))
        }
        #expect(error?.status == 431)
    }
}
