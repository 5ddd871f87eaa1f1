import Synchronization
import MeshCore

/// What the simulated sidecars did, shared by all loops. Touched once per request or answer (never per byte),
/// so plain atomics and one small lock are cheap enough.
final class SimStats: Sendable {
    let connected = Atomic<Int>(0)
    let reconnects = Atomic<Int>(0)
    let pollsSent = Atomic<Int>(0)
    /// Polls answered with a slice (200) and with "nothing new" (304).
    let pollsAnswered = Atomic<Int>(0)
    let pollsUnchanged = Atomic<Int>(0)
    let reportsSent = Atomic<Int>(0)
    let reportsAccepted = Atomic<Int>(0)
    let reportsDuplicate = Atomic<Int>(0)
    /// 404: the control plane has no telemetry route yet (counted, not an error).
    let reportsRouteMissing = Atomic<Int>(0)
    let reportsRefused = Atomic<Int>(0)
    let renewals = Atomic<Int>(0)
    let renewalsRefused = Atomic<Int>(0)
    /// Sidecars that applied the propagation phase's version, and when (ms after the apply), by sidecar.
    private let propagation = Mutex<[Int: Double]>([:])
    private let errorCounts = Mutex<[String: Int]>([:])
    /// Renewals of the storm (ms after it started), by sidecar; and when it started (monotonic ns, 0: none).
    private let storm = Mutex<[Int: Double]>([:])
    let stormAtNs = Atomic<Int64>(0)

    /// The version the propagation phase waits for (0: none yet) and when it was applied (monotonic ns).
    let targetVersion = Atomic<Int>(0)
    let appliedAtNs = Atomic<Int64>(0)

    /// Counts one error by its code (an API error body's code, or the tool's own `sim.connection` detail).
    func error(_ code: String) {
        errorCounts.withLock { $0[code, default: 0] += 1 }
    }

    var errors: [String: Int] { errorCounts.withLock { $0 } }

    /// Sidecar `index` was answered with `version` at `nowNs`: counts towards propagation once.
    func applied(index: Int, version: Int, nowNs: Int64) {
        let target = targetVersion.load(ordering: .acquiring)
        guard target > 0, version >= target else { return }
        let ms = Double(nowNs - appliedAtNs.load(ordering: .acquiring)) / 1e6
        propagation.withLock { if $0[index] == nil { $0[index] = ms } }
    }

    var propagated: [Double] { propagation.withLock { Array($0.values) } }

    /// Sidecar `index` renewed after the storm started.
    func stormRenewed(index: Int, nowNs: Int64) {
        let ms = Double(nowNs - stormAtNs.load(ordering: .acquiring)) / 1e6
        storm.withLock { if $0[index] == nil { $0[index] = ms } }
    }

    var stormRenewals: [Double] { storm.withLock { Array($0.values) } }

    /// The reconnect-only storm: when each sidecar was connected again (ms after the storm), and how many of
    /// those handshakes resumed a TLS session.
    private let reconnected = Mutex<[Int: Double]>([:])
    let stormResumed = Atomic<Int>(0)

    func stormReconnected(index: Int, nowNs: Int64, resumed: Bool) {
        let ms = Double(nowNs - stormAtNs.load(ordering: .acquiring)) / 1e6
        let first = reconnected.withLock { r -> Bool in
            guard r[index] == nil else { return false }
            r[index] = ms
            return true
        }
        if first && resumed { stormResumed.add(1, ordering: .relaxed) }
    }

    var stormReconnects: [Double] { reconnected.withLock { Array($0.values) } }
}

/// p50/p90/p99/max of a sample (nearest rank), or nil when it is empty.
struct Percentiles: Equatable {
    var p50, p90, p99, max: Double

    init?(_ sample: [Double]) {
        guard !sample.isEmpty else { return nil }
        let s = sample.sorted()
        func rank(_ p: Double) -> Double { s[Swift.max(0, Swift.min(s.count - 1, Int((Double(s.count) * p).rounded(.up)) - 1))] }
        p50 = rank(0.5); p90 = rank(0.9); p99 = rank(0.99); max = s[s.count - 1]
    }
}
