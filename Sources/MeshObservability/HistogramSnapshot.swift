/// A histogram's counts at one moment: a plain value that can be rendered, sent and subtracted.
public struct HistogramSnapshot: Equatable, Sendable {
    /// Upper bounds in seconds (`le`), without +Inf.
    public var bounds: [Double]
    /// Observations at or below each bound (cumulative, as Prometheus wants).
    public var cumulative: [Int]
    /// All observations (the +Inf bucket).
    public var count: Int
    /// Sum of the observations in whole microseconds (exact under subtraction).
    public var sumMicros: Int

    public init(bounds: [Double], cumulative: [Int], count: Int, sumMicros: Int) {
        self.bounds = bounds
        self.cumulative = cumulative
        self.count = count
        self.sumMicros = sumMicros
    }

    /// Sum of the observations in seconds.
    public var sum: Double { Double(sumMicros) / 1_000_000 }

    /// The observations made after `earlier`, bucket by bucket. When `earlier` cannot be an earlier state of
    /// the same histogram (other buckets, or more observations: the process restarted), all of this one.
    public func delta(since earlier: HistogramSnapshot) -> HistogramSnapshot {
        guard earlier.bounds == bounds, earlier.cumulative.count == cumulative.count, earlier.count <= count,
              zip(earlier.cumulative, cumulative).allSatisfy({ $0 <= $1 }) else { return self }
        return HistogramSnapshot(bounds: bounds, cumulative: zip(cumulative, earlier.cumulative).map { $0 - $1 },
                                 count: count - earlier.count, sumMicros: sumMicros - earlier.sumMicros)
    }
}
