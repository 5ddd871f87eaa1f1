import MeshCore
import Testing
import MeshTestSupport

@Suite struct JSONObjectReaderTests {
    static func node(_ text: String, at path: JSONPath = .root) throws -> JSONNode {
        JSONNode(try StrictJSON.parse(Array(text.utf8)), path: path)
    }

    @Test func printsPaths() {
        #expect(JSONPath.root.description == "$")
        #expect(JSONPath.root.appending("inbound").appending(index: 1).appending("allow").appending(index: 0)
            .description == "inbound[1].allow[0]")
        #expect(JSONPath.root.appending(index: 2).appending("a").description == "[2].a")
        #expect(JSONPath.root.appending("labels").appending("app.io/name").description == #"labels["app.io/name"]"#)
        #expect(JSONPath.root.appending("a\nb").description == #"["a\nb"]"#)
        #expect(JSONPath.root.appending("").description == #"[""]"#)
    }

    @Test func readsTypedFieldsWithPaths() throws {
        let reader = try Self.node(#"{"s": "x", "b": true, "i": 42, "a": [1, 2], "o": {"k": null}, "n": null}"#)
            .object(fields: ["s", "b", "i", "a", "o", "n", "absent"])
        #expect(try reader.required("s").string() == "x")
        #expect(try reader.required("b").bool() == true)
        #expect(try reader.required("i").int(in: 0...100) == 42)
        let elements = try reader.required("a").elements()
        #expect(elements.map(\.path.description) == ["a[0]", "a[1]"])
        let inner = try reader.required("o").object(fields: ["k"])
        #expect(inner.path.description == "o")
        #expect(inner.optional("k") == nil)
        #expect(reader.optional("n") == nil)
        #expect(reader.optional("absent") == nil)
        #expect(reader.optional("s")?.path.description == "s")
    }

    @Test func rejectsUnknownFieldsNamingThemAndTheKnownOnes() throws {
        let node = try Self.node(#"{"name": "x", "nmae": "y"}"#, at: JSONPath.root.appending("inbound").appending(index: 1))
        let error = expectMeshError("config.unknown-field", reasonPrefix: "inbound[1].nmae: ") {
            _ = try node.object(fields: ["name", "listen"])
        }
        #expect(error?.reason.hasSuffix("expected one of: listen, name") == true)
    }

    @Test func matchesFieldNamesByteForByte() throws {
        // U+212A KELVIN SIGN is canonically equivalent to "K", so Swift's == would call these names equal.
        let node = try Self.node("{\"\u{212A}ind\": 1}")
        expectMeshError("config.unknown-field") { _ = try node.object(fields: ["Kind"]) }
    }

    @Test func reportsMissingFieldsByTheirPath() throws {
        let reader = try Self.node("{}", at: JSONPath.root.appending("identity")).object(fields: ["key"])
        expectMeshError("config.missing-field", reasonPrefix: "identity.key: ") { _ = try reader.required("key") }
    }

    @Test(arguments: [
        (#"{"v": 1}"#, "string"), (#"{"v": "1"}"#, "int"), (#"{"v": "true"}"#, "bool"), (#"{"v": {}}"#, "array"),
        (#"{"v": []}"#, "object"), (#"{"v": null}"#, "string"), (#"{"v": null}"#, "int"), (#"{"v": 1.5}"#, "int"),
        (#"{"v": 1e3}"#, "int"), (#"{"v": 1.0}"#, "int"), (#"{"v": 10E0}"#, "int"),
    ])
    func rejectsWrongTypes(text: String, accessor: String) throws {
        let reader = try Self.node(text, at: JSONPath.root.appending("limits")).object(fields: ["v"])
        expectMeshError("config.wrong-type", reasonPrefix: "limits.v: expected ") {
            let node = try reader.required("v")
            switch accessor {
            case "string": _ = try node.string()
            case "int": _ = try node.int(in: 0...10_000)
            case "bool": _ = try node.bool()
            case "array": _ = try node.elements()
            default: _ = try node.object(fields: [])
            }
        }
    }

    @Test(arguments: ["-1", "101", "99999999999999999999999", "-99999999999999999999999"])
    func rejectsIntegersOutOfRange(number: String) throws {
        let node = try Self.node(number, at: JSONPath.root.appending("n"))
        expectMeshError("config.out-of-range", reasonPrefix: "n: \(number) is outside the allowed range 0...100") {
            _ = try node.int(in: 0...100)
        }
    }

    @Test(arguments: [("0", 0), ("-0", 0), ("100", 100), ("-5", -5)])
    func acceptsIntegersInRange(text: String, value: Int) throws {
        #expect(try Self.node(text).int(in: -5...100) == value)
    }

    @Test func rejectsNonObjectRoot() {
        expectMeshError("config.wrong-type", reasonPrefix: "$: expected an object, found an array") {
            _ = try JSONNode(.array([])).object(fields: [])
        }
    }

    @Test func rejectsDuplicateKeysInHandBuiltValues() {
        let value = JSONValue.object([("a", .null), ("a", .bool(true))])
        expectMeshError("json.duplicate-key", reasonPrefix: "a: ") { _ = try JSONNode(value).object(fields: ["a"]) }
    }
}
