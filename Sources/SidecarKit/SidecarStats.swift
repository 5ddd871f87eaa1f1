import Synchronization
import MeshCore
import MeshTLS

/// Direction of a proxied connection, as seen from this sidecar.
public enum Direction: String, Sendable {
    case inbound, outbound
}

/// Process-wide counters. Updated once per connection event (accept, decision, teardown), never per byte:
/// byte counts are added up in the connection and folded in when it ends.
public final class SidecarStats: Sendable {
    public let inboundAccepted = Atomic<Int>(0)
    public let outboundAccepted = Atomic<Int>(0)
    public let inboundActive = Atomic<Int>(0)
    public let outboundActive = Atomic<Int>(0)
    public let inboundBytesIn = Atomic<Int>(0)   // from the remote sidecar towards our app
    public let inboundBytesOut = Atomic<Int>(0)
    public let outboundBytesIn = Atomic<Int>(0)  // from our app towards the remote sidecar
    public let outboundBytesOut = Atomic<Int>(0)
    public let handshakesCompleted = Atomic<Int>(0)
    public let handshakesResumed = Atomic<Int>(0)
    /// Connections currently open (both directions); checked against `maxConnections`.
    public let open = Atomic<Int>(0)
    /// Refusals and failures by stable reason (`identity-not-allowed`, `cert-expired`, …). Reasons are a
    /// closed set, so the map is bounded.
    private let reasons = Mutex<[String: Int]>([:])
    /// Allow decisions by rule.
    private let allowedByRule = Mutex<[String: Int]>([:])

    public init() {}

    public func count(reason: String) {
        reasons.withLock { $0[reason, default: 0] += 1 }
    }

    public func count(allowedBy rule: String) {
        allowedByRule.withLock { $0[rule, default: 0] += 1 }
    }

    public func reasonCounts() -> [String: Int] { reasons.withLock { $0 } }
    public func allowCounts() -> [String: Int] { allowedByRule.withLock { $0 } }
}
