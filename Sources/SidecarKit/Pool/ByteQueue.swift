import MeshTLS
import MeshHTTP1

/// Bytes waiting to be written to one end of a pooled exchange. The owner stops reading the source once
/// `count` reaches its cap, so a queue holds at most the cap plus one read (and one head); its storage is
/// released when it drains after growing large, so an idle connection keeps little.
struct ByteQueue {
    private var bytes: [UInt8] = []
    private var start = 0
    /// Storage kept across drains; beyond it the buffer is freed when empty.
    static let keptCapacity = 65_536

    var count: Int { bytes.count - start }
    var isEmpty: Bool { start == bytes.count }
    /// What still waits to be written (tests, diagnostics).
    var contents: ArraySlice<UInt8> { bytes[start...] }

    /// Storage reserved at the first append: a head fits without the array growing (and reallocating) step by
    /// step on every new connection.
    static let initialCapacity = 480  // + the array header: 512 bytes, within glibc's per-thread cache sizes

    @inline(__always) private mutating func reserveFirst() {
        if bytes.capacity == 0 { bytes.reserveCapacity(Self.initialCapacity) }
    }

    mutating func append(_ s: String) { reserveFirst(); bytes.appendUTF8(s) }
    mutating func append(_ s: Substring) { bytes.append(contentsOf: s.utf8) }

    /// `n` (≥ 0) in decimal, without building a `String`.
    mutating func appendDecimal(_ n: Int) {
        guard n > 0 else { bytes.append(0x30); return }
        var digits = 0
        var m = n
        while m > 0 { digits += 1; m /= 10 }
        let at = bytes.count
        bytes.append(contentsOf: repeatElement(0x30, count: digits))
        m = n
        var i = at + digits - 1
        while m > 0 { bytes[i] = 0x30 + UInt8(m % 10); m /= 10; i -= 1 }
    }
    mutating func append(_ p: UnsafeRawBufferPointer) { reserveFirst(); bytes.append(contentsOf: p) }
    mutating func append(_ a: [UInt8]) { bytes.append(contentsOf: a) }

    /// A piece of a chunked body: `size CRLF data CRLF`.
    mutating func appendChunk(_ p: UnsafeRawBufferPointer) {
        guard p.count > 0 else { return }
        appendHex(p.count)
        append("\r\n")
        append(p)
        append("\r\n")
    }

    /// `n` (> 0) in lower-case hex, without building a `String`.
    mutating func appendHex(_ n: Int) {
        var shift = (Int.bitWidth - n.leadingZeroBitCount - 1) / 4 * 4
        while shift >= 0 {
            let d = UInt8((n >> shift) & 0xF)
            bytes.append(d < 10 ? 0x30 + d : 0x57 + d)
            shift -= 4
        }
    }

    mutating func appendChunk(_ a: [UInt8]) { a.withUnsafeBytes { appendChunk($0) } }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: bytes.capacity <= Self.keptCapacity)
        start = 0
    }

    enum Flush { case done, blocked, failed(TransportError) }

    /// Writes as much as `end` takes; `wrote` counts the bytes that left.
    mutating func flush(to end: ProxyEnd, wrote: inout Int) -> Flush {
        while start < bytes.count {
            let r = bytes.withUnsafeBytes { end.write(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            switch r {
            case .wrote(let k):
                start += k
                wrote += k
            case .wantRead, .wantWrite:
                return .blocked
            case .failed(let why):
                return .failed(why)
            }
        }
        removeAll()
        return .done
    }
}
