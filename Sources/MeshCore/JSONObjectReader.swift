/// Typed, path-aware reading of `JSONValue` trees for configuration schemas. Every error's reason starts with
/// the path of the offending value (`inbound[1].allow[0]: …`). Codes: `config.wrong-type`,
/// `config.missing-field`, `config.unknown-field`, `config.out-of-range`, `json.duplicate-key`.

/// A location in a JSON document, printed as `inbound[1].allow[0]`; the document itself prints as `$`.
/// Keys that are not plain words print quoted: `labels["app.kubernetes.io/name"]`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    /// The whole document.
    public static let root = JSONPath()

    public init(_ components: [Component] = []) {
        self.components = components
    }

    public func appending(_ key: String) -> JSONPath { JSONPath(components + [.key(key)]) }
    public func appending(index: Int) -> JSONPath { JSONPath(components + [.index(index)]) }

    mutating func push(_ component: Component) { components.append(component) }
    mutating func pop() { components.removeLast() }

    public var description: String {
        if components.isEmpty { return "$" }
        var text = ""
        for component in components {
            switch component {
            case .key(let key) where Self.isPlainWord(key):
                text += text.isEmpty ? key : ".\(key)"
            case .key(let key):
                text += "[\(key.debugDescription)]"
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }

    private static func isPlainWord(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x2D
        }
    }
}

/// A JSON value together with the path where it was found.
public struct JSONNode: Sendable, Equatable {
    public let value: JSONValue
    public let path: JSONPath

    public init(_ value: JSONValue, path: JSONPath = .root) {
        self.value = value
        self.path = path
    }

    /// An error whose reason is `<path>: <message>`.
    public func error(_ code: ErrorCode, _ message: String) -> MeshError {
        MeshError(code, "\(path): \(message)")
    }

    private func wrongType(_ expected: String) -> MeshError {
        error(.configWrongType, "expected \(expected), found \(value.kindDescription)")
    }

    public func string() throws(MeshError) -> String {
        guard case .string(let text) = value else { throw wrongType("a string") }
        return text
    }

    public func bool() throws(MeshError) -> Bool {
        guard case .bool(let flag) = value else { throw wrongType("a boolean") }
        return flag
    }

    /// An integer written without fraction or exponent (`1.5`, `1e3` and `1.0` are `config.wrong-type`) and
    /// inside `range` (`config.out-of-range`, also for integers too large for `Int`).
    public func int(in range: ClosedRange<Int>) throws(MeshError) -> Int {
        guard case .number(let text) = value else { throw wrongType("an integer") }
        guard text.utf8.allSatisfy({ StrictJSONParser.isDigit($0) || $0 == UInt8(ascii: "-") }) else {
            throw error(.configWrongType, "expected an integer, found \(text)")
        }
        guard let number = Int(text), range.contains(number) else {
            throw error(.configOutOfRange,
                        "\(text) is outside the allowed range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// The elements of an array, each with its path.
    public func elements() throws(MeshError) -> [JSONNode] {
        guard case .array(let items) = value else { throw wrongType("an array") }
        return items.enumerated().map { JSONNode($1, path: path.appending(index: $0)) }
    }

    /// An object reader that admits exactly `fields` (see `JSONObjectReader.init`).
    public func object(fields: Set<String>) throws(MeshError) -> JSONObjectReader {
        try JSONObjectReader(self, fields: fields)
    }
}

/// Reads one JSON object whose allowed member names are declared up front. Construction fails on anything
/// that is not an object, and on the first member (in document order) whose name is not declared byte for byte.
public struct JSONObjectReader: Sendable {
    public let path: JSONPath
    /// The member names this object may have.
    public let fields: Set<String>
    private let members: [String: JSONValue]

    /// Throws `config.wrong-type` unless `node` is an object, `config.unknown-field` for an undeclared member,
    /// and `json.duplicate-key` for a repeated member (possible only in a hand-built `JSONValue`).
    public init(_ node: JSONNode, fields: Set<String>) throws(MeshError) {
        guard case .object(let list) = node.value else {
            throw node.error(.configWrongType, "expected an object, found \(node.value.kindDescription)")
        }
        var members: [String: JSONValue] = [:]
        for (key, value) in list {
            let memberPath = node.path.appending(key)
            // Byte-for-byte: Swift's `==` would let a canonically equivalent spelling (U+212A for "K") stand in.
            guard fields.contains(where: { $0.utf8.elementsEqual(key.utf8) }) else {
                let known = fields.sorted().joined(separator: ", ")
                throw MeshError(.configUnknownField, "\(memberPath): unknown field; expected one of: \(known)")
            }
            guard members.updateValue(value, forKey: key) == nil else {
                throw MeshError(.jsonDuplicateKey, "\(memberPath): duplicate key \(key.debugDescription)")
            }
        }
        self.path = node.path
        self.fields = fields
        self.members = members
    }

    /// The member `key`, which must be present (it may still be `null`; the typed accessors reject that).
    public func required(_ key: String) throws(MeshError) -> JSONNode {
        assert(fields.contains(key), "\(key) is not a declared field of \(path)")
        guard let value = members[key] else {
            throw MeshError(.configMissingField, "\(path.appending(key)): required field is missing")
        }
        return JSONNode(value, path: path.appending(key))
    }

    /// The member `key`, or nil when it is absent or `null` (for optional fields both mean "use the default").
    public func optional(_ key: String) -> JSONNode? {
        assert(fields.contains(key), "\(key) is not a declared field of \(path)")
        guard let value = members[key], value != .null else { return nil }
        return JSONNode(value, path: path.appending(key))
    }
}
