import MeshNet
import Synchronization
import MeshCore

/// Join tokens (hashes only) in `DIR/tokens.json` (a snapshot) plus `DIR/tokens.journal` (an `add` or `use`
/// line per change since, group-committed: `Journal`). Opening replays the journal (a torn last line is cut)
/// and compacts; so does a journal past `compactAbove`, dropping tokens used or expired more than a day ago.
///
/// This process is the only writer. `consume` checks and marks the token in flight under one lock; a second
/// consumer of it meanwhile is refused as `token.used` (at most one succeeds), and memory shows only durable
/// changes.
public final class FileTokenRepository: TokenRepository {
    let path: String
    let journal: Journal
    /// How long a used or expired token is kept (so "used" can still be told apart from "unknown").
    static let keepDeadSeconds = 86_400.0
    /// Default journal size that triggers a compaction into `tokens.json`: 8 MiB (about 30,000 tokens).
    public static let defaultCompactAbove = 8 << 20
    private let state: Locked<(tokens: [String: JoinToken], inFlight: Set<String>, now: Double)>

    public init(dataDir: String, compactAbove: Int = FileTokenRepository.defaultCompactAbove) throws {
        path = "\(dataDir)/tokens.json"
        var tokens: [String: JoinToken] = [:]
        if DurableFile.exists(path) {
            let doc = try StrictJSON.parse(try DurableFile.read(path, limit: 64 << 20), limits: StrictJSON.Limits(maxBytes: 64 << 20))
            for t in doc["tokens"]?.arrayValue ?? [] {
                let token = try Self.token(t, path)
                tokens[token.hash] = token
            }
        }
        journal = try Journal(path: "\(dataDir)/tokens.journal", compactAbove: compactAbove)
        var latest = 0.0
        for line in journal.linesAtOpen {
            guard let doc = try? StrictJSON.parse(line) else { throw MeshError(.tokensCorrupt, "\(journal.path): a line is not JSON") }
            if let t = doc["add"] {
                let token = try Self.token(t, journal.path)
                tokens[token.hash] = token
            } else if let hash = doc["use"]?.stringValue, let at = doc["usedAt"]?.intValue {
                tokens[hash]?.usedAt = Double(at)
                latest = max(latest, Double(at))
            } else {
                throw MeshError(.tokensCorrupt, "\(journal.path): a line is neither add nor use")
            }
        }
        let state = Locked((tokens: tokens, inFlight: Set<String>(), now: latest))
        self.state = state
        journal.onCompaction { [path] in
            let (list, now) = state.withLock { s in (Array(s.tokens.values), s.now) }
            let kept = list.filter { ($0.usedAt == nil && $0.expiresAt > now) || now - ($0.usedAt ?? $0.expiresAt) < Self.keepDeadSeconds }
            try Self.persist(kept.sorted { $0.hash < $1.hash }, path)
            let keep = Set(kept.map(\.hash))
            state.withLock { s in s.tokens = s.tokens.filter { keep.contains($0.key) || s.inFlight.contains($0.key) } }
        }
        if !journal.linesAtOpen.isEmpty { try journal.compact() }
    }

    /// Every token held (snapshot and journal), in no particular order: for `mesh-control migrate`.
    public func all() -> [JoinToken] { state.withLock { Array($0.tokens.values) } }

    public func add(_ token: JoinToken, now: Double) throws {
        state.withLock { $0.now = max($0.now, now) }
        let state = self.state
        try journal.append(Array(JSONValue.object([("add", Self.json(token))]).text.utf8)) {
            state.withLock { $0.tokens[token.hash] = token }
        }
    }

    public func consume(hash: String, now: Double, admit: (SPIFFEID) throws -> Void) throws -> SPIFFEID {
        let identity = try state.withLock { (s) throws -> SPIFFEID in
            s.now = max(s.now, now)
            guard let t = s.tokens[hash], JoinTokenSecret.constantTimeEqual(t.hash, hash) else {
                throw MeshError(.tokenUnknown, "the join token is not known to this control plane")
            }
            if t.usedAt != nil || s.inFlight.contains(hash) { throw MeshError(.tokenUsed, "the join token was already used; create a new one") }
            if t.expiresAt <= now { throw MeshError(.tokenExpired, "the join token expired; create a new one") }
            try admit(t.identity)
            s.inFlight.insert(hash)
            return t.identity
        }
        defer { _ = state.withLock { $0.inFlight.remove(hash) } }
        let state = self.state
        let line = JSONValue.object([("use", .string(hash)), ("usedAt", .int(Int(now)))]).text
        try journal.append(Array(line.utf8)) { state.withLock { $0.tokens[hash]?.usedAt = now } }
        return identity
    }

    /// Tokens held in memory (after housekeeping at the last compaction).
    var count: Int { state.withLock { $0.tokens.count } }

    private static func json(_ t: JoinToken) -> JSONValue {
        .object([("hash", .string(t.hash)), ("identity", .string(t.identity.description)), ("expiresAt", .int(Int(t.expiresAt))),
                 ("usedAt", t.usedAt.map { .int(Int($0)) } ?? .null), ("createdBy", .string(t.createdBy))])
    }

    private static func token(_ t: JSONValue, _ path: String) throws -> JoinToken {
        guard let hash = t["hash"]?.stringValue, let id = t["identity"]?.stringValue,
              let exp = t["expiresAt"]?.intValue else { throw MeshError(.tokensCorrupt, "\(path): a token lacks fields") }
        return JoinToken(hash: hash, identity: try SPIFFEID.workload(id), expiresAt: Double(exp),
                         usedAt: t["usedAt"]?.intValue.map(Double.init), createdBy: t["createdBy"]?.stringValue ?? "?")
    }

    private static func persist(_ list: [JoinToken], _ path: String) throws {
        let doc = JSONValue.object([("tokens", .array(list.map(json)))])
        try DurableFile.write(path, Array((doc.text + "\n").utf8), mode: 0o600)
    }
}
