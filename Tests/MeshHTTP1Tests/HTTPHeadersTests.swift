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
}
