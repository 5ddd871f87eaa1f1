import MeshCore
import MeshTLS

/// A join token as stored: only the SHA-256 of its secret, the identity it is bound to, its expiry, and when it
/// was used (once).
public struct JoinToken: Sendable, Equatable {
    public let hash: String
    public let identity: SPIFFEID
    public let expiresAt: Double
    public var usedAt: Double?
    public let createdBy: String

    public init(hash: String, identity: SPIFFEID, expiresAt: Double, usedAt: Double? = nil, createdBy: String) {
        self.hash = hash
        self.identity = identity
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.createdBy = createdBy
    }
}

/// Where join tokens are kept.
///
/// Contract:
/// - `add` stores a new token; durable before it returns. It may drop tokens that have been used or expired for
///   more than a day (housekeeping).
/// - `consume` is the only way to spend a token and is atomic: it finds the token by hash, refuses it when
///   unknown (`token.unknown`), used (`token.used`) or expired at `now` (`token.expired`), then calls `admit` with
///   the bound identity, and only if `admit` does not throw marks the token used, durably, before returning.
///   Of any number of concurrent consumers of one token, at most one succeeds. A refusal changes nothing.
public protocol TokenRepository: Sendable {
    func add(_ token: JoinToken, now: Double) throws
    func consume(hash: String, now: Double, admit: (SPIFFEID) throws -> Void) throws -> SPIFFEID
}

extension TokenRepository {
    /// A new token for `identity`, valid for `ttl` seconds. The secret is returned once and never stored.
    public func create(identity: SPIFFEID, ttl: Double, now: Double, createdBy: String) throws -> (secret: String, expiresAt: Double) {
        let secret = try JoinTokenSecret.generate()
        let token = JoinToken(hash: JoinTokenSecret.hash(secret), identity: identity, expiresAt: now + ttl, createdBy: createdBy)
        try add(token, now: now)
        return (secret, token.expiresAt)
    }

    /// Spends `secret`: the identity it is bound to, or why not. `beforeSpending` runs before the token is
    /// marked used (a rate limit that refuses must not burn the token).
    public func redeem(_ secret: String, now: Double, beforeSpending: (SPIFFEID) throws -> Void = { _ in }) throws -> SPIFFEID {
        try consume(hash: JoinTokenSecret.hash(secret), now: now, admit: beforeSpending)
    }
}

/// Join-token secrets: `mjt_` and 64 hex digits from the CSPRNG. Only their hash leaves this type, so a copy of
/// the store cannot be used to join.
public enum JoinTokenSecret {
    public static func generate() throws -> String {
        guard let hex = Random.hex(32) else { throw MeshError(.tokensRandom, "no randomness available") }
        return "mjt_" + hex
    }

    public static func hash(_ secret: String) -> String { SHA256.hex(Array(secret.utf8)) }

    /// Compares two hashes without an early exit, so timing does not tell how much of a guess matched.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var d: UInt8 = 0
        for i in 0..<x.count { d |= x[i] ^ y[i] }
        return d == 0
    }
}
