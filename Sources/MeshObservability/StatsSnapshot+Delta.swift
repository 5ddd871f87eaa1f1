extension StatsSnapshot {
    /// What changed since `earlier` (an older snapshot of the same process), for telemetry reports:
    /// counters subtract, gauges take the newer value, histograms subtract bucket by bucket. A sample missing
    /// from `earlier` counts from zero; one missing from this snapshot is left out. A counter lower than before
    /// means the process restarted, so its delta is the whole new value.
    public func delta(since earlier: StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot(families.map { family in
            guard family.kind != .gauge, let old = earlier.family(family.name), old.kind == family.kind else { return family }
            var changed = family
            changed.samples = family.samples.map { sample in
                guard let before = old.samples.first(where: { $0.labels == sample.labels }) else { return sample }
                var d = sample
                d.value = Self.subtract(before.value, from: sample.value)
                return d
            }
            return changed
        })
    }

    private static func subtract(_ before: MetricValue, from now: MetricValue) -> MetricValue {
        switch (now, before) {
        case (.int(let n), .int(let b)): return .int(n >= b ? n - b : n)
        case (.number(let n), .number(let b)): return .number(n >= b ? n - b : n)
        case (.histogram(let n), .histogram(let b)): return .histogram(n.delta(since: b))
        default: return now
        }
    }
}
