extension Array where Element == UInt8 {
    /// Appends the UTF-8 bytes of `s` as one copy. `append(contentsOf: s.utf8)` walks a `String.UTF8View`
    /// element by element (it is not a contiguous collection to the generic path): heads are written field by
    /// field, so that walk was a visible part of every proxied request.
    @inlinable public mutating func appendUTF8(_ s: String) {
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }
}
