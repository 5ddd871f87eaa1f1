import Synchronization
import MeshCore

/// What `mesh-dev simulate` prints: counts, errors by code, propagation percentiles, control-plane CPU and RSS.
struct SimResult {
    let options: SimOptions
    let stats: SimStats
    let certificates: Int
    let setupMs: Int64
    let connectMs: Int64
    let driveMs: Int64
    /// Control-plane usage when the sidecars start dialling (so the connect phase's handshakes are shown apart).
    let atConnect: ProcessUsage?
    let before: ProcessUsage?
    let after: ProcessUsage?
    let applyError: String?
    let controlPid: Int32?

    func n(_ a: borrowing Atomic<Int>) -> Int { a.load(ordering: .relaxed) }

    var propagation: Percentiles? { Percentiles(stats.propagated) }
    var storm: Percentiles? { Percentiles(stats.stormRenewals) }
    var cpuSeconds: Double? { before.flatMap { b in after.map { $0.cpuSeconds - b.cpuSeconds } } }

    var json: JSONValue {
        let s = stats
        func ms(_ v: Double) -> JSONValue { .number(String(format3: v)) }
        var cp: [(String, JSONValue)] = [("pid", controlPid.map { .int(Int($0)) } ?? .null)]
        if let b = before, let a = after {
            if let c = atConnect { cp += [("connectCpuSeconds", ms(b.cpuSeconds - c.cpuSeconds)), ("rssKiBAtConnect", .int(c.rssKiB))] }
            cp += [("cpuSecondsStart", ms(b.cpuSeconds)), ("cpuSecondsEnd", ms(a.cpuSeconds)),
                   ("cpuSeconds", ms(a.cpuSeconds - b.cpuSeconds)),
                   ("cpuPercent", ms(100 * (a.cpuSeconds - b.cpuSeconds) / max(0.001, Double(driveMs) / 1000))),
                   ("rssKiBStart", .int(b.rssKiB)), ("rssKiBEnd", .int(a.rssKiB))]
        }
        var prop: [(String, JSONValue)] = [("sidecars", .int(s.propagated.count))]
        if let p = propagation { prop += [("p50Ms", ms(p.p50)), ("p90Ms", ms(p.p90)), ("p99Ms", ms(p.p99)), ("maxMs", ms(p.max))] }
        return .object([
            ("sidecars", .int(options.sidecars)), ("services", .int(options.services)), ("certificates", .int(certificates)),
            ("setupMs", .int(Int(setupMs))), ("connectMs", .int(Int(connectMs))), ("driveMs", .int(Int(driveMs))),
            ("connected", .int(n(s.connected))), ("reconnects", .int(n(s.reconnects))),
            ("polls", .object([("sent", .int(n(s.pollsSent))), ("answered", .int(n(s.pollsAnswered))),
                               ("unchanged", .int(n(s.pollsUnchanged)))])),
            ("reports", .object([("sent", .int(n(s.reportsSent))), ("accepted", .int(n(s.reportsAccepted))),
                                 ("duplicate", .int(n(s.reportsDuplicate))), ("refused", .int(n(s.reportsRefused))),
                                 ("routeMissing", .int(n(s.reportsRouteMissing)))])),
            ("renewals", .object([("ok", .int(n(s.renewals))), ("refused", .int(n(s.renewalsRefused)))])),
            ("errors", .object(s.errors.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ("propagation", .object(prop)),
            ("storm", stormJSON),
            ("applyError", applyError.map { .string($0) } ?? .null),
            ("controlPlane", .object(cp)),
        ])
    }

    /// The renewal storm: how many renewed after it started, and how long after (null when there was none).
    var stormJSON: JSONValue {
        guard options.stormAtMs != nil else { return .null }
        if options.stormReconnect {
            let all = stats.stormReconnects
            var m: [(String, JSONValue)] = [("reconnected", .int(all.count)), ("resumed", .int(stats.stormResumed.load(ordering: .relaxed)))]
            if let p = Percentiles(all) {
                m += [("p50Ms", .number(String(format3: p.p50))), ("p99Ms", .number(String(format3: p.p99))), ("maxMs", .number(String(format3: p.max)))]
            }
            return .object(m)
        }
        var m: [(String, JSONValue)] = [("renewed", .int(stats.stormRenewals.count))]
        if let p = storm {
            m += [("p50Ms", .number(String(format3: p.p50))), ("p99Ms", .number(String(format3: p.p99))), ("maxMs", .number(String(format3: p.max)))]
        }
        return .object(m)
    }

    var text: String {
        let s = stats
        var lines: [String] = [
            "sidecars: \(n(s.connected))/\(options.sidecars) connected (\(options.services) services, \(certificates) certificates; "
                + "setup \(setupMs) ms, connect \(connectMs) ms), reconnects \(n(s.reconnects))",
            "polls: \(n(s.pollsSent)) sent, \(n(s.pollsAnswered)) answered with a slice, \(n(s.pollsUnchanged)) unchanged",
            "reports: \(n(s.reportsSent)) sent, \(n(s.reportsAccepted)) accepted, \(n(s.reportsDuplicate)) duplicate, "
                + "\(n(s.reportsRefused)) refused, \(n(s.reportsRouteMissing)) route missing (404)",
            "renewals: \(n(s.renewals)) ok, \(n(s.renewalsRefused)) refused",
        ]
        let errs = s.errors.sorted { $0.key < $1.key }
        lines.append("errors: " + (errs.isEmpty ? "none" : errs.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))
        if let p = propagation {
            lines.append("propagation: \(s.propagated.count)/\(options.sidecars) sidecars, p50 \(String(format3: p.p50)) ms, "
                         + "p90 \(String(format3: p.p90)) ms, p99 \(String(format3: p.p99)) ms, max \(String(format3: p.max)) ms")
        } else {
            lines.append("propagation: not measured" + (applyError.map { " (apply failed: \($0))" } ?? ""))
        }
        if options.stormAtMs != nil && options.stormReconnect {
            let all = stats.stormReconnects
            let resumed = stats.stormResumed.load(ordering: .relaxed)
            lines.append("reconnect storm: \(all.count)/\(options.sidecars) reconnected, \(resumed) resumed a TLS session"
                         + (Percentiles(all).map {
                ", p50 \(String(format3: $0.p50)) ms, p99 \(String(format3: $0.p99)) ms, all done after \(String(format3: $0.max)) ms"
            } ?? ""))
        } else if options.stormAtMs != nil {
            let renewed = stats.stormRenewals.count
            lines.append("renewal storm: \(renewed) renewed" + (storm.map {
                ", p50 \(String(format3: $0.p50)) ms, p99 \(String(format3: $0.p99)) ms, all done after \(String(format3: $0.max)) ms"
            } ?? ""))
        }
        if let b = before, let a = after {
            let cpu = a.cpuSeconds - b.cpuSeconds
            lines.append("control plane (pid \(controlPid ?? 0)) over \(String(format3: Double(driveMs) / 1000)) s: "
                         + "CPU \(String(format3: cpu)) s (\(String(format3: 100 * cpu / max(0.001, Double(driveMs) / 1000)))%), "
                         + "RSS \(b.rssKiB / 1024) MiB → \(a.rssKiB / 1024) MiB")
            if let c = atConnect {
                lines.append("control plane while connecting: CPU \(String(format3: b.cpuSeconds - c.cpuSeconds)) s, "
                             + "RSS \(c.rssKiB / 1024) MiB → \(b.rssKiB / 1024) MiB")
            }
        } else {
            lines.append("control plane: CPU and RSS not measured (give --control-pid or --spawn)")
        }
        return lines.joined(separator: "\n")
    }
}
