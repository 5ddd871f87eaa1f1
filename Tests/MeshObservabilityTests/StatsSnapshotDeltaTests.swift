import MeshObservability
import Testing

/// `delta(since:)`, what telemetry will send: counters subtract, gauges keep the newer value, histograms
/// subtract bucket by bucket.
@Suite struct StatsSnapshotDeltaTests {
    static func snapshot(opened: Int, active: Int, expiry: Double, failures: [(String, Int)],
                         handshakes: HistogramSnapshot) -> StatsSnapshot {
        var s = StatsSnapshot()
        s.add("opened_total", .counter, help: "h", [MetricSample(["direction": "inbound"], .int(opened))])
        s.add("active", .gauge, help: "h", [MetricSample(["direction": "inbound"], .int(active))])
        s.add("expiry_seconds", .gauge, help: "h", [MetricSample(.number(expiry))])
        s.add("failures_total", .counter, help: "h", failures.map { MetricSample(["reason": $0.0], .int($0.1)) })
        s.add("handshake_seconds", .histogram, help: "h", [MetricSample(["direction": "inbound"], .histogram(handshakes))])
        return s
    }

    static func histogram(_ observations: [Double]) -> Histogram {
        let h = Histogram(bounds: [0.01, 0.1, 1])
        for o in observations { h.observe(seconds: o) }
        return h
    }

    @Test func countersSubtractGaugesTakeTheNewerValueHistogramsSubtractPerBucket() {
        let h = Self.histogram([0.005, 0.5])
        let before = Self.snapshot(opened: 10, active: 4, expiry: 1000, failures: [("handshake-timeout", 2)], handshakes: h.snapshot())
        for o in [0.05, 0.07, 3.0] { h.observe(seconds: o) }
        let after = Self.snapshot(opened: 15, active: 1, expiry: 2000, failures: [("handshake-timeout", 5), ("idle-timeout", 1)],
                                  handshakes: h.snapshot())
        let d = after.delta(since: before)
        #expect(d.value("opened_total", ["direction": "inbound"]) == .int(5))
        #expect(d.value("active", ["direction": "inbound"]) == .int(1))
        #expect(d.value("expiry_seconds") == .number(2000))
        #expect(d.value("failures_total", ["reason": "handshake-timeout"]) == .int(3))
        #expect(d.value("failures_total", ["reason": "idle-timeout"]) == .int(1), "a new sample counts from zero")
        #expect(d.value("handshake_seconds", ["direction": "inbound"]) == .histogram(HistogramSnapshot(
            bounds: [0.01, 0.1, 1], cumulative: [0, 2, 2], count: 3, sumMicros: 3_120_000)))
        #expect(d.family("handshake_seconds")?.kind == .histogram)
        #expect(d.families.map(\.name) == after.families.map(\.name), "same families, same order")
    }

    @Test func theDeltaOfASnapshotWithItselfIsZeroForCountersOnly() {
        let s = Self.snapshot(opened: 7, active: 3, expiry: 99, failures: [("tls-error", 4)],
                              handshakes: Self.histogram([0.2, 0.02]).snapshot())
        let d = s.delta(since: s)
        #expect(d.int("opened_total", ["direction": "inbound"]) == 0)
        #expect(d.int("failures_total", ["reason": "tls-error"]) == 0)
        #expect(d.int("active", ["direction": "inbound"]) == 3)
        #expect(d.value("handshake_seconds", ["direction": "inbound"])
                == .histogram(HistogramSnapshot(bounds: [0.01, 0.1, 1], cumulative: [0, 0, 0], count: 0, sumMicros: 0)))
    }

    @Test func aCounterLowerThanBeforeMeansARestartAndCountsWhole() {
        let before = Self.snapshot(opened: 50, active: 0, expiry: 1, failures: [], handshakes: Self.histogram([0.5, 0.5]).snapshot())
        let after = Self.snapshot(opened: 3, active: 0, expiry: 1, failures: [], handshakes: Self.histogram([0.005]).snapshot())
        let d = after.delta(since: before)
        #expect(d.int("opened_total", ["direction": "inbound"]) == 3)
        #expect(d.value("handshake_seconds", ["direction": "inbound"])
                == .histogram(HistogramSnapshot(bounds: [0.01, 0.1, 1], cumulative: [1, 1, 1], count: 1, sumMicros: 5000)))
    }

    @Test func againstAnEmptySnapshotEverythingIsNew() {
        let s = Self.snapshot(opened: 2, active: 1, expiry: 5, failures: [("x", 1)], handshakes: Self.histogram([0.05]).snapshot())
        #expect(s.delta(since: StatsSnapshot()) == s)
    }

    @Test func aSampleGoneSinceIsLeftOut() {
        let before = Self.snapshot(opened: 1, active: 0, expiry: 0, failures: [("gone", 9)], handshakes: Self.histogram([]).snapshot())
        let after = Self.snapshot(opened: 1, active: 0, expiry: 0, failures: [], handshakes: Self.histogram([]).snapshot())
        #expect(after.delta(since: before).family("failures_total")?.samples == [])
    }

    @Test func histogramSnapshotsAreCumulativeWithAnExactSum() {
        let h = Self.histogram([0.001, 0.05, 0.05, 0.9, 12])
        let s = h.snapshot()
        #expect(s.cumulative == [1, 3, 4])
        #expect(s.count == 5)
        #expect(s.sumMicros == 13_001_000)
        #expect(s.sum == 13.001)
    }
}
