/// Cuts CRLF-terminated lines out of fed bytes and enforces, byte by byte and in wire order, what every line of
/// a head, a chunk-size line or a trailer section must obey: a byte budget for the section, CR only before LF,
/// LF only after CR, no NUL and no other control character but HTAB. Because every check fires at the byte
/// that breaks it, a message split anywhere gives the same verdict as the message fed whole.
struct LineReader: Sendable {
    /// Where a completed line's content (CRLF stripped) is.
    enum Line {
        /// Wholly inside the input just fed.
        case input(Range<Int>)
        /// Started in an earlier feed: call `takeCarriedLine()`.
        case carried
    }

    /// What is being read; names the error when the budget runs out.
    enum Section: String, Sendable {
        case head, chunkLine = "chunk line", trailers
    }

    /// The unfinished line from earlier feeds, raw (a trailing CR kept).
    private var carry: [UInt8] = []
    private var sawCR = false
    /// Bytes still allowed in the current section; the byte beyond throws.
    private var budget = 0
    private var limit = 0
    private(set) var section = Section.head

    /// Starts a section (head, chunk line, trailers) of at most `bytes` bytes.
    mutating func startSection(_ section: Section, bytes: Int) {
        self.section = section
        budget = bytes
        limit = bytes
        sawCR = false
        // Keep a small buffer for the next split line; give a big one back (idle connections hold little).
        if carry.capacity > 1_024 { carry = [] } else { carry.removeAll(keepingCapacity: true) }
    }

    private var overBudget: HTTPParseError {
        switch section {
        case .head: .headerTooLarge(limit)
        case .chunkLine: .chunkLineTooLong(limit)
        case .trailers: .trailersTooLarge(limit)
        }
    }

    /// Whether an unfinished line is buffered.
    var hasPartialLine: Bool { !carry.isEmpty }

    /// Scans `input` from `start` for the end of the current line. Returns the line and the index just past its
    /// LF, or nil when the input ran out first (the partial line is kept).
    mutating func next(_ input: UnsafeRawBufferPointer, from start: Int) throws(HTTPParseError) -> (Line, Int)? {
        var i = start
        let end = input.count
        while i < end {
            // The common bytes (visible ASCII, space, obs-text) in a tight loop, bounded by the budget; every
            // other byte, and the byte beyond the budget, take the checks below one at a time.
            if !sawCR {
                let stop = min(end, i + budget)
                var j = i
                // Eight bytes at a time while none is below 0x20 or 0x7F (exact tests for "some byte is": a
                // word that has one falls through to the byte loop, which finds it).
                while j + 8 <= stop {
                    let w = UInt64(littleEndian: input.loadUnaligned(fromByteOffset: j, as: UInt64.self))
                    let control = (w &- 0x2020_2020_2020_2020) & ~w & 0x8080_8080_8080_8080
                    let d = w ^ 0x7F7F_7F7F_7F7F_7F7F
                    let delete = (d &- 0x0101_0101_0101_0101) & ~d & 0x8080_8080_8080_8080
                    if control | delete != 0 { break }
                    j += 8
                }
                while j < stop {
                    let c = input[j]
                    if c < 0x20 || c == 0x7F { break }
                    j += 1
                }
                budget -= j - i
                i = j
                if i == end { break }
            }
            let b = input[i]
            if budget == 0 { throw overBudget }
            budget -= 1
            if sawCR {
                guard b == ASCII.lf else { throw .bareCR(section.rawValue) }
                sawCR = false
                if carry.isEmpty { return (.input(start..<(i - 1)), i + 1) }
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<i]))
                carry.removeLast()  // the CR
                return (.carried, i + 1)
            }
            if b < 0x20 || b == 0x7F {
                switch b {
                case ASCII.cr: sawCR = true
                case ASCII.lf: throw .bareLF(section.rawValue)
                case ASCII.htab: break
                case 0: throw .nul(section.rawValue)
                default: throw .controlChar(b, section.rawValue)
                }
            }
            i += 1
        }
        carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<end]))
        return nil
    }

    /// The carried line's content (CRLF stripped); hand the storage back with `recycle` when done.
    mutating func takeCarriedLine() -> [UInt8] {
        var line: [UInt8] = []
        swap(&line, &carry)
        return line
    }

    /// Gives a line's storage back so the next partial line reuses it.
    mutating func recycle(_ storage: consuming [UInt8]) {
        guard carry.isEmpty else { return }
        storage.removeAll(keepingCapacity: true)
        carry = storage
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` keeping the error type (the stdlib's is `rethrows`).
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(HTTPParseError) -> R) throws(HTTPParseError) -> R {
        let result: Result<R, HTTPParseError> = withUnsafeBytes { bytes in
            Result { () throws(HTTPParseError) -> R in try body(bytes) }
        }
        return try result.get()
    }
}
