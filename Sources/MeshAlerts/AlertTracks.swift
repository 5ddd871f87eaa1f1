/// Per-identity sliding-window state, bounded: at most `maxBuckets` refusal buckets and `AlertLimits.maxDistinct`
/// targets per identity, and entries older than the longest window are dropped as they are touched.
struct CallerTrack {
    /// Refusals per second of arrival, oldest first; when full the two oldest merge (the count is kept, its
    /// time rounds later: a window may count a few refusals slightly longer, never fewer).
    var refusals: [(t: Int, n: Int)] = []
    /// Refused destination/port pairs (`ns/name:port`) and when each was last refused.
    var targets: [String: Int] = [:]
    var firstSeen: Int
    var lastSeen: Int
    static let maxBuckets = 64

    init(now: Int) {
        firstSeen = now
        lastSeen = now
    }

    mutating func refuse(_ n: Int, target: String, now: Int, retain: Int) {
        lastSeen = now
        if let last = refusals.last, last.t == now {
            refusals[refusals.count - 1].n += n
        } else {
            if refusals.count >= Self.maxBuckets {
                refusals[1].n += refusals[0].n
                refusals.removeFirst()
            }
            refusals.append((now, n))
        }
        if targets[target] == nil, targets.count >= AlertLimits.maxDistinct {
            if let oldest = targets.min(by: { $0.value < $1.value }) { targets[oldest.key] = nil }
        }
        targets[target] = now
        expire(now: now, retain: retain)
    }

    mutating func expire(now: Int, retain: Int) {
        while let first = refusals.first, first.t <= now - retain { refusals.removeFirst() }
        if targets.count > 0, targets.values.contains(where: { $0 <= now - retain }) {
            targets = targets.filter { $0.value > now - retain }
        }
    }

    func refusals(within window: Int, now: Int) -> Int {
        var sum = 0
        for b in refusals.reversed() {
            if b.t <= now - window { break }
            sum += b.n
        }
        return sum
    }

    func targets(within window: Int, now: Int) -> [String] {
        targets.filter { $0.value > now - window }.keys.sorted()
    }
}

/// What the evaluator knows of a reporting identity (the report's source).
struct SourceTrack {
    var lastReport: Int
    var policyVersion: Int
    /// When its reported version first fell behind the applied one (nil: in sync, or static policy).
    var behindSince: Int?
}
