/// String literals for `StrictJSONParser`: escapes, surrogate pairs and the ban on raw control characters.
/// The input is already well-formed UTF-8, so unescaped runs are copied as they are.
extension StrictJSONParser {
    /// Parses the string whose opening quote is at `index` and returns its unescaped value.
    mutating func parseString() throws(MeshError) -> String {
        let open = index
        index += 1
        var runStart = index
        var unescaped: [UInt8]? = nil  // allocated at the first escape; the common case slices `bytes` once
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let run = bytes[runStart..<index]
                index += 1
                guard var buffer = unescaped else { return String(decoding: run, as: UTF8.self) }
                buffer.append(contentsOf: run)
                return String(decoding: buffer, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                var buffer = unescaped ?? []
                buffer.append(contentsOf: bytes[runStart..<index])
                try parseEscape(into: &buffer)
                unescaped = buffer
                runStart = index
                continue
            }
            if byte < 0x20 {
                throw fail(.jsonControlChar,
                           "raw control character 0x\(String(byte, radix: 16)) in a string; it must be escaped")
            }
            index += 1
        }
        let (line, column) = StrictJSONText.lineColumn(in: bytes, at: open)
        throw fail(.jsonSyntax, "unterminated string (opened at \(line):\(column))")
    }

    /// Parses one escape starting at the backslash at `index` and appends its UTF-8 to `buffer`.
    private mutating func parseEscape(into buffer: inout [UInt8]) throws(MeshError) {
        let start = index
        index += 1
        guard let letter = peek else { throw fail(.jsonSyntax, "unterminated string") }
        index += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(letter)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            let scalar = try parseUnicodeEscape(start: start)
            UTF8.encode(scalar) { buffer.append($0) }
        default:
            index -= 1
            throw fail(.jsonBadEscape, "unknown escape: a backslash followed by \(describeHere())", at: start)
        }
    }

    /// After `\u`: four hex digits, and for a high surrogate a second `\uXXXX` holding the low one.
    private mutating func parseUnicodeEscape(start: Int) throws(MeshError) -> Unicode.Scalar {
        guard let unit = hex4(at: index) else {
            throw fail(.jsonBadEscape, "'\\u' must be followed by four hex digits", at: start)
        }
        index += 4
        switch unit {
        case 0xD800...0xDBFF:
            let isEscapeU = index + 1 < bytes.count
                && bytes[index] == UInt8(ascii: "\\") && bytes[index + 1] == UInt8(ascii: "u")
            guard isEscapeU else {
                throw fail(.jsonLoneSurrogate,
                           "high surrogate \\u\(hexText(unit)) is not followed by a low surrogate", at: start)
            }
            guard let low = hex4(at: index + 2) else {
                throw fail(.jsonBadEscape, "'\\u' must be followed by four hex digits", at: index)
            }
            guard (0xDC00...0xDFFF).contains(low) else {
                throw fail(.jsonLoneSurrogate,
                           "high surrogate \\u\(hexText(unit)) is followed by \\u\(hexText(low)), not a low surrogate",
                           at: start)
            }
            index += 6
            return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
        case 0xDC00...0xDFFF:
            throw fail(.jsonLoneSurrogate, "low surrogate \\u\(hexText(unit)) without a high surrogate", at: start)
        default:
            return Unicode.Scalar(unit)!
        }
    }

    /// The value of four hex digits at `offset`, or nil.
    private func hex4(at offset: Int) -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[offset..<offset + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private func hexText(_ unit: UInt32) -> String {
        let hex = String(unit, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
