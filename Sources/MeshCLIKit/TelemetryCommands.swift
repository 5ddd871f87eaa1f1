#if canImport(Glibc)
import Glibc
#endif
import MeshAPI
import MeshCore
import MeshNet

/// `meshctl graph` and `meshctl top`: the control plane's service graph (`GET /v1/graph`), as a table, Graphviz
/// or JSON, once or refreshed.
enum TelemetryCommands {
    /// The graph window the control plane keeps at most (its 1-minute buckets cover a day).
    static let maxSinceSeconds = 86_400

    /// `--since` (`15m`, `1h`, `900`): 1 s … 24 h, else a usage error.
    static func since(_ o: Options, default text: String) throws -> Int {
        let given = o.value("since") ?? text
        do {
            return max(1, Int(try DurationText.seconds(given, max: Double(maxSinceSeconds))))
        } catch {
            throw UsageError("--since \(given): \(error.reason) (at most 24h)")
        }
    }

    /// `--service ns/name`, checked before asking.
    static func service(_ o: Options) throws -> String? {
        guard let text = o.value("service") else { return nil }
        do { _ = try ServiceKey(parsing: text) } catch { throw UsageError("--service \(text): \(error.reason)") }
        return text
    }

    enum Format: String { case table, json, dot }

    static func format(_ o: Options) throws -> Format {
        let text = o.value("output") ?? "table"
        guard let f = Format(rawValue: text) else { throw UsageError("-o \(text): expected table, json or dot") }
        return f
    }

    static func now() -> Int { Int(time(nil)) }

    /// `graph [--since 15m] [--service ns/name] [-o table|json|dot]`.
    static func graph(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let format = try format(o)
        let since = try since(o, default: "15m")
        let answer = try c.api.graph(sinceSeconds: since, service: try service(o))
        MeshctlCommand.out(render(answer, format, now: now(), trustDomain: c.trustDomain.name))
        return 0
    }

    static func render(_ answer: GraphAnswer, _ format: Format, now: Int, trustDomain: String?) -> String {
        switch format {
        case .json: answer.json.text
        case .dot: GraphRendering.dot(answer, trustDomain: trustDomain)
        case .table: GraphRendering.table(answer, now: now, trustDomain: trustDomain)
        }
    }

    /// `top [--since 1m] [--interval 2s] [--count N] [--service ns/name]`: the table every interval. On a
    /// terminal each frame replaces the last (ANSI home + clear); otherwise frames follow each other, separated
    /// by a blank line. Unbounded (until Ctrl-C) unless `--count`.
    static func top(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let since = try since(o, default: "1m")
        let service = try service(o)
        let intervalText = o.value("interval") ?? "2s"
        let interval: Double
        do { interval = try DurationText.seconds(intervalText, max: 3600) } catch {
            throw UsageError("--interval \(intervalText): \(error.reason)")
        }
        var count: Int?
        if let text = o.value("count") {
            guard let n = Int(text), n > 0 else { throw UsageError("--count \(text): expected a whole number above 0") }
            count = n
        }
        let tty = isatty(1) == 1
        var frame = 0
        while count.map({ frame < $0 }) ?? true {
            if frame > 0 { sleep(seconds: interval) }
            let answer = try c.api.graph(sinceSeconds: since, service: service)
            let t = now()
            let heading = "meshctl top: \(UTCTime.iso8601(Double(t))), last \(o.value("since") ?? "1m"), every \(intervalText)"
            let body = heading + "\n" + GraphRendering.table(answer, now: t, trustDomain: c.trustDomain.name)
            MeshctlCommand.out(tty ? "\u{1B}[H\u{1B}[2J" + body : (frame > 0 ? "\n" : "") + body)
            frame += 1
        }
        return 0
    }

    static func sleep(seconds: Double) {
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var left = timespec()
        while nanosleep(&ts, &left) != 0, errno == EINTR { ts = left }
    }
}
