import MeshCore
import MeshTLS

/// A bounded cache of verified tokens, so a client that sends the same token on every request pays the
/// signature check once. A hit is re-checked against the issuer as it is now: the key its `kid` selects must
/// still be the very key object that verified it (a rotation invalidates it), the algorithm still allowed, and
/// `iss`/`aud`/`exp`/`nbf`/`iat` checked again at `now`. Failures are never cached. At most `capacity` entries,
/// the oldest evicted first. Not thread-safe: one per event loop.
public struct VerifiedTokenCache {
    public let capacity: Int
    private var entries: [String: (token: VerifiedToken, key: JOSEPublicKey)] = [:]
    private var order: [String] = []
    private var next = 0

    public init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { entries.count }

    /// Same answer as `JWTVerifier.verify`, from the cache when the token was verified before.
    public mutating func verify(_ token: String, issuer: Issuer, now: Double) -> Result<VerifiedToken, MeshError> {
        let cacheKey = issuer.issuer + "\u{0}" + token
        if let hit = entries[cacheKey], let jwk = issuer.keys[hit.token.kid], jwk.key === hit.key,
           issuer.allowedAlgorithms.contains(hit.token.algorithm) {
            do throws(MeshError) {
                _ = try JWTVerifier.checkClaims(hit.token.claims, issuer: issuer, now: now)
                return .success(hit.token)
            } catch { return .failure(error) }
        }
        let result = JWTVerifier.verify(token, issuer: issuer, now: now)
        if case .success(let verified) = result, let key = issuer.keys[verified.kid]?.key {
            insert(cacheKey, (verified, key))
        }
        return result
    }

    private mutating func insert(_ cacheKey: String, _ entry: (token: VerifiedToken, key: JOSEPublicKey)) {
        if entries.updateValue(entry, forKey: cacheKey) != nil { return }
        if order.count < capacity {
            order.append(cacheKey)
        } else {
            entries[order[next]] = nil
            order[next] = cacheKey
            next = (next + 1) % capacity
        }
    }
}
