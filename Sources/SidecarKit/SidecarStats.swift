import Synchronization
import MeshCore
import MeshObservability
import MeshTLS

/// Direction of a proxied connection, as seen from this sidecar.
public enum Direction: String, Sendable, CaseIterable {
    case inbound, outbound
}

/// Counters of one direction. Updated once per connection event (accept, handshake, decision, teardown),
/// never per byte: byte counts are added up in the connection and folded in when it ends.
public final class DirectionStats: Sendable {
    public let opened = Atomic<Int>(0)
    public let closed = Atomic<Int>(0)
    public let active = Atomic<Int>(0)
    /// Bytes from the accepted side towards the dialled side, and back.
    public let bytesFromDownstream = Atomic<Int>(0)
    public let bytesFromUpstream = Atomic<Int>(0)
    public let handshakes = Atomic<Int>(0)
    public let handshakesResumed = Atomic<Int>(0)
    public let handshakeSeconds = Histogram.handshake()
    public let connectionSeconds = Histogram.duration()
    init() {}
}

/// Process-wide counters and the recent-decisions ring.
public final class SidecarStats: Sendable {
    public let inbound = DirectionStats()
    public let outbound = DirectionStats()
    /// Connections currently open (both directions); checked against `maxConnections`.
    public let open = Atomic<Int>(0)
    public let reloadsOK = Atomic<Int>(0)
    public let reloadsFailed = Atomic<Int>(0)
    /// Stats-endpoint requests refused for their `Host` header (DNS rebinding).
    public let adminRefusedBadHost = Atomic<Int>(0)
    /// Telemetry: edge keys in the loops' live tables (moved only when a key is added or a table taken).
    public let telemetryLiveEdges = Atomic<Int>(0)
    public let decisions = DecisionLog()
    /// Per (outbound listener, endpoint): in flight, uses, failures, ejections (`Endpoints/EndpointStats.swift`).
    public let endpoints = EndpointStatsTable()
    /// Per-request counters of `http` ports (L7).
    public let requests = RequestStats()
    /// Pooled hops of `http` outbound listeners.
    public let pool = PoolStats()
    /// Failures and refusals by direction and stable reason. Reasons are a closed set, so the map is bounded.
    private let reasons = Mutex<[FailureKey: Int]>([:])
    /// Authorization decisions by direction, verdict and rule. Rules come from configuration, so bounded.
    private let verdicts = Mutex<[DecisionKey: Int]>([:])

    public struct FailureKey: Hashable, Sendable {
        public let direction: Direction
        public let reason: CloseReason
    }

    public struct DecisionKey: Hashable, Sendable {
        public let direction: Direction
        public let allowed: Bool
        public let rule: String
    }

    public init() {}

    public func of(_ d: Direction) -> DirectionStats { d == .inbound ? inbound : outbound }

    public func count(failure reason: CloseReason, _ direction: Direction) {
        reasons.withLock { $0[FailureKey(direction: direction, reason: reason), default: 0] += 1 }
    }

    public func count(decision allowed: Bool, rule: String, _ direction: Direction) {
        verdicts.withLock { $0[DecisionKey(direction: direction, allowed: allowed, rule: rule), default: 0] += 1 }
    }

    /// Audit rules: what would have been decided, had they been enforced (never enforced).
    private let shadows = Mutex<[DecisionKey: Int]>([:])

    public func count(shadow: Verdict, _ direction: Direction) {
        shadows.withLock { $0[DecisionKey(direction: direction, allowed: shadow.isAllowed, rule: shadow.rule), default: 0] += 1 }
    }

    public func shadowCounts() -> [DecisionKey: Int] { shadows.withLock { $0 } }

    /// Inbound connections refused by a rate limit, by the allow rule that matched (rules come from configuration,
    /// so bounded). Touched on refusals only.
    private let rateLimited = Mutex<[String: Int]>([:])

    public func count(rateLimited rule: String) { rateLimited.withLock { $0[rule, default: 0] += 1 } }

    public func rateLimitedCounts() -> [String: Int] { rateLimited.withLock { $0 } }

    public func failureCounts() -> [FailureKey: Int] { reasons.withLock { $0 } }
    public func decisionCounts() -> [DecisionKey: Int] { verdicts.withLock { $0 } }
}
