/// The grammar of single head lines (CRLF already stripped, control characters already refused by
/// `LineReader`): request lines, status lines, header fields. Nothing here looks at more than one line.
enum HeadSyntax {
    /// `method SP request-target SP HTTP-version`, exactly one space each, origin form or `*` for OPTIONS.
    static func requestLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> (String, String, HTTPVersion) {
        guard let sp1 = line.firstIndex(of: ASCII.sp) else { throw .badRequestLine("request line without spaces") }
        guard sp1 > 0 else { throw .badRequestLine("request line starts with a space") }
        let method = UnsafeRawBufferPointer(rebasing: line[..<sp1])
        guard method.allSatisfy(ASCII.isToken) else { throw .badMethod }
        let targetStart = sp1 + 1
        guard targetStart < line.count, line[targetStart] != ASCII.sp else {
            throw .badRequestLine("request line needs exactly one space between method and target")
        }
        guard let sp2 = line[targetStart...].firstIndex(of: ASCII.sp) else {
            throw .badRequestLine("request line without an HTTP version")
        }
        let target = UnsafeRawBufferPointer(rebasing: line[targetStart..<sp2])
        let versionBytes = UnsafeRawBufferPointer(rebasing: line[(sp2 + 1)...])
        guard !versionBytes.isEmpty, !versionBytes.contains(ASCII.sp) else {
            throw .badRequestLine("request line needs exactly one space before the version and none after")
        }
        guard target.allSatisfy(ASCII.isVisible) else { throw .badTarget("target has a byte outside visible ASCII") }
        if target.count == 1 && target[0] == ASCII.asterisk {
            guard method.elementsEqual("OPTIONS".utf8) else { throw .badTarget("'*' is a target for OPTIONS only") }
        } else if target[0] != ASCII.slash {
            throw .badTarget("target is not in origin form (must start with '/')")
        }
        let version = try self.version(versionBytes)
        return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self), version)
    }

    /// `HTTP-version SP 3DIGIT [SP reason-phrase]` (the space before an empty reason may be missing).
    static func statusLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> (HTTPVersion, Int, String) {
        guard let sp1 = line.firstIndex(of: ASCII.sp) else { throw .badStatusLine("status line without spaces") }
        let version = try self.version(UnsafeRawBufferPointer(rebasing: line[..<sp1]))
        let codeEnd = sp1 + 4
        guard codeEnd <= line.count else { throw .badStatusLine("status code is not three digits") }
        var status = 0
        for b in line[(sp1 + 1)..<codeEnd] {
            guard ASCII.isDigit(b) else { throw .badStatusLine("status code is not three digits") }
            status = status * 10 + Int(b - 0x30)
        }
        guard (100...599).contains(status) else { throw .badStatusLine("status code \(status) is outside 100...599") }
        if codeEnd == line.count { return (version, status, "") }
        guard line[codeEnd] == ASCII.sp else { throw .badStatusLine("status code is not three digits") }
        let reason = UnsafeRawBufferPointer(rebasing: line[(codeEnd + 1)...])
        return (version, status, String(decoding: reason, as: UTF8.self))
    }

    /// `HTTP/1.0` or `HTTP/1.1`; another `HTTP/DIGIT.DIGIT` is 505; anything else 400.
    static func version(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPVersion {
        guard bytes.count == 8, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
              bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), ASCII.isDigit(bytes[5]), bytes[6] == UInt8(ascii: "."),
              ASCII.isDigit(bytes[7]) else { throw .badVersion }
        switch (bytes[5], bytes[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .http11
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .http10
        default: throw .versionNotSupported(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// Checks `field-name ":" OWS field-value OWS` and returns where the colon is.
    static func fieldColon(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        guard let first = line.first else { throw .badHeaderName }
        if ASCII.isWhitespace(first) { throw .obsFold }
        // One pass to the colon through token bytes; a line with some other byte first is refused for it, but
        // only once a colon is known to follow (a line without one is refused as such).
        var i = 0
        while i < line.count {
            let b = line[i]
            if b == ASCII.colon {
                guard i > 0 else { throw .badHeaderName }
                return i
            }
            if !ASCII.isToken(b) {
                guard line[i...].contains(ASCII.colon) else { throw .missingColon }
                throw ASCII.isWhitespace(b) ? .spaceBeforeColon : .badHeaderName
            }
            i += 1
        }
        throw .missingColon
    }
}
