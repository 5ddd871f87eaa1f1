import MeshCore

/// What an alert rule watches (schema: `mesh-config/README.md`, "Alert rules").
public enum AlertKind: String, Sendable, Hashable, CaseIterable {
    /// Refusals of one caller identity above `threshold` in `window`.
    case denySpike = "deny-spike"
    /// One identity refused at ≥ `distinct` destination/port pairs in `window` (lateral movement).
    case probing
    /// An edge (caller, destination, port) never seen before, once `learningPeriod` has passed.
    case newEdge = "new-edge"
    /// A caller of our trust domain that is not a declared service.
    case unknownIdentity = "unknown-identity"
    /// A reporting identity whose latest certificate expires within `within`.
    case certificateExpiring = "certificate-expiring"
    /// An identity that reported before and has not for `after`.
    case sidecarStale = "sidecar-stale"
    /// An identity whose reported policy version is behind the applied one for `after`.
    case policyOutOfSync = "policy-out-of-sync"
    /// Two live sidecars renewing one identity (the control plane's clone detection).
    case cloneSuspected = "clone-suspected"

    /// The parameters each kind takes: exactly these (others are `alert.parameter-not-for-kind`).
    public var parameters: Set<String> {
        switch self {
        case .denySpike: ["threshold", "window"]
        case .probing: ["distinct", "window"]
        case .newEdge: ["learningPeriod"]
        case .unknownIdentity, .cloneSuspected: []
        case .certificateExpiring: ["within"]
        case .sidecarStale, .policyOutOfSync: ["after"]
        }
    }

    /// Kinds whose condition is a moment (a sighting), not a level: they resolve `resolveAfter` after the last one.
    public var isEvent: Bool { self == .newEdge || self == .unknownIdentity || self == .cloneSuspected }
}

public enum AlertSeverity: String, Sendable, Hashable, CaseIterable {
    case info, warning, critical
}

/// What a firing alert does to its subject: deny it everywhere (`quarantine`), or only tighten the rate of new
/// connections it may open at every receiving sidecar (`throttle`, the risk-adaptive answer).
public enum AlertAction: String, Sendable, Hashable, CaseIterable {
    case quarantine, throttle
}

/// One alert rule, as declared under `alerts` in a mesh file. Durations are whole seconds.
public struct AlertRule: Sendable, Equatable {
    public var name: String
    public var kind: AlertKind
    public var severity: AlertSeverity
    /// `deny-spike`: more than this many refusals in `window` fires.
    public var threshold: Int?
    /// `probing`: at least this many distinct destination/port pairs refused in `window` fires.
    public var distinct: Int?
    /// `deny-spike`, `probing`: the sliding window (default 60 s).
    public var window: Int?
    /// `new-edge`: edges seen during this long after the engine starts are learned, not alerted (default 1 h).
    public var learningPeriod: Int?
    /// `certificate-expiring`: how close to expiry (default 1 h).
    public var within: Int?
    /// `sidecar-stale`, `policy-out-of-sync`: how long the condition must last (default 60 s).
    public var after: Int?
    /// The condition must hold this long before the alert fires (pending meanwhile; default 0).
    public var forSeconds: Int
    /// A firing alert resolves when its condition has been false this long (default: see `effectiveResolveAfter`).
    public var resolveAfter: Int?
    public var action: AlertAction?
    /// How long an automatic quarantine lasts (nil: until released).
    public var quarantineFor: Int?
    /// `action: throttle`: new connections per second allowed to the subject at each receiving sidecar, and for
    /// how long (nil: until released).
    public var throttlePerSecond: Double?
    public var throttleFor: Int?
    public var description: String?

    public init(name: String, kind: AlertKind, severity: AlertSeverity, threshold: Int? = nil, distinct: Int? = nil,
                window: Int? = nil, learningPeriod: Int? = nil, within: Int? = nil, after: Int? = nil, forSeconds: Int = 0,
                resolveAfter: Int? = nil, action: AlertAction? = nil, quarantineFor: Int? = nil, throttlePerSecond: Double? = nil,
                throttleFor: Int? = nil, description: String? = nil) {
        self.name = name
        self.kind = kind
        self.severity = severity
        self.threshold = threshold
        self.distinct = distinct
        self.window = window
        self.learningPeriod = learningPeriod
        self.within = within
        self.after = after
        self.forSeconds = forSeconds
        self.resolveAfter = resolveAfter
        self.action = action
        self.quarantineFor = quarantineFor
        self.throttlePerSecond = throttlePerSecond
        self.throttleFor = throttleFor
        self.description = description
    }

    public static let defaultWindow = 60
    public static let defaultLearningPeriod = 3600
    public static let defaultWithin = 3600
    public static let defaultAfter = 60
    /// `sidecar-stale` waits longer by default: an idle sidecar reports only its 60-s heartbeat (plus up to one
    /// interval), so 60 s would flap on healthy idle sidecars.
    public static let defaultStaleAfter = 180
    /// Event kinds (`new-edge`, `unknown-identity`, `clone-suspected`) resolve 5 min after the last sighting.
    public static let defaultEventResolveAfter = 300

    public var effectiveWindow: Int { window ?? Self.defaultWindow }

    /// `resolveAfter`, else: the window for windowed kinds, 5 min for event kinds, 0 (the next tick) for levels.
    public var effectiveResolveAfter: Int {
        if let resolveAfter { return resolveAfter }
        switch kind {
        case .denySpike, .probing: return effectiveWindow
        case .newEdge, .unknownIdentity, .cloneSuspected: return Self.defaultEventResolveAfter
        case .certificateExpiring, .sidecarStale, .policyOutOfSync: return 0
        }
    }
}

/// Bounds on the rule set (a bundle is operator input, but still bounded).
public struct AlertLimits: Sendable {
    /// At most 256 alert rules in a bundle.
    public var maxRules = 256
    /// `probing.distinct` at most 64: the per-identity target set is bounded by it.
    public static let maxDistinct = 64
    /// Windows and durations at most 1 day (the evaluator's state per identity spans at most one window).
    public static let maxDuration = 86_400
    /// `quarantineFor` at most 30 days.
    public static let maxQuarantine = 30 * 86_400
    public init() {}
}
