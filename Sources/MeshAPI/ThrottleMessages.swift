import MeshCore

/// `POST /v1/throttle` (operator): at most `perSecond` new connections per second from `identity` at every
/// receiving sidecar, for `forSeconds` (absent: until released). Replaces an earlier throttle of that identity.
public struct ThrottleRequest: WireMessage {
    public var identity: SPIFFEID
    public var perSecond: Double
    public var forSeconds: Int?

    public init(identity: SPIFFEID, perSecond: Double, forSeconds: Int?) {
        self.identity = identity
        self.perSecond = perSecond
        self.forSeconds = forSeconds
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["identity", "perSecond", "forSeconds"])
        identity = try Wire.spiffeID(r.node("identity"))
        perSecond = try Wire.read { () throws(MeshError) in try r.required("perSecond").double(in: 0...RateLimit.maxPerSecond) }
        forSeconds = try r.optionalInt("forSeconds", in: 1...(365 * 86_400))
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("identity", .string(identity.description)),
                                              ("perSecond", .number(ThrottleList.text(perSecond)))]
        if let forSeconds { members.append(("forSeconds", .int(forSeconds))) }
        return .object(members)
    }
}

/// `DELETE /v1/throttle` (operator): lifts the throttle on `identity`.
public struct UnthrottleRequest: WireMessage {
    public var identity: SPIFFEID

    public init(identity: SPIFFEID) { self.identity = identity }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["identity"])
        identity = try Wire.spiffeID(r.node("identity"))
    }

    public var json: JSONValue { .object([("identity", .string(identity.description))]) }
}

/// One throttle in force: who, how tight, since when, until when (null: until released), set by whom.
public struct ThrottleEntry: WireMessage {
    public var identity: SPIFFEID
    public var perSecond: Double
    public var burst: Double
    public var since: Int
    public var until: Int?
    public var actor: String

    public init(identity: SPIFFEID, perSecond: Double, burst: Double, since: Int, until: Int?, actor: String) {
        self.identity = identity
        self.perSecond = perSecond
        self.burst = burst
        self.since = since
        self.until = until
        self.actor = actor
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["identity", "perSecond", "burst", "since", "until", "actor"])
        identity = try Wire.spiffeID(r.node("identity"))
        perSecond = try Wire.read { () throws(MeshError) in try r.required("perSecond").double(in: 0...RateLimit.maxPerSecond) }
        burst = try Wire.read { () throws(MeshError) in try r.required("burst").double(in: 0...RateLimit.maxBurst) }
        since = try r.int("since")
        until = try Wire.nullable(r, "until").map { n throws(MeshError) in try Wire.read { () throws(MeshError) in try n.int(in: Int.min...Int.max) } }
        actor = try r.string("actor")
    }

    public var json: JSONValue {
        .object([("identity", .string(identity.description)), ("perSecond", .number(ThrottleList.text(perSecond))),
                 ("burst", .number(ThrottleList.text(burst))), ("since", .int(since)), ("until", until.map { .int($0) } ?? .null),
                 ("actor", .string(actor))])
    }
}

/// The answer of `GET /v1/throttle` (and of `POST`/`DELETE`): the deny list's revision and the throttles in
/// force, sorted by identity.
public struct ThrottleListAnswer: WireMessage {
    public var revision: Int
    public var throttles: [ThrottleEntry]

    public init(revision: Int, throttles: [ThrottleEntry]) {
        self.revision = revision
        self.throttles = throttles
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["revision", "throttles"])
        revision = try r.int("revision", in: 0...Int.max)
        var list: [ThrottleEntry] = []
        for item in try Wire.read({ () throws(MeshError) in try r.required("throttles").elements() }) {
            list.append(try ThrottleEntry(json: item.value))
        }
        throttles = list
    }

    public var json: JSONValue {
        .object([("revision", .int(revision)), ("throttles", .array(throttles.map(\.json)))])
    }
}
