/// Byte classes of RFC 9110/9112 and ASCII helpers, without Foundation.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let slash: UInt8 = 0x2F
    static let asterisk: UInt8 = 0x2A
    static let question: UInt8 = 0x3F
    static let percent: UInt8 = 0x25
    static let plus: UInt8 = 0x2B

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    @inline(__always) static func isToken(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }

    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool { b == sp || b == htab }
    /// Visible ASCII (VCHAR without obs-text): what a request-target may hold.
    @inline(__always) static func isVisible(_ b: UInt8) -> Bool { b > 0x20 && b < 0x7F }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    @inline(__always) static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: Int(b - 0x30)
        case 0x41...0x46: Int(b - 0x41 + 10)
        case 0x61...0x66: Int(b - 0x61 + 10)
        default: nil
        }
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    static func equalsIgnoringCase<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { lower($0) == lower($1) }
    }

    /// The fast path for header names: native strings are contiguous UTF-8.
    static func equalsIgnoringCase(_ a: String.UTF8View, _ b: String.UTF8View) -> Bool {
        guard a.count == b.count else { return false }
        let fast = a.withContiguousStorageIfAvailable { pa in
            b.withContiguousStorageIfAvailable { pb in
                for i in 0..<pa.count where lower(pa[i]) != lower(pb[i]) { return false }
                return true
            }
        }
        if let fast, let fast { return fast }
        return zip(a, b).allSatisfy { lower($0) == lower($1) }
    }

    static func isToken<C: Collection<UInt8>>(_ bytes: C) -> Bool { !bytes.isEmpty && bytes.allSatisfy(isToken) }

    /// `bytes` without leading and trailing SP / HTAB.
    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var lo = 0, hi = bytes.count
        while lo < hi, isWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, isWhitespace(bytes[hi - 1]) { hi -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[lo..<hi])
    }

    /// Whether the comma-separated list `v` holds `token` (ASCII case-insensitive, OWS around elements).
    /// One pass over the bytes, nothing allocated (it runs for every head's `Connection` field).
    static func list(_ v: UnsafeRawBufferPointer, contains token: StaticString) -> Bool {
        let t = UnsafeRawBufferPointer(start: token.utf8Start, count: token.utf8CodeUnitCount)
        var i = 0
        while i <= v.count {
            var end = i
            while end < v.count && v[end] != UInt8(ascii: ",") { end += 1 }
            var a = i, b = end
            while a < b && isWhitespace(v[a]) { a += 1 }
            while b > a && isWhitespace(v[b - 1]) { b -= 1 }
            if b - a == t.count {
                var k = 0
                while k < t.count && lower(v[a + k]) == lower(t[k]) { k += 1 }
                if k == t.count { return true }
            }
            i = end + 1
        }
        return false
    }
}
