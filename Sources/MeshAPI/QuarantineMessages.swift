import MeshCore

/// `POST /v1/quarantine` (operator): quarantine `identity`, optionally for `forSeconds` (else until released).
public struct QuarantineRequest: WireMessage {
    public var identity: SPIFFEID
    public var reason: String
    public var forSeconds: Int?

    public init(identity: SPIFFEID, reason: String, forSeconds: Int? = nil) {
        self.identity = identity
        self.reason = reason
        self.forSeconds = forSeconds
    }

    /// `forSeconds` is 1 s to 10 years; `reason` may be left out (empty).
    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["identity", "reason", "forSeconds"])
        identity = try Wire.spiffeID(r.node("identity"))
        reason = try r.optionalString("reason") ?? ""
        forSeconds = try r.optionalInt("forSeconds", in: 1...(10 * 365 * 86_400))
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("identity", .string(identity.description)), ("reason", .string(reason))]
        if let forSeconds { members.append(("forSeconds", .int(forSeconds))) }
        return .object(members)
    }
}

/// One quarantine in force: who, why, since and until when (seconds since the epoch; `until` null: until
/// released), who decided it and whether an alert rule did.
public struct QuarantineRecord: WireMessage {
    public var identity: SPIFFEID
    public var reason: String
    public var since: Int
    public var until: Int?
    public var actor: String
    public var automatic: Bool

    public init(identity: SPIFFEID, reason: String, since: Int, until: Int?, actor: String, automatic: Bool) {
        self.identity = identity
        self.reason = reason
        self.since = since
        self.until = until
        self.actor = actor
        self.automatic = automatic
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["identity", "reason", "since", "until", "actor", "automatic"])
        identity = try Wire.spiffeID(r.node("identity"))
        reason = try r.string("reason")
        since = try r.int("since")
        until = try Wire.nullable(r, "until").map { n throws(MeshError) in try Wire.read { () throws(MeshError) in try n.int(in: 0...Int.max) } }
        actor = try r.string("actor")
        automatic = try r.bool("automatic")
    }

    public var json: JSONValue {
        .object([("identity", .string(identity.description)), ("reason", .string(reason)), ("since", .int(since)),
                 ("until", until.map { .int($0) } ?? .null), ("actor", .string(actor)), ("automatic", .bool(automatic))])
    }
}

/// `GET /v1/quarantine` (operator), and the answer of `POST` and `DELETE`: the quarantines in force (oldest
/// first) and the deny list's revision.
public struct QuarantineList: WireMessage {
    public var revision: Int
    public var quarantines: [QuarantineRecord]

    public init(revision: Int, quarantines: [QuarantineRecord]) {
        self.revision = revision
        self.quarantines = quarantines
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["revision", "quarantines"])
        revision = try r.int("revision", in: 0...Int.max)
        quarantines = try Wire.read { () throws(MeshError) in try r.required("quarantines").elements() }.map { n throws(MeshError) in
            try QuarantineRecord(json: n.value)
        }
    }

    public var json: JSONValue {
        .object([("revision", .int(revision)), ("quarantines", .array(quarantines.map(\.json)))])
    }
}
