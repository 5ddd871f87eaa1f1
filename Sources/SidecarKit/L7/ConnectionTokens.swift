import MeshHTTP1

/// The tokens of every `Connection` field (RFC 9110 §7.6.1), trimmed of spaces and tabs, ASCII lower-cased,
/// empty ones dropped. It runs for every head that has the field (app heads usually do; hop requests do not):
/// it walks the bytes once and builds each token straight from them (a token of up to 15 bytes is
/// a small string: no allocation), instead of splitting, reversing and lower-casing `String`s.
enum ConnectionTokens {
    /// `skipping`: lowercase names the caller drops anyway (its fixed hop-by-hop list). They are left out, so
    /// the usual `Connection: keep-alive` gives an empty list: no array is allocated for it.
    static func of(_ headers: HTTPHeaders, skipping known: [String] = []) -> [String] {
        var out: [String] = []
        for field in headers.all where field.kind == .connection {
            var value = field.value
            value.withUTF8 { add(UnsafeRawBufferPointer($0), skipping: known, to: &out) }
        }
        return out
    }

    /// `v[a..<b]` equals the lowercase `lower`, ignoring ASCII case.
    private static func equals(_ v: UnsafeRawBufferPointer, _ a: Int, _ b: Int, _ lower: String) -> Bool {
        guard lower.utf8.count == b - a else { return false }
        var k = a
        for l in lower.utf8 {
            let c = v[k]
            if (c >= 0x41 && c <= 0x5A ? c | 0x20 : c) != l { return false }
            k += 1
        }
        return true
    }

    private static func add(_ v: UnsafeRawBufferPointer, skipping known: [String], to out: inout [String]) {
        var i = 0
        while i <= v.count {
            var end = i
            while end < v.count && v[end] != 0x2C { end += 1 }
            var a = i, b = end
            while a < b && (v[a] == 0x20 || v[a] == 0x09) { a += 1 }
            while b > a && (v[b - 1] == 0x20 || v[b - 1] == 0x09) { b -= 1 }
            if b > a && !known.contains(where: { equals(v, a, b, $0) }) {
                out.append(String(unsafeUninitializedCapacity: b - a) { s in
                    for k in 0..<(b - a) { let c = v[a + k]; s[k] = c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
                    return b - a
                })
            }
            i = end + 1
        }
    }
}
