import Synchronization

/// A fixed-bucket histogram updated with atomics (no lock), observed once per connection event.
/// Buckets are upper bounds in seconds, Prometheus style (`le`), plus +Inf.
public final class Histogram: Sendable {
    public let bounds: [Double]
    private let counts: [Counter]
    /// Whole microseconds, so a sum and its deltas stay exact.
    private let sumMicros = Atomic<Int>(0)
    private let total = Atomic<Int>(0)

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = (0..<bounds.count).map { _ in Counter() }
    }

    public func observe(seconds: Double) {
        for (i, b) in bounds.enumerated() where seconds <= b {
            counts[i].value.add(1, ordering: .relaxed)
            break
        }
        sumMicros.add(Int(seconds * 1_000_000), ordering: .relaxed)
        total.add(1, ordering: .relaxed)
    }

    /// Cumulative counts per bound (as Prometheus wants), the +Inf count, and the sum.
    public func snapshot() -> HistogramSnapshot {
        var running = 0
        var out: [Int] = []
        for c in counts {
            running += c.value.load(ordering: .relaxed)
            out.append(running)
        }
        return HistogramSnapshot(bounds: bounds, cumulative: out, count: total.load(ordering: .relaxed),
                                 sumMicros: sumMicros.load(ordering: .relaxed))
    }

    /// 0.5 ms … 10 s: TLS handshakes.
    public static func handshake() -> Histogram {
        Histogram(bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    }

    /// 1 ms … 1 h: connection lifetimes.
    public static func duration() -> Histogram {
        Histogram(bounds: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600])
    }
}

/// An atomic counter that can live in an array (`Atomic` itself cannot be copied).
public final class Counter: Sendable {
    public let value = Atomic<Int>(0)
    public init() {}
}
