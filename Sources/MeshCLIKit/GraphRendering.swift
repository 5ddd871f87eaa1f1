import MeshAPI
import MeshCore

/// How `meshctl graph` and `meshctl top` show a `GraphAnswer`: a table for people, a Graphviz digraph. Pure and
/// deterministic (edges sorted here, whatever order the control plane sent; `now` passed in), so the output
/// can be compared exactly.
enum GraphRendering {
    /// Edges in a stable order: destination, port, caller, observer, allowed first, rule, reason.
    static func sorted(_ edges: [GraphEdge]) -> [GraphEdge] {
        edges.sorted { a, b in
            let x = a.key, y = b.key
            if x.destination != y.destination { return x.destination.utf8.lexicographicallyPrecedes(y.destination.utf8) }
            if x.port != y.port { return x.port < y.port }
            if x.caller != y.caller { return x.caller.utf8.lexicographicallyPrecedes(y.caller.utf8) }
            if x.observer != y.observer { return x.observer.rawValue < y.observer.rawValue }
            if x.allowed != y.allowed { return x.allowed }
            if x.rule != y.rule { return x.rule.utf8.lexicographicallyPrecedes(y.rule.utf8) }
            return x.reason.utf8.lexicographicallyPrecedes(y.reason.utf8)
        }
    }

    static let header = ["CALLER", "DESTINATION", "OBSERVER", "VERDICT", "RULE", "REASON", "SHADOW", "CONNS", "BYTES →/←",
                         "HANDSHAKE p50/p99", "DURATION p50/p99", "FIRST", "LAST"]

    /// One line on the window, then the table (or `(no edges)`).
    static func table(_ answer: GraphAnswer, now: Int, trustDomain: String?) -> String {
        let summary = "edges \(UTCTime.iso8601(Double(answer.from))) … \(UTCTime.iso8601(Double(answer.to)))"
            + " (resolution \(answer.resolutionSeconds) s): \(answer.edges.count)"
        if answer.edges.isEmpty { return summary + "\n(no edges)" }
        let rows = sorted(answer.edges).map { e -> [String] in
            let k = e.key
            let shadow = k.shadowAllowed.map { ($0 ? "allow " : "deny ") + (k.shadowRule ?? "?") } ?? "-"
            return [caller(k.caller, trustDomain), destination(k), k.observer.rawValue, k.allowed ? "allow" : "deny", k.rule,
                    k.reason, shadow, String(e.counts.connections),
                    "\(bytes(e.counts.bytesToDestination))/\(bytes(e.counts.bytesToCaller))",
                    "\(micros(e.percentile(0.5, handshake: true)))/\(micros(e.percentile(0.99, handshake: true)))",
                    "\(micros(e.percentile(0.5, handshake: false)))/\(micros(e.percentile(0.99, handshake: false)))",
                    ago(e.firstSeen, now: now), ago(e.lastSeen, now: now)]
        }
        return summary + "\n" + Table.render(header, rows)
    }

    /// A Graphviz digraph: one node per service or identity, one arrow per (caller, destination, port,
    /// decision), labelled with port, connections and decision. A flow seen at both ends is drawn once (the
    /// larger of the two observers' counts). Refused arrows are red and dashed, dotted when an audit rule would
    /// have allowed them.
    static func dot(_ answer: GraphAnswer, trustDomain: String?) -> String {
        struct Arrow: Hashable {
            let from: String, to: String, port: Int, allowed: Bool, rule: String, reason: String
            let shadowAllowed: Bool?, shadowRule: String?
        }
        var connections: [Arrow: [TelemetryObserver: Int]] = [:]
        var nodes = Set<String>()
        var order: [Arrow] = []
        for e in sorted(answer.edges) {
            let k = e.key
            let a = Arrow(from: caller(k.caller, trustDomain), to: k.destination, port: k.port, allowed: k.allowed, rule: k.rule,
                          reason: k.reason, shadowAllowed: k.shadowAllowed, shadowRule: k.shadowRule)
            if connections[a] == nil { order.append(a) }
            connections[a, default: [:]][k.observer, default: 0] += e.counts.connections
            nodes.insert(a.from)
            nodes.insert(a.to)
        }
        var lines = ["digraph mesh {", "  rankdir=LR;", "  node [shape=box];"]
        for n in nodes.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { lines.append("  \(quote(n));") }
        for a in order {
            let count = connections[a]!.values.max() ?? 0
            var decision = "\(a.allowed ? "allow" : "deny") \(a.rule)"
            if !a.allowed { decision += " (\(a.reason))" }
            let audit = a.shadowAllowed.map { "audit: \($0 ? "allow" : "deny") \(a.shadowRule ?? "?")" }
            let label = audit.map { quote("\(a.port): \(count) conn", decision, $0) } ?? quote("\(a.port): \(count) conn", decision)
            let style = a.allowed ? "color=\"black\", style=\"solid\""
                : "color=\"red\", style=\"\(a.shadowAllowed == true ? "dotted" : "dashed")\""
            lines.append("  \(quote(a.from)) -> \(quote(a.to)) [label=\(label), \(style)];")
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    /// `ns/name` for a service identity of `trustDomain` (`spiffe://td/ns/X/sa/Y`), the text itself otherwise.
    static func caller(_ text: String, _ trustDomain: String?) -> String {
        guard let td = trustDomain, let id = try? SPIFFEID(parsing: text), id.trustDomain.name == td else { return text }
        let parts = id.path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa" else { return text }
        return "\(parts[2])/\(parts[4])"
    }

    static func destination(_ k: EdgeKey) -> String { k.port == 0 ? k.destination : "\(k.destination):\(k.port)" }

    /// `512 B`, `1.5 KiB`, `2 MiB`, `3.1 GiB`.
    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        var v = Double(n) / 1024
        for unit in ["KiB", "MiB", "GiB"] {
            if v < 1024 || unit == "GiB" { return "\(decimal(v)) \(unit)" }
            v /= 1024
        }
        return "\(n) B"
    }

    /// A bucket bound in microseconds: `500µs`, `2.5ms`, `1s`, `5m`, `1h`; `-` for no samples.
    static func micros(_ us: Int?) -> String {
        guard let us else { return "-" }
        if us < 1_000 { return "\(us)µs" }
        if us < 1_000_000 { return decimal(Double(us) / 1_000) + "ms" }
        if us < 60_000_000 { return decimal(Double(us) / 1_000_000) + "s" }
        if us < 3_600_000_000 { return decimal(Double(us) / 60_000_000) + "m" }
        return decimal(Double(us) / 3_600_000_000) + "h"
    }

    /// `42s ago`, `3m ago`, `2h ago`, `1d ago` (whole units, rounded down; a future time is `0s ago`).
    static func ago(_ t: Int, now: Int) -> String {
        let d = max(0, now - t)
        if d < 60 { return "\(d)s ago" }
        if d < 3600 { return "\(d / 60)m ago" }
        if d < 86_400 { return "\(d / 3600)h ago" }
        return "\(d / 86_400)d ago"
    }

    /// One decimal, none when whole: `2.5`, `3`.
    static func decimal(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(tenths % 10)"
    }

    /// A DOT string literal of `lines` joined by DOT's `\n` line break; quotes and backslashes escaped,
    /// raw newlines replaced by spaces.
    static func quote(_ lines: String...) -> String {
        let escaped = lines.map { line in
            var out = ""
            for c in line {
                if c == "\"" || c == "\\" { out.append("\\") }
                out.append(c == "\n" ? " " : c)
            }
            return out
        }
        return "\"" + escaped.joined(separator: "\\n") + "\""
    }
}
