import Synchronization
import MeshNet

/// A token bucket per reason for the log lines a peer can cause (refusals, failed connections): a peer that
/// opens refused connections as fast as it can gets `burst` lines, then `perSecond`, and the rest are counted,
/// not written. Counters and the decisions ring are never limited, only the log. Time comes from the clock
/// passed in (the sidecar's), so tests drive it by hand. Reasons must come from a closed set (the map and the
/// `mesh_log_suppressed_total{reason}` label are bounded by it).
public final class LogRateLimiter: Sendable {
    public enum Admission: Equatable, Sendable {
        /// Write the line; `suppressedBefore` lines of this reason were held back since the last one written.
        case write(suppressedBefore: Int)
        case suppress
    }

    /// Tokens are kept in thousandths, so refilling is exact integer arithmetic: `perSecond` per millisecond.
    private struct Bucket {
        var milliTokens: Int64
        var lastMs: Int64
        /// Held back since the last line written for this reason.
        var pending = 0
        /// Held back since start (the metric).
        var total = 0
    }

    public let perSecond: Int
    public let burst: Int
    private let clock: any Clock
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(perSecond: Int, burst: Int, clock: any Clock) {
        self.perSecond = max(1, perSecond)
        self.burst = max(1, burst)
        self.clock = clock
    }

    /// Takes a token for `reason` if there is one.
    public func admit(_ reason: String) -> Admission {
        let now = clock.monotonicMs()
        return buckets.withLock { all in
            var b = refilled(all[reason], now: now)
            defer { all[reason] = b }
            guard b.milliTokens >= 1000 else {
                b.pending += 1
                b.total += 1
                return .suppress
            }
            b.milliTokens -= 1000
            let held = b.pending
            b.pending = 0
            return .write(suppressedBefore: held)
        }
    }

    /// The reasons whose held-back lines are not reported yet and that have a token again (the flood is over):
    /// the token is taken for the summary line the caller writes. Called on a timer, so the last count of a
    /// flood is reported even when no later line of that reason comes.
    public func drainPending() -> [(reason: String, suppressed: Int)] {
        let now = clock.monotonicMs()
        return buckets.withLock { all in
            var out: [(reason: String, suppressed: Int)] = []
            for reason in all.keys.sorted() {
                var b = refilled(all[reason], now: now)
                if b.pending > 0, b.milliTokens >= 1000 {
                    b.milliTokens -= 1000
                    out.append((reason, b.pending))
                    b.pending = 0
                }
                all[reason] = b
            }
            return out
        }
    }

    /// Lines held back since start, by reason.
    public func suppressedTotals() -> [String: Int] {
        buckets.withLock { $0.filter { $0.value.total > 0 }.mapValues(\.total) }
    }

    private func refilled(_ bucket: Bucket?, now: Int64) -> Bucket {
        let cap = Int64(burst) * 1000
        guard var b = bucket else { return Bucket(milliTokens: cap, lastMs: now) }
        let elapsed = max(0, now - b.lastMs)
        // Capped before multiplying: a quiet day cannot overflow.
        b.milliTokens = min(cap, b.milliTokens + min(elapsed, cap) * Int64(perSecond))
        b.lastMs = now
        return b
    }
}
