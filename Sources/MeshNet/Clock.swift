#if canImport(Glibc)
import Glibc
#endif

/// Time is passed in: loops read a `Clock`, tests may give their own.
public protocol Clock: Sendable {
    /// Monotonic milliseconds, for timers and deadlines.
    func monotonicMs() -> Int64
    /// Monotonic nanoseconds, for latency measurements.
    func monotonicNs() -> Int64
    /// Wall-clock seconds since the epoch, for certificate validity and logs.
    func wallSeconds() -> Double
}

public struct SystemClock: Clock {
    public init() {}
    public func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
    public func monotonicNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
    public func wallSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
