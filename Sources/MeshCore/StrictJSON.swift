/// A strict JSON (RFC 8259) parser for policy and configuration documents (SECURITY.md §3).
///
/// Unlike Foundation's `JSONSerialization` it refuses everything an attacker or a typo could use to make two
/// readers disagree about a document: duplicate keys, invalid UTF-8, lone surrogates, raw control characters,
/// leading zeros, `NaN`/`Infinity`, trailing data, a byte order mark. Nesting depth and document size are
/// bounded. Every error is a `MeshError` whose reason starts with `line:column` and names the path.

/// A parsed JSON value. Numbers keep their exact source text (so integers of any size stay exact); object
/// members keep their document order. Equality is structural and order-sensitive; numbers compare as text.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number exactly as written, e.g. `-12`, `0.5`, `1e3`. It always matches the JSON number grammar.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order. Keys are unique (the parser rejects duplicates).
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.number(a), .number(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value of member `key` when this is an object that has it.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// "a string", "an object", … for error messages.
    package var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Entry point of the strict parser. Error codes (stable):
///
/// | code | meaning |
/// | --- | --- |
/// | `json.too-large` | the document is longer than `Limits.maxBytes` |
/// | `json.invalid-utf8` | a byte sequence that is not well-formed UTF-8 |
/// | `json.syntax` | malformed JSON: unexpected character, missing `,` `:` `]` `}`, early end, a BOM |
/// | `json.trailing-data` | anything but whitespace after the top-level value |
/// | `json.bad-number` | leading zeros, `+1`, `.5`, `1.`, `1e`, `NaN`, `Infinity` |
/// | `json.control-char` | a raw byte below 0x20 inside a string (it must be escaped) |
/// | `json.bad-escape` | an unknown escape (`\x`) or a `\u` without four hex digits |
/// | `json.lone-surrogate` | a `\u` high surrogate without its low half, or a low one alone |
/// | `json.duplicate-key` | an object names the same key twice (canonically equivalent keys count) |
/// | `json.too-deep` | arrays/objects nested deeper than `Limits.maxDepth` |
public enum StrictJSON {
    /// Bounds on what the parser accepts (SECURITY.md §6: policy documents up to 4 MiB).
    public struct Limits: Sendable, Equatable {
        /// Default depth bound: 32 nested arrays/objects.
        public static let defaultMaxDepth = 32
        /// Default size bound: 4 MiB.
        public static let defaultMaxBytes = 4 * 1024 * 1024
        /// Hard cap on `maxDepth`, so a caller cannot make the recursive parser exhaust the stack.
        public static let maxDepthCap = 512

        /// The deepest nesting of arrays and objects accepted; a top-level `{}` or `[]` has depth 1.
        public var maxDepth: Int
        /// The longest document accepted, in bytes.
        public var maxBytes: Int

        /// `maxDepth` is clamped to `0...maxDepthCap`, `maxBytes` to at least 0.
        public init(maxDepth: Int = Limits.defaultMaxDepth, maxBytes: Int = Limits.defaultMaxBytes) {
            self.maxDepth = min(max(0, maxDepth), Self.maxDepthCap)
            self.maxBytes = max(0, maxBytes)
        }
    }

    /// Parses one complete JSON document from UTF-8 `bytes`.
    public static func parse(_ bytes: some Collection<UInt8>,
                             limits: Limits = Limits()) throws(MeshError) -> JSONValue {
        let count = bytes.count
        if count > limits.maxBytes {
            throw MeshError(.jsonTooLarge, "1:1: the document is \(count) bytes; the limit is \(limits.maxBytes)")
        }
        let array = Array(bytes)
        if let bad = StrictJSONText.firstInvalidUTF8(array) {
            let what = bad < array.count ? "invalid UTF-8 byte 0x\(String(array[bad], radix: 16))"
                                         : "truncated UTF-8 sequence at the end of the document"
            throw StrictJSONText.error(.jsonInvalidUtf8, what, in: array, at: bad, path: nil)
        }
        var parser = StrictJSONParser(bytes: array, maxDepth: min(limits.maxDepth, Limits.maxDepthCap))
        return try parser.parseDocument()
    }
}

/// Position and UTF-8 helpers shared by the parser's files.
enum StrictJSONText {
    /// Builds an error whose reason is `line:column at path: message` (`line:column: message` without a
    /// path). Lines and columns are 1-based; the column counts Unicode scalars, not bytes.
    static func error(_ code: ErrorCode, _ message: String, in bytes: [UInt8], at offset: Int,
                      path: JSONPath?) -> MeshError {
        let (line, column) = lineColumn(in: bytes, at: offset)
        let place = path.map { " at \($0)" } ?? ""
        return MeshError(code, "\(line):\(column)\(place): \(message)")
    }

    static func lineColumn(in bytes: [UInt8], at offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes[0..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    /// The offset of the first byte that does not belong to well-formed UTF-8 (Unicode Table 3-7: no overlong
    /// forms, no encoded surrogates, nothing above U+10FFFF), or nil when all of `bytes` is well-formed.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let need: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: need = 1
            case 0xE0: need = 2; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED: need = 2; high = 0x9F
            case 0xF0: need = 3; low = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4: need = 3; high = 0x8F
            default: return i
            }
            for k in 1...need {
                guard i + k < n else { return i + k }
                let byte = bytes[i + k]
                let range = k == 1 ? low...high : 0x80...0xBF
                if !range.contains(byte) { return i + k }
            }
            i += need + 1
        }
        return nil
    }
}
