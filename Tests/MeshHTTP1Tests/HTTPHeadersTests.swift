import MeshHTTP1
import Testing

@Suite struct HTTPHeadersTests {
    static let headers: HTTPHeaders = ["Host": "a", "Accept": "x", "accept": "y", "X-Empty": ""]

    @Test(arguments: [("host", "a"), ("HOST", "a"), ("Accept", "x"), ("ACCEPT", "x"), ("x-empty", ""), ("Accept ", nil), ("Hos", nil)])
    func looksUpIgnoringCaseFirstMatch(name: String, value: String?) {
        #expect(Self.headers[name] == value)
    }

    @Test func keepsOrderSpellingAndDuplicates() {
        #expect(Self.headers.count == 4)
        #expect(Self.headers.map(\.name) == ["Host", "Accept", "accept", "X-Empty"])
        #expect(Self.headers.values("ACCEPT") == ["x", "y"])
        #expect(Self.headers.count("accept") == 2)
        #expect(Self.headers.values("missing").isEmpty)
        #expect(HTTPHeaders([("Host", "a")]) == ["Host": "a"])
        #expect(HTTPHeaders([("Host", "a")]) != ["host": "a"])  // equality is exact
        #expect(HTTPHeaders().isEmpty)
    }

    @Test func addsRemovesAndSets() {
        var headers = Self.headers
        headers.add("Accept", "z")
        #expect(headers.values("accept") == ["x", "y", "z"])
        headers.remove("ACCEPT")
        #expect(!headers.contains("Accept"))
        headers.set("host", "b")
        #expect(headers.values("Host") == ["b"])
        #expect(headers.map(\.name) == ["X-Empty", "host"])
    }

    @Test func singleTellsNoneOneAndMany() {
        #expect(Self.headers.single("HOST") == .one("a"))
        #expect(Self.headers.single("accept") == .many)
        #expect(Self.headers.single("x-empty") == .one(""))
        #expect(Self.headers.single("missing") == .none)
    }

    /// The `Connection` list is read token by token (trimmed, case ignored), never by substring.
    @Test(arguments: [
        ("close", HTTPVersion.http11, false), (" Keep-Alive ,\tCLOSE ", .http11, false), ("closed", .http11, true),
        ("xclose, foo", .http11, true), (",,close,,", .http11, false), ("", .http11, true), ("keep-alive", .http10, true),
        ("keep-alive, close", .http10, false), ("keep-alivex", .http10, false), ("  keep-alive", .http10, true),
    ])
    func keepAliveReadsConnectionTokens(value: String, version: HTTPVersion, keepAlive: Bool) {
        let head = HTTPRequestHead(method: "GET", target: "/", version: version, headers: ["Host": "a", "Connection": value])
        #expect(head.keepAlive == keepAlive)
    }

    /// Every name a parser or proxy acts on is recognised ignoring case, and only the whole name (or the listed
    /// prefixes of look-alikes of ours).
    @Test(arguments: [
        ("Host", HTTPFieldKind.host), ("HOST", .host), ("Hosts", .other), ("hos", .other),
        ("Connection", .connection), ("Keep-Alive", .keepAlive), ("PROXY-CONNECTION", .proxyConnection),
        ("te", .te), ("Tea", .other), ("Trailer", .trailer), ("Transfer-Encoding", .transferEncoding),
        ("Transfer-Encodings", .other), ("upgrade", .upgrade), ("Content-Length", .contentLength),
        ("Content-Lengt", .other), ("Expect", .expect), ("Proxy-Authorization", .meshLookalike),
        ("X-Mesh-Peer-Identity", .meshLookalike), ("x-mesh", .other), ("X-Client-Cert-Chain", .meshLookalike),
        ("X-SSL-Client-Verify", .meshLookalike), ("x-forwarded-client-cert", .meshLookalike),
        ("x-forwarded-client-cert2", .other), ("X-Client-Verify", .meshLookalike), ("x-client-verified", .other),
        ("Accept", .other), ("x", .other), ("", .other),
    ])
    func recognisesFieldKinds(name: String, kind: HTTPFieldKind) {
        #expect(HTTPFieldKind(name) == kind)
        #expect(HTTPField(name: name, value: "v").kind == kind)
    }

    /// Lookups by name and by kind agree; a name of no known kind is still found by its bytes.
    @Test func looksUpByKindAndByName() {
        let h: HTTPHeaders = ["content-LENGTH": "5", "X-Mesh-A": "1", "x-mesh-b": "2", "Accept": "*/*"]
        #expect(h[.contentLength] == "5" && h["Content-Length"] == "5")
        #expect(h["X-MESH-B"] == "2" && h["x-mesh-a"] == "1" && h["accept"] == "*/*")
        #expect(h.contains(.contentLength) && !h.contains(.transferEncoding) && !h.contains("Transfer-Encoding"))
        #expect(h.single(.host) == .none && h.count("x-mesh-a") == 1 && h.values("X-Mesh-B") == ["2"])
        #expect(h.all.map(\.kind) == [.contentLength, .meshLookalike, .meshLookalike, .other])
    }

    /// Lines are kept in wire form: `forEachLine` hands neighbouring kept lines over as one piece, exactly as
    /// they would be written, and a removed field's bytes never come back.
    @Test func forwardsKeptLinesAsWirePieces() {
        var h: HTTPHeaders = ["A": "1", "B": "2", "C": "3", "D": "4"]
        var pieces: [String] = []
        h.forEachLine(where: { $0 != 2 }) { pieces.append(String(decoding: $0, as: UTF8.self)) }
        #expect(pieces == ["A: 1\r\nB: 2\r\n", "D: 4\r\n"])
        h.remove("b")
        h.set("A", "one")
        pieces = []
        h.forEachLine(where: { _ in true }) { pieces.append(String(decoding: $0, as: UTF8.self)) }
        #expect(pieces == ["C: 3\r\nD: 4\r\nA: one\r\n"])
        #expect(h.count == 3 && h.name(at: 2) == "A" && h.value(at: 2) == "one" && h.kind(at: 0) == .other)
        #expect(h.name(at: 2, equalsLowercase: "a") && !h.name(at: 2, equalsLowercase: "b"))
    }

    /// Heads built by hand grow past the parser's reserve and through many replacements without losing a field.
    @Test func manyFieldsAndReplacementsKeepEveryValue() {
        var h = HTTPHeaders()
        #expect(h["Connection"] == nil)
        for i in 0..<200 { h.add("X-\(i)", String(repeating: "v", count: i)) }
        for _ in 0..<100 { h.set("Connection", "close") }
        #expect(h.count == 201 && h["connection"] == "close" && h["x-199"] == String(repeating: "v", count: 199))
        #expect(h.values("X-0") == [""] && h.all.count == 201)
    }

    @Test(arguments: [("5", 5), ("0", 0), ("", nil), ("5x", nil), ("99999999999999999999", nil)] as [(String, Int?)])
    func contentLengthIsReadFromTheBytes(value: String, expected: Int?) {
        #expect(HTTPHeaders([("Content-Length", value)]).contentLength == expected)
        #expect(HTTPHeaders([("X", "1")]).contentLength == nil)
    }
}
