import Testing
import MeshHTTP1
@testable import SidecarKit

/// The heads both sides write by hand (no `String` per field): exact bytes, so the faster serialisation cannot
/// drift from what the proxies sent before (hop-by-hop and mesh-reserved names matched ignoring case).
@Suite struct PoolHeadWritingTests {
    private func text(_ q: ByteQueue) -> String { String(decoding: Array(q.contents), as: UTF8.self) }

    @Test func requestHeadDropsHopByHopFieldsIgnoringCaseAndWritesOurFraming() {
        let head = HTTPRequestHead(method: "POST", target: "/v1/x?a=1", version: .http10, headers: HTTPHeaders([
            ("Accept", "*/*"), ("CONNECTION", "X-Trace, keep-alive"), ("x-trace", "1"), ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"), ("Proxy-Connection", "close"), ("Content-Length", "12"), ("X-Other", "v")]))
        var q = ByteQueue()
        HopHeads.request(head, body: HopHeads.requestBody(head), defaultHost: "10.0.0.1:8080", into: &q)
        #expect(text(q) == "POST /v1/x?a=1 HTTP/1.1\r\nAccept: */*\r\nX-Other: v\r\nHost: 10.0.0.1:8080\r\n"
            + "Content-Length: 12\r\n\r\n")
    }

    @Test func responseHeadWritesStatusFramingAndClose() {
        let head = HTTPResponseHead(status: 404, reason: "Not Found", headers: HTTPHeaders([
            ("Server", "app"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("Date", "today")]))
        var q = ByteQueue()
        HopHeads.response(head, body: .chunked, close: true, http10: false, into: &q)
        #expect(text(q) == "HTTP/1.1 404 Not Found\r\nServer: app\r\nDate: today\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        var q10 = ByteQueue()
        HopHeads.response(HTTPResponseHead(status: 200, reason: "OK"), body: .length(0), close: false, http10: true, into: &q10)
        #expect(text(q10) == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func numbersAreWrittenInDecimalAndChunkSizesInHex() {
        var q = ByteQueue()
        for n in [0, 7, 10, 99, 100, 65_536, Int(Int32.max)] { q.appendDecimal(n); q.append(",") }
        #expect(text(q) == "0,7,10,99,100,65536,2147483647,")
        var c = ByteQueue()
        for n in [1, 15, 16, 255, 4096, 65_535] { c.appendChunk([UInt8](repeating: 0x61, count: n)) }
        let sizes = text(c).split(separator: "\r\n").filter { $0.first != "a" }
        #expect(sizes == ["1", "f", "10", "ff", "1000", "ffff"])
    }

    @Test func sanitizerStripsReservedNamesIgnoringCaseOnly() {
        let stripped = ["Connection", "KEEP-ALIVE", "Proxy-Connection", "te", "Trailer", "Upgrade", "Transfer-Encoding", "content-length",
                        "Proxy-Authorization", "X-Mesh-Peer-Identity", "x-MESH-anything", "X-Forwarded-Client-Cert",
                        "x-client-cert-chain", "X-SSL-Client-Verify", "x-client-verify", "X-Named"]
        for n in stripped { #expect(HeaderSanitizer.isStripped(HTTPHeaders([(n, "")]), 0, named: ["x-named"], upgrading: false), "\(n)") }
        let kept = ["Accept", "Host", "x-mesh", "X-Client", "x-forwarded-client-cert2", "Tea", "X-Name", "x-client-verified"]
        for n in kept { #expect(!HeaderSanitizer.isStripped(HTTPHeaders([(n, "")]), 0, named: ["x-named"], upgrading: false), "\(n)") }
        #expect(!HeaderSanitizer.isStripped(HTTPHeaders([("UPGRADE", "")]), 0, named: [], upgrading: true))
    }

    /// Appended after what the queue already holds (the previous request's body), byte for byte.
    @Test func forwardedHeadIsByteExact() {
        let head = HTTPRequestHead(method: "GET", target: "/a/../b", headers: HTTPHeaders([
            ("Host", "svc"), ("Connection", "close"), ("X-Mesh-Peer-Identity", "forged"), ("Accept", "*/*")]))
        var out = Array("body".utf8)
        HeaderSanitizer.writeForwardedHead(head, target: "/b", upgrading: false, peer: "spiffe://td/ns/a/sa/b",
                                           subject: "alice", requestID: "0123456789abcdef", into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "bodyGET /b HTTP/1.1\r\nHost: svc\r\nAccept: */*\r\n"
            + "x-mesh-peer-identity: spiffe://td/ns/a/sa/b\r\nx-mesh-token-subject: alice\r\nx-mesh-request-id: 0123456789abcdef\r\n\r\n")
    }

    /// The verified token's field is left out (every field of that name, any case); look-alikes stay; claims
    /// handed on follow the subject.
    @Test func forwardedHeadLeavesOutTheDroppedField() {
        let head = HTTPRequestHead(method: "GET", target: "/a", headers: HTTPHeaders([
            ("Host", "svc"), ("Authorization", "Bearer t"), ("X-Authorization", "x"), ("AUTHORIZATION", "Bearer u")]))
        var out: [UInt8] = []
        HeaderSanitizer.writeForwardedHead(head, target: "/a", upgrading: false, peer: "p", subject: "alice", requestID: "r",
                                           dropping: ["authorization"], claims: [ClaimHeader(name: "scope", value: "a b")], into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "GET /a HTTP/1.1\r\nHost: svc\r\nX-Authorization: x\r\n"
            + "x-mesh-peer-identity: p\r\nx-mesh-token-subject: alice\r\nx-mesh-claim-scope: a b\r\nx-mesh-request-id: r\r\n\r\n")
    }

    /// A parsed head is forwarded from the received bytes: a value's obs-text (bytes 0x80-0xFF, which are not
    /// UTF-8 here) reaches the app unchanged, not replaced by U+FFFD, and spaces around a value are dropped.
    @Test func parsedFieldValuesAreForwardedAsReceived() throws {
        var parser = HTTPRequestParser()
        let wire: [UInt8] = Array("GET /a HTTP/1.1\r\nHost: svc\r\nX-Latin:  caf".utf8) + [0xE9, 0xFF] + Array(" \t\r\n\r\n".utf8)
        guard case .head(let head)? = try parser.feed(wire).first else { Issue.record("no head"); return }
        var out: [UInt8] = []
        HeaderSanitizer.writeForwardedHead(head, target: "/a", upgrading: false, peer: "p", subject: nil, requestID: "r", into: &out)
        #expect(out == Array("GET /a HTTP/1.1\r\nHost: svc\r\nX-Latin: caf".utf8) + [0xE9, 0xFF]
            + Array("\r\nx-mesh-peer-identity: p\r\nx-mesh-request-id: r\r\n\r\n".utf8))
    }

    @Test func connectionTokensAreTrimmedLowerCasedAndNonEmpty() {
        let h = HTTPHeaders([("Connection", "  Keep-Alive ,X-A,, \tUPGRADE\t,"), ("Accept", "a, b"),
                             ("connection", "x-a-very-long-token-name-over-15"), ("CONNECTION", "")])
        #expect(ConnectionTokens.of(h) == ["keep-alive", "x-a", "upgrade", "x-a-very-long-token-name-over-15"])
        #expect(ConnectionTokens.of(HTTPHeaders([("Accept", "*/*")])) == [])
        #expect(HopHeads.connectionTokens(h) == HeaderSanitizer.connectionTokens(h))
    }
}
