/// The recursive-descent core of `StrictJSON`. It runs over bytes already checked to be well-formed UTF-8,
/// so any slice between two ASCII delimiters is valid UTF-8 too. Recursion depth is bounded by `maxDepth`
/// (at most `StrictJSON.Limits.maxDepthCap`). `path` always names the value being parsed, for errors.
struct StrictJSONParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var index = 0
    var depth = 0
    var path = JSONPath.root

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// One value surrounded by optional whitespace, then the end of the input.
    mutating func parseDocument() throws(MeshError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw fail(.jsonSyntax, "a byte order mark is not allowed")
        }
        skipWhitespace()
        if index == bytes.count { throw fail(.jsonSyntax, "the document is empty") }
        let value = try parseValue()
        skipWhitespace()
        if index < bytes.count {
            throw fail(.jsonTrailingData, "unexpected \(describeHere()) after the end of the top-level value")
        }
        return value
    }

    // MARK: - Values

    mutating func parseValue() throws(MeshError) -> JSONValue {
        guard let byte = peek else { throw fail(.jsonSyntax, "unexpected end of the document; expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default:
            if startsHere(with: "NaN") || startsHere(with: "Infinity") {
                throw fail(.jsonBadNumber, "NaN and Infinity are not JSON numbers")
            }
            if byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") {
                throw fail(.jsonBadNumber, "a number must start with '-' or a digit, not \(describeHere())")
            }
            throw fail(.jsonSyntax, "unexpected \(describeHere()); expected a value")
        }
    }

    mutating func parseObject() throws(MeshError) -> JSONValue {
        try enterContainer()
        var members: [(String, JSONValue)] = []
        var firstOffset: [String: Int] = [:]  // String hashing/equality fold canonically equivalent keys
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else {
                let message = peek == UInt8(ascii: "}") ? "a trailing comma is not allowed"
                                                        : "expected a string key, found \(describeHere())"
                throw fail(.jsonSyntax, message)
            }
            let keyOffset = index
            let key = try parseString()
            if let first = firstOffset[key] {
                path.push(.key(key))
                let (line, column) = StrictJSONText.lineColumn(in: bytes, at: first)
                throw fail(.jsonDuplicateKey, "duplicate key \(key.debugDescription) (first at \(line):\(column))",
                           at: keyOffset)
            }
            firstOffset[key] = keyOffset
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else {
                throw fail(.jsonSyntax, "expected ':' after key \(key.debugDescription), found \(describeHere())")
            }
            index += 1
            skipWhitespace()
            path.push(.key(key))
            let value = try parseValue()
            path.pop()
            members.append((key, value))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return .object(members)
            default:
                throw fail(.jsonSyntax, "expected ',' or '}' in an object, found \(describeHere())")
            }
        }
    }

    mutating func parseArray() throws(MeshError) -> JSONValue {
        try enterContainer()
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            if peek == UInt8(ascii: "]") { throw fail(.jsonSyntax, "a trailing comma is not allowed") }
            path.push(.index(elements.count))
            let element = try parseValue()
            path.pop()
            elements.append(element)
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                depth -= 1
                return .array(elements)
            default:
                throw fail(.jsonSyntax, "expected ',' or ']' in an array, found \(describeHere())")
            }
        }
    }

    /// Consumes `{` or `[` after checking the depth bound.
    private mutating func enterContainer() throws(MeshError) {
        if depth >= maxDepth {
            throw fail(.jsonTooDeep, "arrays and objects are nested deeper than \(maxDepth)")
        }
        depth += 1
        index += 1
    }

    private mutating func parseLiteral(_ word: String) throws(MeshError) {
        guard startsHere(with: word) else {
            throw fail(.jsonSyntax, "unexpected \(describeHere()); expected a value")
        }
        index += word.utf8.count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, returned as written.
    mutating func parseNumber() throws(MeshError) -> String {
        let start = index
        if peek == UInt8(ascii: "-") {
            index += 1
            if startsHere(with: "Infinity") { throw fail(.jsonBadNumber, "-Infinity is not a JSON number", at: start) }
        }
        guard let first = peek, Self.isDigit(first) else {
            throw fail(.jsonBadNumber, "expected a digit after '-', found \(describeHere())")
        }
        index += 1
        if first == UInt8(ascii: "0"), let next = peek, Self.isDigit(next) {
            throw fail(.jsonBadNumber, "a number may not have leading zeros", at: start)
        }
        skipDigits()
        if peek == UInt8(ascii: ".") {
            index += 1
            guard let digit = peek, Self.isDigit(digit) else {
                throw fail(.jsonBadNumber, "expected a digit after '.', found \(describeHere())")
            }
            skipDigits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard let digit = peek, Self.isDigit(digit) else {
                throw fail(.jsonBadNumber, "expected a digit in the exponent, found \(describeHere())")
            }
            skipDigits()
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    // MARK: - Scanning helpers

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while let byte = peek, Self.isDigit(byte) { index += 1 }
    }

    mutating func skipWhitespace() {
        while let byte = peek,
              byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            index += 1
        }
    }

    private func startsHere(with word: String) -> Bool {
        bytes[index...].starts(with: word.utf8)
    }

    /// The character at `index` for a message: `'x'`, `U+00E9`, `control character 0x01`, or `end of the document`.
    func describeHere() -> String {
        guard let byte = peek else { return "end of the document" }
        if byte >= 0x21 && byte <= 0x7E { return "'\(Character(Unicode.Scalar(byte)))'" }
        if byte < 0x80 { return byte == 0x20 ? "a space" : "control character 0x\(String(byte, radix: 16))" }
        let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
        let scalar = String(decoding: bytes[index..<min(index + length, bytes.count)], as: UTF8.self)
            .unicodeScalars.first?.value ?? 0xFFFD
        let hex = String(scalar, radix: 16, uppercase: true)
        return "character U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex)"
    }

    /// An error at `offset` (default: the current byte), located by the current path.
    func fail(_ code: ErrorCode, _ message: String, at offset: Int? = nil) -> MeshError {
        StrictJSONText.error(code, message, in: bytes, at: offset ?? index, path: path)
    }
}
