import Foundation
import Glibc

/// CPU time a process has used (user + system, from /proc/<pid>/stat), to prove that nothing spins.
enum ProcessCPU {
    /// Seconds of CPU used so far by `pid` (all threads), or nil when the process is gone.
    static func seconds(_ pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds `pid` spends during `seconds` of wall time.
    static func used(by pid: Int32, during seconds: Double) -> Double {
        let before = Self.seconds(pid) ?? 0
        usleep(UInt32(seconds * 1_000_000))
        return (Self.seconds(pid) ?? before) - before
    }
}

extension TCP {
    /// Closes with RST (SO_LINGER 0): the peer sees a reset, not an end of stream.
    static func reset(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }
}
