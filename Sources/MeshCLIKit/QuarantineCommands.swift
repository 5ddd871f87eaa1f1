import MeshAPI
import MeshCore

/// `meshctl quarantine add|list|release`: the operator's enforced deny of an identity, above every allow.
enum QuarantineCommands {
    static func run(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let words = Array(o.positional.dropFirst())
        switch words.first {
        case "add"?: return try add(c, o, Array(words.dropFirst()))
        case "list"?:
            guard words.count == 1 else { throw UsageError("quarantine list takes no arguments") }
            return show(try c.api.quarantines(), o)
        case "release"?:
            let id = try identity(Array(words.dropFirst()), "release")
            let r = try c.api.release(id)
            if o.json { MeshctlCommand.out(r.json.text); return 0 }
            MeshctlCommand.out("released \(id) (deny list revision \(r.revision))")
            return 0
        default:
            throw UsageError("quarantine add ID --reason TEXT [--for 1h] | quarantine list | quarantine release ID")
        }
    }

    /// `quarantine add ID --reason TEXT [--for 1h]`.
    static func add(_ c: ControlClient, _ o: Options, _ rest: [String]) throws -> Int32 {
        let id = try identity(rest, "add")
        guard let reason = o.value("reason"), !reason.isEmpty else { throw UsageError("quarantine add needs --reason TEXT") }
        let seconds = try o.value("for").map { try Duration.seconds($0) }
        if let seconds, seconds < 1 { throw UsageError("--for must be at least 1s") }
        let r = try c.api.quarantine(QuarantineRequest(identity: id, reason: reason, forSeconds: seconds))
        if o.json { MeshctlCommand.out(r.json.text); return 0 }
        let until = r.quarantines.first { $0.identity == id }?.until
        MeshctlCommand.out("quarantined \(id) \(until.map { "until \(Table.time($0))" } ?? "until released") "
                           + "(deny list revision \(r.revision)); sidecars close its connections now")
        return 0
    }

    static func show(_ r: QuarantineList, _ o: Options) -> Int32 {
        if o.json { MeshctlCommand.out(r.json.text); return 0 }
        let rows = r.quarantines.map { q in
            [q.identity.description, Table.time(q.since), q.until.map { Table.time($0) } ?? "until released",
             q.automatic ? "\(q.actor) (automatic)" : q.actor, q.reason]
        }
        MeshctlCommand.out(Table.render(["IDENTITY", "SINCE", "UNTIL", "BY", "REASON"], rows))
        return 0
    }

    /// Exactly one SPIFFE ID after the verb.
    private static func identity(_ rest: [String], _ verb: String) throws -> SPIFFEID {
        guard rest.count == 1 else { throw UsageError("quarantine \(verb) needs exactly one identity (spiffe://…)") }
        do { return try SPIFFEID.workload(rest[0]) } catch { throw UsageError("\(rest[0]): \(error)") }
    }
}
