/// What a metric family measures; it decides how a delta is taken and how Prometheus is told.
public enum MetricKind: String, Equatable, Sendable {
    /// Only goes up (until the process restarts): a delta subtracts.
    case counter
    /// A level: a delta keeps the newer value.
    case gauge
    /// Bucketed observations: a delta subtracts bucket by bucket.
    case histogram
}

/// One sample's value.
public enum MetricValue: Equatable, Sendable {
    case int(Int)
    case number(Double)
    case histogram(HistogramSnapshot)

    /// The value as a whole number (0 for a histogram).
    public var intValue: Int {
        switch self {
        case .int(let i): return i
        case .number(let d): return Int(d)
        case .histogram: return 0
        }
    }
}

/// A name/value pair that tells samples of one family apart. Values come from closed sets and configuration.
public struct MetricLabel: Hashable, Sendable {
    public let name: String
    public let value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One labelled value of a family.
public struct MetricSample: Equatable, Sendable {
    /// In the order they are rendered.
    public var labels: [MetricLabel]
    public var value: MetricValue

    public init(_ labels: KeyValuePairs<String, String>, _ value: MetricValue) {
        self.labels = labels.map { MetricLabel($0.key, $0.value) }
        self.value = value
    }

    /// A family's only sample, without labels.
    public init(_ value: MetricValue) {
        labels = []
        self.value = value
    }

    /// The value of label `name`, if it has one.
    public func label(_ name: String) -> String? { labels.first { $0.name == name }?.value }
}

/// A named metric with its help text and samples.
public struct MetricFamily: Equatable, Sendable {
    public var name: String
    public var kind: MetricKind
    public var help: String
    public var samples: [MetricSample]

    public init(_ name: String, _ kind: MetricKind, help: String, _ samples: [MetricSample]) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }
}

/// A process's counters, gauges and histograms read at one moment, as a plain value: the stats endpoint
/// renders it as JSON and as Prometheus text, and telemetry sends its delta against the previous report.
/// Families and samples keep the order they were added in, so every rendering is deterministic.
public struct StatsSnapshot: Equatable, Sendable {
    public var families: [MetricFamily]

    public init(_ families: [MetricFamily] = []) { self.families = families }

    /// Appends a family.
    public mutating func add(_ name: String, _ kind: MetricKind, help: String, _ samples: [MetricSample]) {
        families.append(MetricFamily(name, kind, help: help, samples))
    }

    public func family(_ name: String) -> MetricFamily? { families.first { $0.name == name } }

    /// The sample of family `name` with exactly these labels (in this order).
    public func value(_ name: String, _ labels: KeyValuePairs<String, String> = [:]) -> MetricValue? {
        let want = labels.map { MetricLabel($0.key, $0.value) }
        return family(name)?.samples.first { $0.labels == want }?.value
    }

    /// Like `value`, as a whole number; 0 when there is no such sample.
    public func int(_ name: String, _ labels: KeyValuePairs<String, String> = [:]) -> Int {
        value(name, labels)?.intValue ?? 0
    }
}
