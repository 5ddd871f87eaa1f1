#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit (RLIMIT_NOFILE): servers sized for thousands of connections raise the soft
/// limit at start, up to the hard limit (raising that needs privileges we do not ask for).
public enum FileLimit {
    /// Raises the soft limit to `wanted` (or the hard limit, if lower); never lowers it. Returns the soft
    /// limit now in force.
    @discardableResult
    public static func raiseOpenFiles(to wanted: Int) -> Int {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return 0 }
        let target = min(rlim_t(wanted), r.rlim_max)
        if target > r.rlim_cur {
            var n = r
            n.rlim_cur = target
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &n) == 0 { r = n }
        }
        return r.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(r.rlim_cur)  // RLIM_INFINITY is all ones
    }

    /// The soft and hard limits now in force (nil if they cannot be read); RLIM_INFINITY reads as `Int.max`.
    public static func openFiles() -> (soft: Int, hard: Int)? {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return nil }
        func int(_ v: rlim_t) -> Int { v >= rlim_t(Int.max) ? Int.max : Int(v) }
        return (int(r.rlim_cur), int(r.rlim_max))
    }
}
