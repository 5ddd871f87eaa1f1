import Foundation

extension String {
    /// Replaces the file at `path` with this text in one step (a sibling temporary file, then `rename`), so a
    /// process watching the file never reads half of it. Foundation's `write(toFile:atomically: true)` does the
    /// same but leaves an empty `TemporaryDirectory.*` folder in /tmp behind on every call (about 70 per test run).
    func writeReplacing(toFile path: String) throws {
        let temporary = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
    }
}
