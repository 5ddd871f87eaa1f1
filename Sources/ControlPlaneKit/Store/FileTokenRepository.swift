import MeshNet
import Synchronization
import MeshCore

/// Join tokens in `DIR/tokens.json` (hashes only), rewritten whole and durably on every change. This process is
/// the only writer, so one lock around check and write makes `consume` atomic.
public final class FileTokenRepository: TokenRepository {
    let path: String
    private let tokens: Mutex<[JoinToken]>
    /// How long a used or expired token is kept (so "used" can still be told apart from "unknown").
    static let keepDeadSeconds = 86_400.0

    public init(dataDir: String) throws {
        path = "\(dataDir)/tokens.json"
        var list: [JoinToken] = []
        if DurableFile.exists(path) {
            let doc = try StrictJSON.parse(try DurableFile.read(path))
            for t in doc["tokens"]?.arrayValue ?? [] {
                guard let hash = t["hash"]?.stringValue, let id = t["identity"]?.stringValue,
                      let exp = t["expiresAt"]?.intValue else { throw MeshError(.tokensCorrupt, "\(path): a token lacks fields") }
                list.append(JoinToken(hash: hash, identity: try SPIFFEID.workload(id), expiresAt: Double(exp),
                                      usedAt: t["usedAt"]?.intValue.map(Double.init), createdBy: t["createdBy"]?.stringValue ?? "?"))
            }
        }
        tokens = Mutex(list)
    }

    public func add(_ token: JoinToken, now: Double) throws {
        try tokens.withLock { (list) throws in
            var next = list.filter { ($0.usedAt == nil && $0.expiresAt > now) || now - ($0.usedAt ?? $0.expiresAt) < Self.keepDeadSeconds }
            next.append(token)
            try persist(next)
            list = next
        }
    }

    public func consume(hash: String, now: Double, admit: (SPIFFEID) throws -> Void) throws -> SPIFFEID {
        try tokens.withLock { (list) throws -> SPIFFEID in
            guard let i = list.firstIndex(where: { JoinTokenSecret.constantTimeEqual($0.hash, hash) }) else {
                throw MeshError(.tokenUnknown, "the join token is not known to this control plane")
            }
            if list[i].usedAt != nil { throw MeshError(.tokenUsed, "the join token was already used; create a new one") }
            if list[i].expiresAt <= now { throw MeshError(.tokenExpired, "the join token expired; create a new one") }
            try admit(list[i].identity)
            var next = list
            next[i].usedAt = now
            try persist(next)
            list = next
            return next[i].identity
        }
    }

    private func persist(_ list: [JoinToken]) throws {
        let doc = JSONValue.object([("tokens", .array(list.map { t in
            .object([("hash", .string(t.hash)), ("identity", .string(t.identity.description)), ("expiresAt", .int(Int(t.expiresAt))),
                     ("usedAt", t.usedAt.map { .int(Int($0)) } ?? .null), ("createdBy", .string(t.createdBy))])
        }))])
        try DurableFile.write(path, Array((doc.text + "\n").utf8), mode: 0o600)
    }
}
