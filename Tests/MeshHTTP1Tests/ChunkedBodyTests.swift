import MeshHTTP1
import Testing

/// Chunked request bodies: sizes, extensions, data framing, trailers; every input fed whole, byte by byte and
/// in random splits.
@Suite struct ChunkedBodyTests {
    static let head = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

    @Test(arguments: [
        Rejection("17 hex digits", head + "00000000000000001\r\nx\r\n0\r\n\r\n", 413, "http.chunk-size-overflow"),
        Rejection("20 hex digits", head + "FFFFFFFFFFFFFFFFFFFF\r\n", 413, "http.chunk-size-overflow"),
        Rejection("16 digits overflowing Int", head + "8000000000000000\r\n", 413, "http.chunk-size-overflow"),
        Rejection("16 digits all F", head + "FFFFFFFFFFFFFFFF\r\n", 413, "http.chunk-size-overflow"),
        Rejection("16 digits over the body limit", head + "7FFFFFFFFFFFFFFF\r\n", 413, "http.body-too-large"),
        Rejection("just over 1 MiB", head + "100001\r\n", 413, "http.body-too-large"),
    ])
    func rejectsChunkSizeOverflow(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("not hex", head + "g\r\n", 400, "http.bad-chunk-size"),
        Rejection("empty size line", head + "\r\n", 400, "http.bad-chunk-size"),
        Rejection("0x prefix", head + "0x5\r\nhello\r\n", 400, "http.bad-chunk-size"),
        Rejection("minus", head + "-5\r\n", 400, "http.bad-chunk-size"),
        Rejection("plus", head + "+5\r\n", 400, "http.bad-chunk-size"),
        Rejection("trailing space", head + "5 \r\nhello\r\n0\r\n\r\n", 400, "http.bad-chunk-size"),
        Rejection("leading space", head + " 5\r\nhello\r\n0\r\n\r\n", 400, "http.bad-chunk-size"),
        Rejection("garbage after size", head + "5x\r\nhello\r\n0\r\n\r\n", 400, "http.bad-chunk-size"),
        Rejection("data then garbage", head + "5\r\nhelloX\r\n0\r\n\r\n", 400, "http.bad-chunk-framing"),
        Rejection("data then LF", head + "5\r\nhello\n0\r\n\r\n", 400, "http.bad-chunk-framing"),
        Rejection("data then CR CR", head + "5\r\nhello\r\r\n", 400, "http.bad-chunk-framing"),
        Rejection("data longer than declared", head + "3\r\nhello\r\n0\r\n\r\n", 400, "http.bad-chunk-framing"),
        Rejection("bare LF after size", head + "5\nhello\r\n0\r\n\r\n", 400, "http.bare-lf"),
        Rejection("bare CR in size line", head + "5\rhello\r\n", 400, "http.bare-cr"),
        Rejection("NUL in extension", head + "5;a=\u{0}\r\nhello\r\n0\r\n\r\n", 400, "http.nul"),
        Rejection("extension over 4 KiB", head + "5;" + String(repeating: "e", count: 4_100) + "\r\nhello\r\n0\r\n\r\n", 400,
                  "http.chunk-line-too-long"),
        Rejection("line over a small cap", head + "5;abcdefgh\r\nhello\r\n0\r\n\r\n", 400, "http.chunk-line-too-long",
                  limits: smallLimits(chunkLine: 8)),
        Rejection("zeros over the cap", head + String(repeating: "0", count: 5_000) + "\r\n", 400, "http.chunk-line-too-long"),
    ])
    func rejectsBadChunkFraming(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test(arguments: [
        Rejection("folded trailer", head + "0\r\nX: a\r\n b\r\n\r\n", 400, "http.obs-fold"),
        Rejection("bad trailer name", head + "0\r\nX@: a\r\n\r\n", 400, "http.bad-header-name"),
        Rejection("trailer without colon", head + "0\r\nnonsense\r\n\r\n", 400, "http.missing-colon"),
        Rejection("bare LF in trailers", head + "0\r\nX: a\n\r\n", 400, "http.bare-lf"),
        Rejection("bare LF ends trailers", head + "0\r\n\n", 400, "http.bare-lf"),
        Rejection("too many trailers", head + "0\r\n" + String(repeating: "T: v\r\n", count: 101) + "\r\n", 431,
                  "http.too-many-trailers"),
        Rejection("trailers over the header bytes", head + "0\r\nT: " + String(repeating: "v", count: 33_000) + "\r\n\r\n", 431,
                  "http.trailers-too-large"),
    ])
    func rejectsBadTrailers(_ row: Rejection) {
        expectRequestRejected(row)
    }

    @Test func decodesChunksWithExtensionsAndTrailers() throws {
        let outcome = requestOutcome(Self.head
            + "5;name=value\r\nhello\r\n"
            + "1 ; a ; b=\"quoted; string\"\r\n \r\n"
            + "A\r\n0123456789\r\n"
            + "0;last\r\nChecksum: abc\r\nX-Trailer: 1\r\n\r\n")
        let events = outcome.events
        #expect(events.count == 3)
        #expect(events.first?.head?.method == "POST")
        #expect(events.dropFirst() == [.body(Array("hello 0123456789".utf8)), .end])
    }

    @Test func decodesLongChunksAndUpperAndLowerHex() {
        let data = String(repeating: "z", count: 0xABC)
        let events = requestOutcome(Self.head + "abc\r\n\(data)\r\n00000ABC\r\n\(data)\r\n0\r\n\r\n").events
        #expect(events.dropFirst() == [.body(Array((data + data).utf8)), .end])
    }

    @Test func trailersAtTheLimitsAreAccepted() {
        let trailers = String(repeating: "T: v\r\n", count: 100)
        #expect(requestOutcome(Self.head + "0\r\n" + trailers + "\r\n").events.last == .end)
    }

    @Test func chunkedBodyIsFollowedByPipelinedRequest() {
        let events = requestOutcome(Self.head + "2\r\nhi\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n").events
        #expect(events.count == 5)
        #expect(events[3].head?.path == "/next")
        #expect(events[4] == .end)
    }

    @Test func unfinishedChunkedBodyIsTruncatedAtClose() {
        for cut in ["2\r\nh", "2\r\nhi", "2\r\nhi\r", "2\r\nhi\r\n", "2\r\nhi\r\n0\r\n", "2\r\nhi\r\n0\r\nX: y\r\n", "2;ext"] {
            let outcome = requestOutcome(Self.head + cut, finish: true)
            #expect(outcome.error?.code == "http.truncated", "\(cut.debugDescription)")
        }
    }
}
