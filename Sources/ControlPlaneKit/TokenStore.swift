#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshNet
import MeshTLS

/// Join tokens: single-use, bound to one workload identity, with an expiry. Only their SHA-256 is stored
/// (`DIR/tokens.json`), so a copy of the data directory cannot be used to join.
public final class TokenStore: Sendable {
    public struct Token: Sendable {
        public let hash: String
        public let identity: SPIFFEID
        public let expiresAt: Double
        public var usedAt: Double?
        public let createdBy: String
    }

    let path: String
    private let tokens: Mutex<[Token]>

    public init(dataDir: String) throws {
        path = "\(dataDir)/tokens.json"
        var list: [Token] = []
        if DurableFile.exists(path) {
            let doc = try StrictJSON.parse(try DurableFile.read(path))
            for t in doc["tokens"]?.arrayValue ?? [] {
                guard let hash = t["hash"]?.stringValue, let id = t["identity"]?.stringValue,
                      let exp = t["expiresAt"]?.intValue else { throw MeshError("tokens.corrupt", "\(path): a token lacks fields") }
                list.append(Token(hash: hash, identity: try SPIFFEID.workload(id), expiresAt: Double(exp),
                                  usedAt: t["usedAt"]?.intValue.map(Double.init), createdBy: t["createdBy"]?.stringValue ?? "?"))
            }
        }
        tokens = Mutex(list)
    }

    /// A new token for `identity`, valid for `ttl` seconds. The secret is returned once and never stored.
    public func create(identity: SPIFFEID, ttl: Double, now: Double, createdBy: String) throws -> (secret: String, expiresAt: Double) {
        var raw = [UInt8](repeating: 0, count: 32)
        guard Random.fill(&raw) else { throw MeshError("tokens.random", "no randomness available") }
        let secret = "mjt_" + raw.map { String(format2hex: $0) }.joined()
        let token = Token(hash: SHA256.hex(Array(secret.utf8)), identity: identity, expiresAt: now + ttl, usedAt: nil, createdBy: createdBy)
        try tokens.withLock { (list) throws in
            var next = list.filter { ($0.usedAt == nil && $0.expiresAt > now) || now - ($0.usedAt ?? $0.expiresAt) < 86_400 }
            next.append(token)
            try persist(next)
            list = next
        }
        return (secret, token.expiresAt)
    }

    /// Spends `secret`: returns the identity it is bound to, or why not. `beforeSpending` runs with the
    /// identity before the token is marked used (a rate limit that refuses must not burn the token). Marks it
    /// used durably before returning.
    public func redeem(_ secret: String, now: Double, beforeSpending: (SPIFFEID) throws -> Void = { _ in }) throws -> SPIFFEID {
        let hash = SHA256.hex(Array(secret.utf8))
        return try tokens.withLock { (list) throws -> SPIFFEID in
            guard let i = list.firstIndex(where: { Self.constantTimeEqual($0.hash, hash) }) else {
                throw MeshError("token.unknown", "the join token is not known to this control plane")
            }
            if list[i].usedAt != nil { throw MeshError("token.used", "the join token was already used; create a new one") }
            if list[i].expiresAt <= now { throw MeshError("token.expired", "the join token expired; create a new one") }
            try beforeSpending(list[i].identity)
            var next = list
            next[i].usedAt = now
            try persist(next)
            list = next
            return next[i].identity
        }
    }

    private func persist(_ list: [Token]) throws {
        let doc = JSONValue.object([("tokens", .array(list.map { t in
            .object([("hash", .string(t.hash)), ("identity", .string(t.identity.description)), ("expiresAt", .int(Int(t.expiresAt))),
                     ("usedAt", t.usedAt.map { .int(Int($0)) } ?? .null), ("createdBy", .string(t.createdBy))])
        }))])
        try DurableFile.write(path, Array((doc.text + "\n").utf8), mode: 0o600)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var d: UInt8 = 0
        for i in 0..<x.count { d |= x[i] ^ y[i] }
        return d == 0
    }
}

/// Randomness for secrets (OpenSSL's CSPRNG).
public enum Random {
    public static func fill(_ bytes: inout [UInt8]) -> Bool {
        guard let b = SecureRandom.bytes(bytes.count) else { return false }
        bytes = b
        return true
    }

    public static func hex(_ count: Int) -> String? {
        SecureRandom.bytes(count).map { $0.map { String(format2hex: $0) }.joined() }
    }
}

extension String {
    init(format2hex byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
