#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// `meshctl alerts [--all] [--watch [--interval 2s] [--count N]] [-o json]`: the control plane's alerts
/// (`GET /v1/alerts`) as a table: state, severity, rule, subject, since, evidence. `--all` adds the resolved
/// ones kept; `--watch` re-polls every interval (until Ctrl-C unless `--count`).
enum AlertCommands {
    static func run(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let all = o.value("all") != nil
        let watch = o.value("watch") != nil
        var count = watch ? nil : Optional(1)
        if let text = o.value("count") {
            guard let n = Int(text), n > 0 else { throw UsageError("--count \(text): expected a whole number above 0") }
            count = n
        }
        let intervalText = o.value("interval") ?? "2s"
        let interval: Double
        do { interval = try DurationText.seconds(intervalText, max: 3600) } catch {
            throw UsageError("--interval \(intervalText): \(error.reason)")
        }
        var frame = 0
        while count.map({ frame < $0 }) ?? true {
            if frame > 0 { TelemetryCommands.sleep(seconds: interval); MeshctlCommand.out("") }
            let answer = try c.call("GET", all ? "/v1/alerts?all=true" : "/v1/alerts")
            MeshctlCommand.out(o.json ? answer.text : table(answer, trustDomain: c.trustDomain.name))
            frame += 1
        }
        return 0
    }

    /// One line per alert; subjects without `spiffe://<our trust domain>`; times as age (`42s ago`).
    static func table(_ answer: JSONValue, trustDomain: String) -> String {
        let now = answer["now"]?.intValue ?? 0
        let alerts = answer["alerts"]?.arrayValue ?? []
        if alerts.isEmpty { return "no alerts" }
        let prefix = "spiffe://\(trustDomain)"
        var rows = [["STATE", "SEVERITY", "RULE", "SUBJECT", "SINCE", "EVIDENCE", "ACTION"]]
        for a in alerts {
            var subject = a["subject"]?.stringValue ?? ""
            if subject.hasPrefix(prefix + "/") { subject = String(subject.dropFirst(prefix.count)) }
            let e = a["evidence"]
            var evidence = e?["detail"]?.stringValue ?? "count \(e?["count"]?.intValue ?? 0)"
            let destinations = (e?["destinations"]?.arrayValue ?? []).compactMap(\.stringValue)
            if !destinations.isEmpty { evidence += " [" + destinations.joined(separator: ", ") + "]" }
            var state = a["state"]?.stringValue ?? "?"
            if let resolved = a["resolvedAt"]?.intValue { state += " \(age(now - resolved))" }
            rows.append([state, a["severity"]?.stringValue ?? "", a["rule"]?.stringValue ?? "", subject,
                         age(now - (a["since"]?.intValue ?? now)), evidence, a["action"]?.stringValue ?? "-"])
        }
        let widths = (0..<rows[0].count).map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func age(_ seconds: Int) -> String {
        let s = max(0, seconds)
        if s < 120 { return "\(s)s ago" }
        if s < 7200 { return "\(s / 60)m ago" }
        return "\(s / 3600)h ago"
    }
}
