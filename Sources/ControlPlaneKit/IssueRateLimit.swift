import Synchronization
import MeshCore

/// Issuances per identity in a sliding minute. In memory on purpose: it protects the CA from a looping sidecar,
/// not an account balance, so a restart may forget it (and each replica counts its own).
final class IssueRateLimit: Sendable {
    let perMinute: Int
    /// The sliding window the limit counts over.
    static let windowSeconds = 60.0
    private let recent = Mutex<[SPIFFEID: [Double]]>([:])

    init(perMinute: Int) { self.perMinute = perMinute }

    /// Counts one issuance for `id` at `now`, or throws `issue.rate-limited` (and counts nothing).
    func admit(_ id: SPIFFEID, now: Double) throws {
        let limit = perMinute
        try recent.withLock { (m) throws in
            var times = (m[id] ?? []).filter { now - $0 < Self.windowSeconds }
            if times.count >= limit {
                throw MeshError(.issueRateLimited, "\(id) was issued \(times.count) certificates in the last minute (limit \(limit))")
            }
            times.append(now)
            m[id] = times
        }
    }
}
