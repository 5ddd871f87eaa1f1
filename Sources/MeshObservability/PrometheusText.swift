/// The Prometheus text exposition (format 0.0.4) of a snapshot: `# HELP`/`# TYPE` per family, then one line
/// per sample (a histogram: its buckets, +Inf, `_sum` and `_count`).
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ snapshot: StatsSnapshot) -> String {
        var out = ""
        func line(_ name: String, _ labels: [MetricLabel], _ value: String) {
            let l = labels.isEmpty ? "" : "{" + labels.map { "\($0.name)=\"\(escape($0.value))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(l) \(value)\n"
        }
        for f in snapshot.families {
            out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.kind.rawValue)\n"
            for s in f.samples {
                switch s.value {
                case .int(let i): line(f.name, s.labels, String(i))
                case .number(let d): line(f.name, s.labels, number(d))
                case .histogram(let h):
                    for (i, b) in h.bounds.enumerated() {
                        line("\(f.name)_bucket", s.labels + [MetricLabel("le", number(b))], "\(h.cumulative[i])")
                    }
                    line("\(f.name)_bucket", s.labels + [MetricLabel("le", "+Inf")], "\(h.count)")
                    line("\(f.name)_sum", s.labels, "\(h.sum)")
                    line("\(f.name)_count", s.labels, "\(h.count)")
                }
            }
        }
        return out
    }

    /// Whole numbers without a fraction (`1796166662`, `10`), others as Swift prints them (`0.0005`).
    public static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }

    /// Label values: backslash, double quote and newline escaped.
    public static func escape(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "\\": o += "\\\\"
            case "\"": o += "\\\""
            case "\n": o += "\\n"
            default: o.append(c)
            }
        }
        return o
    }
}
