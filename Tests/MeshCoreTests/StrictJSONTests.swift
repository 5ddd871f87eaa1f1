import MeshCore
import Testing
import MeshTestSupport

/// A rejected document and the code it must produce.
struct BadJSON: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let code: String

    init(_ name: String, _ text: String, _ code: String) {
        self.init(name, Array(text.utf8), code)
    }

    init(_ name: String, _ bytes: [UInt8], _ code: String) {
        self.name = name
        self.bytes = bytes
        self.code = code
    }

    var testDescription: String { name }
}

@Suite struct StrictJSONTests {
    static let nested33 = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
    static let objects33 = String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 33)

    static let rejections: [BadJSON] = [
        BadJSON("empty document", "", "json.syntax"),
        BadJSON("only whitespace", " \n\t ", "json.syntax"),
        BadJSON("unclosed object", "{", "json.syntax"),
        BadJSON("unclosed array", "[1, 2", "json.syntax"),
        BadJSON("trailing comma in array", "[1,]", "json.syntax"),
        BadJSON("trailing comma in object", #"{"a":1,}"#, "json.syntax"),
        BadJSON("unquoted key", "{a:1}", "json.syntax"),
        BadJSON("single-quoted string", "['a']", "json.syntax"),
        BadJSON("missing comma", "[1 2]", "json.syntax"),
        BadJSON("missing colon", #"{"a" 1}"#, "json.syntax"),
        BadJSON("truncated literal", "tru", "json.syntax"),
        BadJSON("capitalised literal", "True", "json.syntax"),
        BadJSON("unterminated string", #""abc"#, "json.syntax"),
        BadJSON("comment", "[1] // no", "json.trailing-data"),
        BadJSON("byte order mark", [0xEF, 0xBB, 0xBF] + Array("{}".utf8), "json.syntax"),
        BadJSON("garbage after value", "[1]x", "json.trailing-data"),
        BadJSON("two documents", "{} {}", "json.trailing-data"),
        BadJSON("two numbers", "1 2", "json.trailing-data"),
        BadJSON("leading zero", "01", "json.bad-number"),
        BadJSON("negative leading zero", "[-01]", "json.bad-number"),
        BadJSON("bare minus", "-", "json.bad-number"),
        BadJSON("trailing dot", "1.", "json.bad-number"),
        BadJSON("leading dot", ".5", "json.bad-number"),
        BadJSON("plus sign", "+1", "json.bad-number"),
        BadJSON("empty exponent", "1e", "json.bad-number"),
        BadJSON("signed empty exponent", "1e+", "json.bad-number"),
        BadJSON("NaN", "NaN", "json.bad-number"),
        BadJSON("Infinity", "[Infinity]", "json.bad-number"),
        BadJSON("-Infinity", #"{"a": -Infinity}"#, "json.bad-number"),
        BadJSON("hex number", "0x10", "json.trailing-data"),
        BadJSON("duplicate key", #"{"a":1,"a":2}"#, "json.duplicate-key"),
        BadJSON("nested duplicate key", #"{"x":[{"k":1,"k":{}}]}"#, "json.duplicate-key"),
        BadJSON("duplicate key via escape", #"{"a":1,"\u0061":2}"#, "json.duplicate-key"),
        BadJSON("canonically equivalent keys", "{\"\u{E9}\":1,\"e\u{301}\":2}", "json.duplicate-key"),
        BadJSON("raw tab in string", "\"a\tb\"", "json.control-char"),
        BadJSON("raw newline in string", "[\"a\nb\"]", "json.control-char"),
        BadJSON("raw NUL in string", "\"a\0b\"", "json.control-char"),
        BadJSON("unknown escape", #""\x41""#, "json.bad-escape"),
        BadJSON("short unicode escape", #""\u12""#, "json.bad-escape"),
        BadJSON("non-hex unicode escape", #""\u12G4""#, "json.bad-escape"),
        BadJSON("lone high surrogate", #""\ud800""#, "json.lone-surrogate"),
        BadJSON("high surrogate then text", #""\ud800x""#, "json.lone-surrogate"),
        BadJSON("high surrogate then non-surrogate", #""\ud800\u0041""#, "json.lone-surrogate"),
        BadJSON("two high surrogates", #""\ud800\ud800""#, "json.lone-surrogate"),
        BadJSON("lone low surrogate", #""\udc00""#, "json.lone-surrogate"),
        BadJSON("invalid UTF-8 byte", [0x22, 0xFF, 0x22], "json.invalid-utf8"),
        BadJSON("overlong encoding", [0x22, 0xC0, 0xAF, 0x22], "json.invalid-utf8"),
        BadJSON("encoded surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22], "json.invalid-utf8"),
        BadJSON("above U+10FFFF", [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "json.invalid-utf8"),
        BadJSON("truncated sequence", [0x22, 0xE2, 0x82], "json.invalid-utf8"),
        BadJSON("stray continuation byte outside a string", [0x5B, 0x80, 0x5D], "json.invalid-utf8"),
        BadJSON("33 nested arrays", nested33, "json.too-deep"),
        BadJSON("33 nested objects", objects33, "json.too-deep"),
    ]

    @Test(arguments: rejections)
    func rejectsBadDocuments(_ bad: BadJSON) {
        expectMeshError(bad.code) { _ = try StrictJSON.parse(bad.bytes) }
    }

    @Test(arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .number("0")),
        ("-0", .number("-0")),
        ("123", .number("123")),
        ("-1.5e+10", .number("-1.5e+10")),
        ("1E-2", .number("1E-2")),
        ("123456789012345678901234567890", .number("123456789012345678901234567890")),
        (#""""#, .string("")),
        (#""a\"\\\/\b\f\n\r\t""#, .string("a\"\\/\u{8}\u{C}\n\r\t")),
        (#""\u00e9\u00E9é""#, .string("ééé")),
        (#""\ud83d\ude00""#, .string("😀")),
        (#""\u0000""#, .string("\0")),
        ("[]", .array([])),
        ("{}", .object([])),
        (" \t\r\n[1, [2, [3]]]\n", .array([.number("1"), .array([.number("2"), .array([.number("3")])])])),
        (#"{"b": 1, "a": [null], "c": {"d": "e"}}"#,
         .object([("b", .number("1")), ("a", .array([.null])), ("c", .object([("d", .string("e"))]))])),
    ])
    func parsesValidDocuments(text: String, expected: JSONValue) throws {
        #expect(try StrictJSON.parse(Array(text.utf8)) == expected)
    }

    @Test func keepsMemberOrderAndComparesInOrder() throws {
        let value = try StrictJSON.parse(Array(#"{"z": 1, "a": 2}"#.utf8))
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.0) == ["z", "a"])
        #expect(value != .object([("a", .number("2")), ("z", .number("1"))]))
        #expect(value["a"] == .number("2"))
        #expect(value["missing"] == nil)
    }

    @Test func acceptsNestingUpToTheLimit() throws {
        let deepest = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        _ = try StrictJSON.parse(Array(deepest.utf8))
        let custom = StrictJSON.Limits(maxDepth: 2)
        _ = try StrictJSON.parse(Array("[[1]]".utf8), limits: custom)
        expectMeshError("json.too-deep") { _ = try StrictJSON.parse(Array("[[[1]]]".utf8), limits: custom) }
        expectMeshError("json.too-deep") { _ = try StrictJSON.parse(Array("[]".utf8), limits: .init(maxDepth: 0)) }
        #expect(try StrictJSON.parse(Array("7".utf8), limits: .init(maxDepth: 0)) == .number("7"))
    }

    @Test func rejectsDocumentsOverTheSizeLimit() throws {
        let limits = StrictJSON.Limits(maxBytes: 8)
        #expect(try StrictJSON.parse(Array(#""123456""#.utf8), limits: limits) == .string("123456"))
        expectMeshError("json.too-large", reasonPrefix: "1:1:") {
            _ = try StrictJSON.parse(Array(#""1234567""#.utf8), limits: limits)
        }
        #expect(StrictJSON.Limits().maxBytes == 4 * 1024 * 1024)
        #expect(StrictJSON.Limits().maxDepth == 32)
        let huge = [UInt8](repeating: 0x20, count: 4 * 1024 * 1024 + 1)
        expectMeshError("json.too-large") { _ = try StrictJSON.parse(huge) }
    }

    @Test func clampsTheDepthLimit() {
        #expect(StrictJSON.Limits(maxDepth: 1_000_000).maxDepth == StrictJSON.Limits.maxDepthCap)
        #expect(StrictJSON.Limits(maxDepth: -3).maxDepth == 0)
    }

    @Test func duplicateKeyErrorNamesKeyPathAndBothPositions() {
        let text = "{\n  \"a\": 1,\n  \"a\": 2\n}"
        let error = expectMeshError("json.duplicate-key") { _ = try StrictJSON.parse(Array(text.utf8)) }
        #expect(error?.reason == #"3:3 at a: duplicate key "a" (first at 2:3)"#)
        let nested = #"{"x": [{"k": 1, "k": 2}]}"#
        let inner = expectMeshError("json.duplicate-key") { _ = try StrictJSON.parse(Array(nested.utf8)) }
        #expect(inner?.reason == #"1:17 at x[0].k: duplicate key "k" (first at 1:9)"#)
    }

    @Test(arguments: [
        ("[\"\u{E9}\", x]", "1:7 at [1]: "),
        ("{\n\"name\": \"a\tb\"}", "2:11 at name: "),
        ("{\"a b\": [01]}", "1:10 at [\"a b\"][0]: "),
        ("[1,\n 2,\n 3 x]", "3:4 at $: "),
        ("\"\\ud800\"", "1:2 at $: "),
    ])
    func errorReasonsGiveLineColumnAndPath(text: String, prefix: String) {
        do {
            _ = try StrictJSON.parse(Array(text.utf8))
            Issue.record("parsed \(text.debugDescription)")
        } catch {
            #expect(error.reason.hasPrefix(prefix), "reason: \(error.reason)")
        }
    }

    @Test func acceptsAnySizedCollectionOfBytes() throws {
        let slice = Array("xx[true]xx".utf8)[2..<8]
        #expect(try StrictJSON.parse(slice) == .array([.bool(true)]))
    }
}
