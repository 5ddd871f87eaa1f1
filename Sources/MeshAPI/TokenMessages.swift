import MeshCore

/// `POST /v1/tokens` (operator): a single-use join token for `service` (`namespace/name`), valid `ttlSeconds`
/// (the control plane's default, 3600, when left out).
public struct TokenRequest: WireMessage {
    public var service: String
    public var ttlSeconds: Int?

    public init(service: String, ttlSeconds: Int?) {
        self.service = service
        self.ttlSeconds = ttlSeconds
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["service", "ttlSeconds"])
        service = try r.string("service")
        ttlSeconds = try r.optionalInt("ttlSeconds")
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("service", .string(service))]
        if let ttlSeconds { members.append(("ttlSeconds", .int(ttlSeconds))) }
        return .object(members)
    }
}

/// The answer (201): the secret, the identity it will be issued for, and its expiry (seconds since the epoch).
public struct TokenAnswer: WireMessage {
    public var token: String
    public var spiffeID: SPIFFEID
    public var expiresAt: Int

    public init(token: String, spiffeID: SPIFFEID, expiresAt: Int) {
        self.token = token
        self.spiffeID = spiffeID
        self.expiresAt = expiresAt
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["token", "spiffeID", "expiresAt"])
        token = try r.string("token")
        spiffeID = try Wire.spiffeID(r.node("spiffeID"))
        expiresAt = try r.int("expiresAt")
    }

    public var json: JSONValue {
        .object([("token", .string(token)), ("spiffeID", .string(spiffeID.description)), ("expiresAt", .int(expiresAt))])
    }
}
