import MeshHTTP1
import Testing

/// Body length ambiguity (the request-smuggling family), Host rules and body size, each with its status and
/// code, every input fed whole, byte by byte and in random splits.
@Suite struct RequestFramingTests {
    static let post = "POST /upload HTTP/1.1\r\nHost: a\r\n"

    @Test(arguments: [
        Rejection("CL then TE", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello", 400, "http.cl-and-te"),
        Rejection("TE then CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, "http.cl-and-te"),
        Rejection("CL 0 and TE", post + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "http.cl-and-te"),
        Rejection("CL and TE identity", post + "Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\n", 400, "http.cl-and-te"),
        Rejection("lowercase names", post + "content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n", 400, "http.cl-and-te"),
    ])
    func rejectsContentLengthWithTransferEncoding(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("differing", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, "http.duplicate-content-length"),
        Rejection("identical", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, "http.duplicate-content-length"),
        Rejection("other case", post + "Content-Length: 5\r\ncontent-LENGTH: 5\r\n\r\nhello", 400, "http.duplicate-content-length"),
        Rejection("apart", post + "Content-Length: 5\r\nX: y\r\nContent-Length: 5\r\n\r\nhello", 400, "http.duplicate-content-length"),
    ])
    func rejectsTwoContentLengths(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("plus sign", post + "Content-Length: +5\r\n\r\nhello", 400, "http.bad-content-length"),
        Rejection("minus sign", post + "Content-Length: -5\r\n\r\n", 400, "http.bad-content-length"),
        Rejection("inner space", post + "Content-Length: 1 0\r\n\r\n", 400, "http.bad-content-length"),
        Rejection("inner tab", post + "Content-Length: 1\t0\r\n\r\n", 400, "http.bad-content-length"),
        Rejection("letters", post + "Content-Length: 5a\r\n\r\n", 400, "http.bad-content-length"),
        Rejection("hex", post + "Content-Length: 0x5\r\n\r\n", 400, "http.bad-content-length"),
        Rejection("list", post + "Content-Length: 5, 5\r\n\r\nhello", 400, "http.bad-content-length"),
        Rejection("empty", post + "Content-Length: \r\n\r\n", 400, "http.bad-content-length"),
        Rejection("decimal point", post + "Content-Length: 5.0\r\n\r\n", 400, "http.bad-content-length"),
        Rejection("non-ASCII digit", post + "Content-Length: \u{0665}\r\n\r\n", 400, "http.bad-content-length"),
        Rejection("overflow", post + "Content-Length: 99999999999999999999\r\n\r\n", 400, "http.content-length-overflow"),
        Rejection("Int.max + 1", post + "Content-Length: 9223372036854775808\r\n\r\n", 400, "http.content-length-overflow"),
    ])
    func rejectsMalformedContentLength(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("gzip", post + "Transfer-Encoding: gzip\r\n\r\n", 501, "http.unsupported-transfer-encoding"),
        Rejection("gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, "http.unsupported-transfer-encoding"),
        Rejection("chunked, chunked", post + "Transfer-Encoding: chunked, chunked\r\n\r\n", 501, "http.unsupported-transfer-encoding"),
        Rejection("identity", post + "Transfer-Encoding: identity\r\n\r\n", 501, "http.unsupported-transfer-encoding"),
        Rejection("parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n", 501, "http.unsupported-transfer-encoding"),
        Rejection("empty", post + "Transfer-Encoding: \r\n\r\n", 501, "http.unsupported-transfer-encoding"),
        Rejection("typo", post + "Transfer-Encoding: chunkd\r\n\r\n", 501, "http.unsupported-transfer-encoding"),
        Rejection("two headers", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                  "http.duplicate-transfer-encoding"),
        Rejection("HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "http.te-in-http10"),
    ])
    func rejectsTransferEncodingOtherThanChunked(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("missing in 1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "http.missing-host"),
        Rejection("two in 1.1", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "http.duplicate-host"),
        Rejection("two identical", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400, "http.duplicate-host"),
        Rejection("two in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "http.duplicate-host"),
        Rejection("space inside", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "http.bad-host"),
        Rejection("path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "http.bad-host"),
        Rejection("userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "http.bad-host"),
    ])
    func rejectsMissingOrDuplicateHost(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("declared over default", post + "Content-Length: 1048577\r\n\r\n", 413, "http.body-too-large"),
        Rejection("declared over small", post + "Content-Length: 11\r\n\r\n", 413, "http.body-too-large",
                  limits: smallLimits(bodyBytes: 10)),
        Rejection("one chunk over", post + "Transfer-Encoding: chunked\r\n\r\nb\r\n", 413, "http.body-too-large",
                  limits: smallLimits(bodyBytes: 10)),
        Rejection("chunks add up over", post + "Transfer-Encoding: chunked\r\n\r\n6\r\nhello!\r\n5\r\n", 413,
                  "http.body-too-large", limits: smallLimits(bodyBytes: 10)),
    ])
    func rejectsBodyOverLimit(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test func declaredLengthIsRefusedBeforeAnyBodyByte() throws {
        var parser = HTTPRequestParser(limits: smallLimits(bodyBytes: 10))
        let error = #expect(throws: HTTPParseError.self) {
            _ = try parser.feed(Array((Self.post + "Content-Length: 11\r\n\r\n").utf8))
        }
        #expect(error?.code == "http.body-too-large")
        #expect(error?.status == 413)
    }

    @Test func bodyExactlyAtLimitIsAccepted() {
        let body = String(repeating: "x", count: 10)
        let outcome = requestOutcome(Self.post + "Content-Length: 10\r\n\r\n" + body, limits: smallLimits(bodyBytes: 10))
        #expect(outcome.events.dropFirst() == [.body(Array(body.utf8)), .end])
        let chunked = requestOutcome(Self.post + "Transfer-Encoding: chunked\r\n\r\n4\r\nxxxx\r\n6\r\nxxxxxx\r\n0\r\n\r\n",
                                     limits: smallLimits(bodyBytes: 10))
        #expect(chunked.events.dropFirst() == [.body(Array(body.utf8)), .end])
    }

    @Test(arguments: [
        ("HTTP/1.1 no framing", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ("HTTP/1.0 no framing", "POST / HTTP/1.0\r\n\r\n"),
        ("Content-Length 0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
        ("Content-Length leading zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n"),
    ])
    func requestWithoutBodyEndsWithItsHead(label: String, input: String) {
        let events = requestOutcome(input).events
        #expect(events.count == 2, "\(label)")
        #expect(events.last == .end, "\(label)")
    }

    @Test(arguments: ["chunked", "CHUNKED", "Chunked", " chunked ", "\tchunked"])
    func acceptsChunkedInAnyCase(encoding: String) {
        let events = requestOutcome(Self.post + "Transfer-Encoding: \(encoding)\r\n\r\n2\r\nhi\r\n0\r\n\r\n").events
        #expect(events.dropFirst() == [.body(Array("hi".utf8)), .end])
    }

    @Test(arguments: ["a", "a:8080", "10.0.0.1:443", "[::1]:8080", "xn--bcher-kva.example", ""])
    func acceptsHostForms(host: String) {
        #expect(requestOutcome("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n").error == nil)
    }
}
