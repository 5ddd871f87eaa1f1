import MeshAPI
import MeshCore

/// `meshctl throttle add|list|release`: risk-adaptive limits by hand. Usage errors exit 64.
enum ThrottleCommands {
    static func run(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let words = Array(o.positional.dropFirst())
        switch words.first {
        case "add"?: return try add(c, o, words)
        case "list"?: return try list(c, o)
        case "release"?: return try release(c, o, words)
        default: throw UsageError("throttle needs add ID --per-second N [--for 1h], list, or release ID")
        }
    }

    /// `throttle add ID --per-second N [--for 1h]`.
    static func add(_ c: ControlClient, _ o: Options, _ words: [String]) throws -> Int32 {
        guard words.count == 2 else { throw UsageError("throttle add needs exactly one identity: throttle add spiffe://… --per-second N") }
        let id = try identity(words[1])
        guard let text = o.value("per-second") else { throw UsageError("throttle add needs --per-second N") }
        guard let rate = Double(text), rate.isFinite, rate > 0, rate <= RateLimit.maxPerSecond else {
            throw UsageError("--per-second \(text.debugDescription) is not a number > 0 and at most 100000")
        }
        let forSeconds = try o.value("for").map { try Duration.seconds($0) }
        if let forSeconds, forSeconds < 1 { throw UsageError("--for must be at least 1s") }
        let r = try c.call("POST", "/v1/throttle", body: ThrottleRequest(identity: id, perSecond: rate, forSeconds: forSeconds).json)
        if o.json { MeshctlCommand.out(r.text); return 0 }
        MeshctlCommand.out("throttled \(id) to \(ThrottleList.text(rate)) new connections per second"
                           + (forSeconds.map { " for \($0)s" } ?? " until released")
                           + " (deny list revision \(r["revision"]?.intValue ?? 0)); every sidecar applies it now")
        return 0
    }

    /// `throttle list`: who, how tight, since when, until when, set by whom.
    static func list(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let r = try c.call("GET", "/v1/throttle")
        if o.json { MeshctlCommand.out(r.text); return 0 }
        let answer = try ThrottleListAnswer(json: r)
        let rows = answer.throttles.map { t -> [String] in
            [t.identity.description, ThrottleList.text(t.perSecond), ThrottleList.text(t.burst), Table.time(t.since),
             t.until.map { Table.time($0) } ?? "released by hand", t.actor]
        }
        MeshctlCommand.out(Table.render(["IDENTITY", "PER SECOND", "BURST", "SINCE", "UNTIL", "BY"], rows))
        return 0
    }

    /// `throttle release ID`.
    static func release(_ c: ControlClient, _ o: Options, _ words: [String]) throws -> Int32 {
        guard words.count == 2 else { throw UsageError("throttle release needs exactly one identity: throttle release spiffe://…") }
        let id = try identity(words[1])
        let r = try c.call("DELETE", "/v1/throttle", body: UnthrottleRequest(identity: id).json)
        if o.json { MeshctlCommand.out(r.text); return 0 }
        MeshctlCommand.out("released \(id) (deny list revision \(r["revision"]?.intValue ?? 0))")
        return 0
    }

    private static func identity(_ text: String) throws -> SPIFFEID {
        do { return try SPIFFEID.workload(text) } catch { throw UsageError("\(text.debugDescription) is not a workload SPIFFE ID: \(error)") }
    }
}
