import MeshCore
import MeshEtcd

/// Join tokens in etcd, one key per token: `tokens/<sha256 of the secret>` → {identity, expiresAt, usedAt,
/// createdBy}. Nothing is cached: every consume reads the key and spends it with a transaction on the mod
/// revision it read, so of any number of consumers at any replicas exactly one wins; a loser re-reads and is
/// told `token.used`. A used or expired token is kept a day (as in the file store), then dropped by `add`'s
/// housekeeping (at most `sweepLimit` keys looked at per call, so a large store never makes `add` slow).
public final class EtcdTokenRepository: TokenRepository {
    let store: EtcdStore
    /// How long a used or expired token is kept (so "used" can still be told apart from "unknown").
    static let keepDeadSeconds = 86_400.0
    /// Keys looked at by one housekeeping pass (default 200).
    let sweepLimit: Int

    public init(store: EtcdStore, sweepLimit: Int = 200) {
        self.store = store
        self.sweepLimit = sweepLimit
    }

    static func key(_ hash: String) -> String { "tokens/\(hash)" }

    public func add(_ token: JoinToken, now: Double) throws {
        let k = store.key(Self.key(token.hash))
        let r = try store.kv.txn([.createRevision(k, equals: 0)], success: [.put(k, Self.encode(token), lease: 0)], failure: [])
        guard r.succeeded else { throw MeshError(.tokensCorrupt, "a token with this hash already exists") }
        try? sweep(now: now)
    }

    public func consume(hash: String, now: Double, admit: (SPIFFEID) throws -> Void) throws -> SPIFFEID {
        guard hash.utf8.count == 64, hash.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            throw MeshError(.tokenUnknown, "the join token is not known to this control plane")
        }
        let k = store.key(Self.key(hash))
        guard let kv = try store.kv.get(k) else {
            throw MeshError(.tokenUnknown, "the join token is not known to this control plane")
        }
        var token = try Self.decode(kv.value, hash: hash)
        if token.usedAt != nil { throw MeshError(.tokenUsed, "the join token was already used; create a new one") }
        if token.expiresAt <= now { throw MeshError(.tokenExpired, "the join token expired; create a new one") }
        try admit(token.identity)
        token.usedAt = now
        let r = try store.kv.txn([.modRevision(k, equals: kv.modRevision)], success: [.put(k, Self.encode(token), lease: 0)], failure: [])
        guard r.succeeded else { throw MeshError(.tokenUsed, "the join token was already used; create a new one") }
        return token.identity
    }

    /// Drops up to `sweepLimit` tokens dead for more than a day, each only if unchanged since read.
    func sweep(now: Double) throws {
        let page = try store.kv.range(prefix: store.key("tokens/"), after: nil, limit: sweepLimit)
        for kv in page.kvs {
            guard let t = try? Self.decode(kv.value, hash: ""), t.usedAt != nil || t.expiresAt <= now,
                  now - (t.usedAt ?? t.expiresAt) >= Self.keepDeadSeconds else { continue }
            _ = try store.kv.txn([.modRevision(kv.key, equals: kv.modRevision)], success: [.delete(kv.key)], failure: [])
        }
    }

    /// Every token (migration).
    func all() throws -> [JoinToken] {
        try store.readAll("tokens/").kvs.map { kv in
            let hash = String(String(decoding: kv.key, as: UTF8.self).split(separator: "/").last ?? "")
            return try Self.decode(kv.value, hash: hash)
        }
    }

    static func encode(_ t: JoinToken) -> [UInt8] {
        Array(JSONValue.object([("identity", .string(t.identity.description)), ("expiresAt", .int(Int(t.expiresAt))),
                                ("usedAt", t.usedAt.map { .int(Int($0)) } ?? .null), ("createdBy", .string(t.createdBy))]).text.utf8)
    }

    static func decode(_ bytes: [UInt8], hash: String) throws -> JoinToken {
        let t = try StrictJSON.parse(bytes)
        guard let id = t["identity"]?.stringValue, let exp = t["expiresAt"]?.intValue else {
            throw MeshError(.tokensCorrupt, "etcd token \(hash): lacks identity or expiresAt")
        }
        return JoinToken(hash: hash, identity: try SPIFFEID.workload(id), expiresAt: Double(exp),
                         usedAt: t["usedAt"]?.intValue.map(Double.init), createdBy: t["createdBy"]?.stringValue ?? "?")
    }
}
