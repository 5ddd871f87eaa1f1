/// MeshControlClient is how everything outside the control plane talks to it: the sidecar's identity and
/// policy agents and meshctl. It knows the addresses, the TLS context and the server identity to expect,
/// speaks the `MeshAPI` wire types, turns error bodies into `MeshError`s, and retries with exponential
/// back-off and full jitter so that sidecars coming back from an outage do not all call at the same moment.

/// When to retry a failed call: exponential back-off with full jitter.
///
/// Retry `n` (1-based) waits a delay drawn uniformly from `[floor, min(cap, floor · 2ⁿ)]`, so the window
/// doubles (1–2 s, 1–4 s, 1–8 s, 1–16 s, then 1–30 s) and the draw covers the whole window — not a few percent
/// around a fixed step, which would keep a fleet of sidecars in lock-step after an outage. The floor keeps a
/// failing caller from hammering the control plane; a caller may lower the cap for one call (the identity
/// agent: a sixth of its certificate's life, so a short-lived certificate is retried often enough to renew
/// before it expires), never below the floor's meaning: a cap under the floor is the delay itself.
///
/// Caps in use: identity and policy agents 1…30 s (identity also ≤ life/6, at least 1 s); the policy agent's
/// first slice 1…15 s (the sidecar serves nothing until it has one).
public struct RetryPolicy: Sendable, Equatable {
    /// The shortest delay, in seconds.
    public var floor: Double
    /// The longest delay, in seconds.
    public var cap: Double

    public init(floor: Double = 1, cap: Double = 30) {
        precondition(floor > 0 && cap >= floor, "retry policy needs 0 < floor <= cap")
        self.floor = floor
        self.cap = cap
    }

    /// 1 s … 30 s.
    public static let standard = RetryPolicy()

    /// The top of retry `attempt`'s window: `min(cap, floor · 2^attempt)`, lowered to `cap` when given.
    public func ceiling(attempt: Int, cap: Double? = nil) -> Double {
        let limit = Swift.min(self.cap, cap ?? self.cap)
        let grown = floor * Double(1 << Swift.min(Swift.max(attempt, 0), 30))
        return Swift.min(limit, grown)
    }

    /// A delay for retry `attempt`, drawn uniformly from `[floor, ceiling]` with `random`.
    public func delay(attempt: Int, cap: Double? = nil, using random: inout some RandomNumberGenerator) -> Double {
        let hi = ceiling(attempt: attempt, cap: cap)
        let lo = Swift.min(floor, hi)
        return hi > lo ? Double.random(in: lo...hi, using: &random) : hi
    }
}

/// The retry state of one loop: how many calls in a row failed, and the randomness for the next draw.
/// A loop owns its `Backoff` (it is not shared between threads).
public struct Backoff<Random: RandomNumberGenerator> {
    public let policy: RetryPolicy
    /// Failures in a row; 0 after a success.
    public private(set) var attempt = 0
    private var random: Random

    public init(policy: RetryPolicy = .standard, random: Random) {
        self.policy = policy
        self.random = random
    }

    /// Counts a failure and draws the delay before the next try.
    public mutating func failed(cap: Double? = nil) -> Double {
        attempt += 1
        return policy.delay(attempt: attempt, cap: cap, using: &random)
    }

    /// A success: the next failure starts from the smallest window again.
    public mutating func succeeded() { attempt = 0 }

    /// Calls `body` until it returns, an error is `final` (rethrown), or `sleep` answers false (stopped: nil).
    /// `sleep` is given each delay in seconds and does the waiting, so tests control time; `retrying` is told
    /// of each failure (attempt, error, delay) before the sleep.
    public mutating func run<T>(cap: Double? = nil, sleep: (Double) -> Bool, final: (any Error) -> Bool = { _ in false },
                                retrying: (Int, any Error, Double) -> Void = { _, _, _ in },
                                _ body: () throws -> T) throws -> T? {
        while true {
            do {
                let value = try body()
                succeeded()
                return value
            } catch {
                if final(error) { throw error }
                let delay = failed(cap: cap)
                retrying(attempt, error, delay)
                if !sleep(delay) { return nil }
            }
        }
    }
}
