import MeshHTTP1
import Testing

/// Body events are ranges of the buffer just fed: they point past heads and chunk framing, stay inside that
/// buffer, and start again at 0 in the next feed.
@Suite struct BodyRangeTests {
    private static let post = "POST /u HTTP/1.1\r\nHost: a\r\n"

    private func feed(_ parser: inout HTTPRequestParser, _ text: String) throws -> [HTTPEvent<HTTPRequestHead>] {
        try parser.feed(Array(text.utf8))
    }

    @Test func fixedLengthBodyIsTheBytesAfterTheHead() throws {
        var parser = HTTPRequestParser()
        let head = Self.post + "Content-Length: 5\r\n\r\n"
        let events = try feed(&parser, head + "hel")
        #expect(Array(events.dropFirst()) == [.body(head.utf8.count..<(head.utf8.count + 3))])
        #expect(try feed(&parser, "lo") == [.body(0..<2), .end])
    }

    @Test func chunkedBodySkipsSizeLinesAndCRLFs() throws {
        var parser = HTTPRequestParser()
        let head = Self.post + "Transfer-Encoding: chunked\r\n\r\n"
        let input = Array((head + "5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n").utf8)
        let events = try parser.feed(input)
        let h = head.utf8.count
        #expect(Array(events.dropFirst()) == [.body((h + 3)..<(h + 8)), .body((h + 17)..<(h + 20)), .end])
        #expect(materialized(events, from: input).dropFirst() == [.body(Array("hello".utf8)), .body(Array("abc".utf8)), .end])
    }

    @Test func pipelinedBodiesPointIntoTheSameBuffer() throws {
        var parser = HTTPRequestParser()
        let one = Self.post + "Content-Length: 2\r\n\r\nab"
        let two = Self.post + "Content-Length: 3\r\n\r\nxyz"
        let input = Array((one + two).utf8)
        let bodies = try parser.feed(input).compactMap { e -> Range<Int>? in
            if case .body(let r) = e { return r }
            return nil
        }
        #expect(bodies == [(one.utf8.count - 2)..<one.utf8.count, (input.count - 3)..<input.count])
    }

    @Test func bodyUntilCloseRunsToTheEndOfEachFeed() throws {
        var parser = HTTPResponseParser()
        let head = "HTTP/1.1 200 OK\r\n\r\n"
        let first = try parser.feed(Array((head + "abc").utf8))
        #expect(Array(first.dropFirst()) == [.body(head.utf8.count..<(head.utf8.count + 3))])
        #expect(try parser.feed(Array("defg".utf8)) == [.body(0..<4)])
        #expect(try parser.finish() == [.end])
    }

    @Test func rawBufferOffsetsAreFromItsStart() throws {
        var parser = HTTPRequestParser()
        let bytes = Array((Self.post + "Content-Length: 1\r\n\r\nzTAIL").utf8)
        let events = try bytes.withUnsafeBytes { raw in
            try parser.feed(UnsafeRawBufferPointer(rebasing: raw[0..<(bytes.count - 4)]))
        }
        #expect(events.dropFirst() == [.body((bytes.count - 5)..<(bytes.count - 4)), .end])
    }
}
