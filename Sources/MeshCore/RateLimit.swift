/// A rate of new connections: `connectionsPerSecond` refill, `burst` tokens at most. Shared by a policy rule's
/// `rateLimit`, the control plane's throttles and the sidecar's token buckets.
public struct RateLimit: Sendable, Equatable, Hashable {
    /// Highest rate a rule or throttle may name (connections per second).
    public static let maxPerSecond: Double = 100_000
    /// Largest burst (tokens).
    public static let maxBurst: Double = 1_000_000

    public let connectionsPerSecond: Double
    public let burst: Double

    /// `burst` defaults to `max(1, connectionsPerSecond)`: one second's worth, at least one connection.
    public init(connectionsPerSecond: Double, burst: Double? = nil) {
        self.connectionsPerSecond = connectionsPerSecond
        self.burst = burst ?? max(1, connectionsPerSecond)
    }

    /// The problem with this limit, nil when it is valid: rate in (0, 100000], burst in [1, 1000000].
    public var problem: String? {
        guard connectionsPerSecond.isFinite, connectionsPerSecond > 0, connectionsPerSecond <= Self.maxPerSecond else {
            return "connectionsPerSecond must be > 0 and at most 100000"
        }
        guard burst.isFinite, burst >= 1, burst <= Self.maxBurst else { return "burst must be between 1 and 1000000" }
        return nil
    }

    /// The tighter of two limits (lower rate, and the lower burst).
    public func tighter(_ other: RateLimit?) -> RateLimit {
        guard let other else { return self }
        return RateLimit(connectionsPerSecond: min(connectionsPerSecond, other.connectionsPerSecond), burst: min(burst, other.burst))
    }
}

/// A token bucket on a caller-supplied clock (seconds, any origin, never read here): starts full, refills at
/// the limit's rate up to its burst, and each admitted connection takes one token. A few float operations and
/// no allocation per check, so it can sit on the accept path.
public struct TokenBucket: Sendable, Equatable {
    public private(set) var tokens: Double
    public private(set) var last: Double

    public init(full limit: RateLimit, now: Double) {
        tokens = limit.burst
        last = now
    }

    /// Refills for the time since the last call, then takes one token if there is one. A clock that goes back
    /// refills nothing (it never mints tokens).
    @inline(__always)
    public mutating func take(_ limit: RateLimit, now: Double) -> Bool {
        if now > last {
            tokens = min(limit.burst, tokens + (now - last) * limit.connectionsPerSecond)
            last = now
        }
        // A tightened limit applies at once: never more tokens than its burst.
        if tokens > limit.burst { tokens = limit.burst }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

extension JSONNode {
    /// A finite number (integer or decimal) inside `range` (`config.out-of-range`).
    public func double(in range: ClosedRange<Double>) throws(MeshError) -> Double {
        guard case .number(let text) = value else {
            throw error(.configWrongType, "expected a number, found \(value.kindDescription)")
        }
        guard let number = Double(text), number.isFinite, range.contains(number) else {
            throw error(.configOutOfRange, "\(text) is outside the allowed range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }
}
