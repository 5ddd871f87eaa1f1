import MeshCore

public enum AlertState: String, Sendable, Hashable {
    case pending, firing, resolved
}

/// What made an alert fire: counts, the destinations involved (at most 16), first and last sighting.
public struct AlertEvidence: Sendable, Equatable {
    public var count = 0
    public var destinations: [String] = []
    public var firstSeen = 0
    public var lastSeen = 0
    /// A kind-specific line (`policy version 3, applied 5`, `expires 2026-…`).
    public var detail: String?
    public static let maxDestinations = 16

    public init(count: Int = 0, destinations: [String] = [], firstSeen: Int = 0, lastSeen: Int = 0, detail: String? = nil) {
        self.count = count
        self.destinations = Array(destinations.prefix(Self.maxDestinations))
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.detail = detail
    }

    public var json: JSONValue {
        .object([("count", .int(count)), ("destinations", .array(destinations.map { .string($0) })), ("firstSeen", .int(firstSeen)),
                 ("lastSeen", .int(lastSeen)), ("detail", detail.map { .string($0) } ?? .null)])
    }
}

/// One alert: a rule's condition holding for one subject. De-duplicated by `key` while pending or firing.
public struct Alert: Sendable, Equatable {
    public var id: Int
    public var rule: String
    public var kind: AlertKind
    public var severity: AlertSeverity
    /// The identity the alert is about (a SPIFFE ID as text).
    public var subject: String
    /// Rule, subject and (for `new-edge`) the edge: one alert per key at a time.
    public var key: String
    public var state: AlertState
    /// When the condition was first seen true (pending or firing since).
    public var since: Int
    public var firedAt: Int?
    public var resolvedAt: Int?
    public var evidence: AlertEvidence
    /// What the rule's action did: `quarantined for 3600s`, `quarantine refused: …`, `not quarantined: mesh-system identity`.
    public var action: String?
    public var description: String?
    /// The last time the condition held (event kinds resolve counting from here).
    var lastTrue: Int
    /// The first tick at which a level or windowed condition was seen false (they resolve counting from here).
    var falseSince: Int? = nil

    public var json: JSONValue {
        .object([("id", .int(id)), ("rule", .string(rule)), ("kind", .string(kind.rawValue)), ("severity", .string(severity.rawValue)),
                 ("subject", .string(subject)), ("key", .string(key)), ("state", .string(state.rawValue)), ("since", .int(since)),
                 ("firedAt", firedAt.map { .int($0) } ?? .null), ("resolvedAt", resolvedAt.map { .int($0) } ?? .null),
                 ("evidence", evidence.json), ("action", action.map { .string($0) } ?? .null),
                 ("description", description.map { .string($0) } ?? .null)])
    }
}

/// A change of state worth telling (log line, webhook, metrics): to `firing` or to `resolved`.
public struct AlertTransition: Sendable, Equatable {
    public var alert: Alert
    public var to: AlertState { alert.state }
    /// `alert-firing` or `alert-resolved`: the log event's name.
    public var event: String { "alert-\(alert.state.rawValue)" }

    public var json: JSONValue {
        .object([("event", .string(event)), ("alert", alert.json)])
    }
}

/// Triggers a quarantine: identity, reason, duration (nil: until released), the rule that asked.
public typealias QuarantineAction = @Sendable (_ identity: SPIFFEID, _ reason: String, _ forSeconds: Double?, _ rule: String) -> Result<Void, MeshError>

/// Triggers a throttle: identity, new connections per second, duration (nil: until released), the rule that asked.
public typealias ThrottleAction = @Sendable (_ identity: SPIFFEID, _ perSecond: Double, _ forSeconds: Double?, _ rule: String) -> Result<Void, MeshError>

/// What the control plane knows at a tick that telemetry does not carry.
public struct AlertFacts: Sendable {
    /// The version of the mesh configuration applied now (0: none).
    public var appliedPolicyVersion: Int
    /// The latest certificate's expiry (seconds since the epoch) per identity, as text.
    public var certificateNotAfter: [String: Int]

    public init(appliedPolicyVersion: Int = 0, certificateNotAfter: [String: Int] = [:]) {
        self.appliedPolicyVersion = appliedPolicyVersion
        self.certificateNotAfter = certificateNotAfter
    }
}
