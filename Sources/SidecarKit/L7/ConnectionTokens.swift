import MeshHTTP1

/// The tokens of every `Connection` field (RFC 9110 §7.6.1), trimmed of spaces and tabs, ASCII lower-cased,
/// empty ones dropped. It runs for every head that has the field (app heads usually do; hop requests do not):
/// it walks the bytes once and builds each token straight from them (a token of up to 15 bytes is
/// a small string: no allocation), instead of splitting, reversing and lower-casing `String`s.
enum ConnectionTokens {
    /// `skipping`: the kinds of the fields the caller drops (or keeps) anyway, whatever `Connection` says (its
    /// fixed hop-by-hop list). Tokens naming them are left out, so the usual `Connection: keep-alive` gives an
    /// empty list: no array is allocated for it, and a token is recognised once, like a field name.
    static func of(_ headers: HTTPHeaders, skipping known: (HTTPFieldKind) -> Bool = { _ in false }) -> [String] {
        var out: [String] = []
        for i in 0..<headers.count where headers.kind(at: i) == .connection {
            headers.withValueBytes(at: i) { add($0, skipping: known, to: &out) }
        }
        return out
    }

    private static func add(_ v: UnsafeRawBufferPointer, skipping known: (HTTPFieldKind) -> Bool, to out: inout [String]) {
        var i = 0
        while i <= v.count {
            var end = i
            while end < v.count && v[end] != 0x2C { end += 1 }
            var a = i, b = end
            while a < b && (v[a] == 0x20 || v[a] == 0x09) { a += 1 }
            while b > a && (v[b - 1] == 0x20 || v[b - 1] == 0x09) { b -= 1 }
            if b > a && !known(HTTPFieldKind(UnsafeRawBufferPointer(rebasing: v[a..<b]))) {
                out.append(String(unsafeUninitializedCapacity: b - a) { s in
                    for k in 0..<(b - a) { let c = v[a + k]; s[k] = c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
                    return b - a
                })
            }
            i = end + 1
        }
    }
}
