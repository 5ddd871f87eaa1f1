import MeshCore

/// One event loop's token buckets for rate-limited callers, keyed by (caller identity, allow rule). Touched only
/// on its loop's thread, so no lock and no atomic on the accept path: the effective limit of a rule is per loop
/// (a sidecar with L loops admits up to L × the rate when a caller's connections spread over every loop;
/// documented in the README). Bounded: at most `cap` callers (default 10,000 per loop); when full, the least
/// recently seen caller is evicted (it starts again with a full bucket, so eviction can only be generous, never
/// refuse anyone). One hash probe and a few float operations per new connection, no allocation once warm.
public struct CallerBuckets {
    public struct Key: Hashable, Sendable {
        public let identity: SPIFFEID
        public let rule: String
        public init(identity: SPIFFEID, rule: String) {
            self.identity = identity
            self.rule = rule
        }
    }

    /// Default number of callers tracked per loop.
    public static let defaultCap = 10_000

    public let cap: Int
    /// Callers evicted to make room since start.
    public private(set) var evictions = 0
    private var index: [Key: Int] = [:]
    // An LRU list threaded through parallel arrays (slot numbers, -1 for none): `head` is the most recent.
    private var keys: [Key] = []
    private var buckets: [TokenBucket] = []
    private var prev: [Int] = []
    private var next: [Int] = []
    private var head = -1
    private var tail = -1

    public init(cap: Int = CallerBuckets.defaultCap) {
        precondition(cap >= 1)
        self.cap = cap
    }

    public var count: Int { index.count }

    /// Takes one token from `key`'s bucket under `limit` at `now` (seconds, monotonic); false: over the rate.
    public mutating func admit(_ key: Key, limit: RateLimit, now: Double) -> Bool {
        if let slot = index[key] {
            touch(slot)
            return buckets[slot].take(limit, now: now)
        }
        let slot: Int
        if index.count < cap {
            slot = keys.count
            keys.append(key)
            buckets.append(TokenBucket(full: limit, now: now))
            prev.append(-1)
            next.append(-1)
        } else {
            slot = tail
            unlink(slot)
            index[keys[slot]] = nil
            evictions += 1
            keys[slot] = key
            buckets[slot] = TokenBucket(full: limit, now: now)
        }
        index[key] = slot
        pushFront(slot)
        return buckets[slot].take(limit, now: now)
    }

    /// True when `key` is tracked (tests).
    public func tracks(_ key: Key) -> Bool { index[key] != nil }

    private mutating func touch(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        pushFront(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let p = prev[slot], n = next[slot]
        if p >= 0 { next[p] = n } else { head = n }
        if n >= 0 { prev[n] = p } else { tail = p }
        prev[slot] = -1
        next[slot] = -1
    }

    private mutating func pushFront(_ slot: Int) {
        prev[slot] = -1
        next[slot] = head
        if head >= 0 { prev[head] = slot }
        head = slot
        if tail < 0 { tail = slot }
    }
}
