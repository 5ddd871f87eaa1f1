#if canImport(Glibc)
import Glibc
#endif

/// How many finished TCP handshakes a listening socket may hold before the server accepts them. A storm of
/// 10,000 sidecars re-dialling at once arrives faster than TLS handshakes complete; the kernel queues them here
/// instead of dropping SYNs (which would cost each a 1 s, then 3 s, SYN retransmit).
public enum ListenBacklog {
    /// The default asked for: 4,096 per listening socket (one per event loop with SO_REUSEPORT).
    public static let defaultRequested: Int32 = 4_096

    /// The kernel silently caps `listen(2)`'s backlog at `net.core.somaxconn`; returns what will be in force,
    /// so it can be logged and documented.
    public static func effective(_ requested: Int32 = defaultRequested) -> Int32 {
        min(requested, somaxconn() ?? requested)
    }

    /// `/proc/sys/net/core/somaxconn` (nil when unreadable).
    public static func somaxconn() -> Int32? {
        guard let bytes = try? FileIO.readAll("/proc/sys/net/core/somaxconn", limit: 64).get() else { return nil }
        return Int32(String(decoding: bytes, as: UTF8.self).trimming(" \n"))
    }
}
