import Synchronization
import MeshCore
import MeshNet
// Re-exported: SidecarKit's public API (the runtime's log, the agents' log closures, the counters) is made of
// MeshObservability types, so every file here and every user of SidecarKit sees them.
@_exported import MeshObservability
import MeshTLS

/// The shared, thread-safe part of a running sidecar: configuration, the current state snapshot, counters
/// and the log. Each loop holds a reference; nothing here is touched per byte.
public final class SidecarRuntime: Sendable {
    public let config: SidecarConfig
    public let stats = SidecarStats()
    public let log: EventLog
    public let clock: any Clock
    private let current: Mutex<SidecarState>
    /// Set when a connection is refused: the telemetry reporter sends refusals within a second instead of at its
    /// interval, so the control plane's alerts see a probe at once (one relaxed store per refusal).
    public let refusalSeen = Atomic<Bool>(false)
    /// Limits of the request engine on `http` ports (the config's `http`, unless a test passes others).
    public let httpLimits: InboundHTTPLimits

    public init(config: SidecarConfig, state: SidecarState, log: EventLog, clock: any Clock = SystemClock(),
                httpLimits: InboundHTTPLimits? = nil) {
        self.config = config
        self.httpLimits = httpLimits ?? InboundHTTPLimits(config.http)
        self.log = log
        self.clock = clock
        current = Mutex(state)
    }

    /// The snapshot new connections use.
    public var state: SidecarState { current.withLock { $0 } }

    /// Swaps in a new snapshot; established connections keep the one they started with.
    public func swap(_ new: SidecarState) { current.withLock { $0 = new } }

    /// Builds the next snapshot from the current one and swaps it in, atomically with respect to other
    /// updates (a reload and a policy update cannot undo each other).
    public func update(_ next: (SidecarState) throws -> SidecarState) rethrows -> SidecarState {
        try current.withLock { s in
            s = try next(s)
            return s
        }
    }

    /// Takes a connection slot; false when `maxConnections` are open.
    func admit() -> Bool {
        let n = stats.open.add(1, ordering: .relaxed).newValue
        if n > config.limits.maxConnections {
            stats.open.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() { stats.open.subtract(1, ordering: .relaxed) }
}
