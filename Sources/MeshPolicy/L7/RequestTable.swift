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
    /// All rules' patterns as `RequestMatcher.pathTable` encodes them, offsets into `bytes`.
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
                while at < m.pathTable.count {
                    let count = Int(m.pathTable[at])
                    table.append(m.pathTable[at])
                    table.append(m.pathTable[at + 1])
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
        func fastMatch(_ rule: Int, methodBit: UInt16, path: UnsafeBufferPointer<UInt8>) -> Bool {
            let mask = masks[rule]
            if mask != 0 && mask & methodBit == 0 { return false }
            let start = Int(starts[rule]), end = Int(ends[rule])
            if start == end { return true }
            return RequestMatcher.firstMatch(UnsafeBufferPointer(rebasing: table[start..<end]), bytes, path) >= 0
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
