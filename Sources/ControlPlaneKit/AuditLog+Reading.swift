#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshTLS

/// Reading the segmented audit log: chain checks, pages, the end of a sealed segment.
extension AuditLog {
    /// `/v1/audit` page size when none is asked for, and the most one page may hold.
    public static let defaultPageSize = 1_000
    public static let maxPageSize = 10_000

    /// Checks every line's chain from the genesis; see `verify(_:from:)`.
    public static func verify(_ bytes: [UInt8]) throws(MeshError) -> (lastHash: String, count: Int, validBytes: Int) {
        try verify(bytes, from: genesis)
    }

    /// Checks every line's chain, the first chaining to `prev`; returns the last hash, the number of records,
    /// and how many bytes form whole, valid lines (a torn final line without its newline is not counted).
    public static func verify(_ bytes: [UInt8], from first: String) throws(MeshError) -> (lastHash: String, count: Int, validBytes: Int) {
        var prev = first
        var count = 0
        var start = 0
        while let nl = bytes[start...].firstIndex(of: 0x0A) {
            let line = Array(bytes[start..<nl])
            let value: JSONValue
            do { value = try StrictJSON.parse(line) } catch { throw MeshError(.auditCorrupt, "record \(count + 1): \(error)") }
            guard case .object(var members) = value, let last = members.last, last.0 == "hash",
                  let hash = last.1.stringValue, value["prev"]?.stringValue == prev else {
                throw MeshError(.auditBrokenChain, "record \(count + 1) does not follow record \(count)")
            }
            members.removeLast()
            guard SHA256.hex(Array((prev + JSONValue.object(members).text).utf8)) == hash else {
                throw MeshError(.auditBrokenChain, "record \(count + 1) was altered (hash mismatch)")
            }
            prev = hash
            count += 1
            start = nl + 1
        }
        return (prev, count, start)
    }

    /// Every record, oldest first (all segments).
    public func records() throws(MeshError) -> [JSONValue] {
        var out: [JSONValue] = []
        for p in segmentPaths() where DurableFile.exists(p) { out += Self.parse(try DurableFile.read(p, limit: 1 << 30)) }
        return out
    }

    /// Up to `limit` records with `seq > after`, oldest first, and the `after` of the next page (nil at the end).
    /// Sealed segments that end at or before `after` are skipped after reading only their end.
    public func page(after: Int, limit: Int) throws(MeshError) -> (records: [JSONValue], next: Int?) {
        let limit = min(max(limit, 1), Self.maxPageSize)
        var out: [JSONValue] = []
        let paths = segmentPaths()
        for (i, p) in paths.enumerated() where DurableFile.exists(p) {
            if i < paths.count - 1, let lastSeq = try Self.lastRecord(p).record["seq"]?.intValue, lastSeq <= after { continue }
            for r in Self.parse(try DurableFile.read(p, limit: 1 << 30)) where (r["seq"]?.intValue ?? 0) > after {
                out.append(r)
                if out.count > limit { break }
            }
            if out.count > limit { break }
        }
        guard out.count > limit else { return (out, nil) }
        out.removeLast()
        return (out, out.last?["seq"]?.intValue)
    }

    static func parse(_ bytes: [UInt8]) -> [JSONValue] {
        bytes.split(separator: 0x0A).compactMap { try? StrictJSON.parse(Array($0)) }
    }

    static func segmentPath(_ path: String, _ n: Int) -> String {
        let digits = String(n)
        return "\(path).\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)"
    }

    /// How many sealed segments exist (`path.000001` … without a gap).
    static func sealedCount(_ path: String) -> Int {
        var n = 0
        while DurableFile.exists(segmentPath(path, n + 1)) { n += 1 }
        return n
    }

    /// The last whole record of a sealed segment, reading at most its last MiB; and how many bytes were read.
    static func lastRecord(_ path: String) throws(MeshError) -> (record: JSONValue, bytesRead: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw DurableFile.failure("open \(path)") }
        defer { close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        let window = min(size, 1 << 20)
        var buf = [UInt8](repeating: 0, count: window)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, window, off_t(size - window)) }
        if n != window { throw DurableFile.failure("read \(path)") }
        var lines = buf.split(separator: 0x0A, omittingEmptySubsequences: true)
        if buf.last != 0x0A { throw MeshError(.auditCorrupt, "sealed segment \(path) ends with a partial record") }
        guard let last = lines.popLast(), let record = try? StrictJSON.parse(Array(last)) else {
            throw MeshError(.auditCorrupt, "sealed segment \(path) has no readable last record")
        }
        return (record, window)
    }
}
