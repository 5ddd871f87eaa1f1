import MeshCore

/// The request conditions of every rule of a slice, flattened for the data path (struct of arrays indexed by
/// rule number): a decision reads them through unsafe buffers taken once, so scanning a rule costs no reference
/// counting; only rules with header conditions, a token requirement or an uncommon method reach their
/// `RequestMatcher`.
struct RequestTable: Sendable {
    /// Per rule: the method mask (0: any method).
    let masks: [UInt16]
    /// Per rule: `hasMatcher` | `slowPath`.
    let flags: [UInt8]
    /// Per rule: the range of its patterns in `table` (start == end: no paths).
    let starts: [Int32]
    let ends: [Int32]
    /// All rules' patterns: per pattern the segment count, the tail flag, the number `k` of leading literal
    /// segments, the FNV-1a hash of those `k` segments as a path (`/v1/hot/12`; split in two `Int32`), then
    /// (offset into `bytes`, length or -1 for `*`) per segment. The hash lets a decision skip most patterns
    /// with one comparison (`PathPrefixes`) before comparing bytes.
    let table: [Int32]
    let bytes: [UInt8]

    static let hasMatcher: UInt8 = 1
    /// Header conditions, a token requirement or an uncommon method: ask the rule's `RequestMatcher`.
    static let slowPath: UInt8 = 2

    init(_ matchers: [RequestMatcher?]) {
        var masks: [UInt16] = [], flags: [UInt8] = [], starts: [Int32] = [], ends: [Int32] = []
        var table: [Int32] = [], bytes: [UInt8] = []
        for m in matchers {
            masks.append(m?.methodMask ?? 0)
            var f: UInt8 = m == nil ? 0 : Self.hasMatcher
            if let m, !m.headers.isEmpty || m.jwt != nil || !m.otherMethods.isEmpty { f |= Self.slowPath }
            flags.append(f)
            starts.append(Int32(table.count))
            if let m {
                // Re-base the rule's segment offsets onto the shared byte buffer.
                var at = 0
                for pattern in m.patterns {
                    let count = Int(m.pathTable[at])
                    table.append(m.pathTable[at])
                    table.append(m.pathTable[at + 1])
                    var literal = 0
                    var prefix: [UInt8] = []
                    for segment in pattern.segments {
                        guard let segment, literal < PathPrefixes.maxSegments else { break }
                        prefix.append(UInt8(ascii: "/"))
                        prefix += segment
                        literal += 1
                    }
                    let hash = PathPrefixes.hash(prefix)
                    table.append(Int32(literal))
                    table.append(Int32(truncatingIfNeeded: hash))
                    table.append(Int32(truncatingIfNeeded: hash >> 32))
                    for k in 0..<count {
                        table.append(m.pathTable[at + 2 + 2 * k] + Int32(bytes.count))
                        table.append(m.pathTable[at + 3 + 2 * k])
                    }
                    at += 2 + 2 * count
                }
                bytes += m.pathBytes
            }
            ends.append(Int32(table.count))
        }
        (self.masks, self.flags, self.starts, self.ends, self.table, self.bytes) = (masks, flags, starts, ends, table, bytes)
    }

    /// Borrowed views of the arrays for one decision.
    struct View {
        let masks: UnsafeBufferPointer<UInt16>
        let flags: UnsafeBufferPointer<UInt8>
        let starts: UnsafeBufferPointer<Int32>
        let ends: UnsafeBufferPointer<Int32>
        let table: UnsafeBufferPointer<Int32>
        let bytes: UnsafeBufferPointer<UInt8>

        /// For a rule without a slow path: true when method and path match (`RequestMatcher.matchHTTP` for the rest).
        @inline(__always)
        func fastMatch(_ rule: Int, methodBit: UInt16, path: UnsafeBufferPointer<UInt8>, prefixes: PathPrefixes) -> Bool {
            let mask = masks[rule]
            if mask != 0 && mask & methodBit == 0 { return false }
            var at = Int(starts[rule])
            let end = Int(ends[rule])
            if at == end { return true }
            while at < end {
                let count = Int(table[at])
                let literal = Int(table[at + 2])
                let hash = UInt64(UInt32(bitPattern: table[at + 3])) | UInt64(UInt32(bitPattern: table[at + 4])) << 32
                let segments = UnsafeBufferPointer(rebasing: table[(at + 5)..<(at + 5 + 2 * count)])
                if prefixes.mayMatch(literal: literal, hash: hash),
                   RequestMatcher.matches(segments: segments, count: count, tail: table[at + 1] == 1, bytes, path) {
                    return true
                }
                at += 5 + 2 * count
            }
            return false
        }
    }

    @inline(__always)
    func withView<R>(_ body: (View) -> R) -> R {
        masks.withUnsafeBufferPointer { m in
            flags.withUnsafeBufferPointer { f in
                starts.withUnsafeBufferPointer { s in
                    ends.withUnsafeBufferPointer { e in
                        table.withUnsafeBufferPointer { t in
                            bytes.withUnsafeBufferPointer { b in body(View(masks: m, flags: f, starts: s, ends: e, table: t, bytes: b)) }
                        }
                    }
                }
            }
        }
    }
}

/// FNV-1a hashes of a request path's leading segments (`/a`, `/a/b`, …), computed once per decision, so a path
/// pattern whose literal start differs is skipped with one comparison. Up to `maxSegments`; a longer path skips
/// no pattern this way (every pattern is then compared byte by byte).
struct PathPrefixes {
    static let maxSegments = 32
    /// `hashes[k]`: the first `k` segments, for k in 1...count.
    let hashes: UnsafeMutableBufferPointer<UInt64>
    /// Segments of the path, -1 when more than `maxSegments`.
    let count: Int

    @inline(__always)
    static func hash(_ bytes: [UInt8]) -> UInt64 { bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 } }

    /// Fills `storage` (capacity `maxSegments + 1`) from `path`.
    @inline(__always)
    init(_ path: UnsafeBufferPointer<UInt8>, storage: UnsafeMutableBufferPointer<UInt64>) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var k = 0
        var overflow = false
        for i in 0..<path.count {
            let b = path[i]
            if b == UInt8(ascii: "/") && i > 0 {
                k += 1
                if k > Self.maxSegments { overflow = true; break }
                storage[k] = h
            }
            h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3
        }
        if !overflow {
            k += 1
            if k > Self.maxSegments { overflow = true } else { storage[k] = h }
        }
        hashes = storage
        count = overflow ? -1 : k
    }

    /// False only when a pattern whose first `literal` segments hash to `hash` cannot match.
    @inline(__always)
    func mayMatch(literal: Int, hash: UInt64) -> Bool {
        guard count >= 0, literal > 0 else { return true }
        return literal <= count && hashes[literal] == hash
    }
}
