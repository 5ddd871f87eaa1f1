import Synchronization
import MeshCore
import MeshEtcd
import MeshTLS

/// The audit chain in etcd, shared by every replica: `audit/head` → {seq, hash} of the last record, and
/// `audit/<seq, 12 digits>` → the record, the same JSON line the file log writes (so `AuditLog.verify` checks
/// it and migration copies it byte for byte). An append is one transaction that compares the head's mod
/// revision with the one this replica last saw and puts the record and the new head; when another replica
/// appended meanwhile the transaction answers the new head, and the record is re-chained onto it and tried
/// again (at most `maxAttempts` times, default 32, then `store.unavailable`: nothing was recorded).
public final class EtcdAuditSink: AuditSink {
    let store: EtcdStore
    let maxAttempts: Int
    /// The head as last seen: seq, hash, the head key's mod revision (0: no record yet).
    private let head: Mutex<(seq: Int, hash: String, mod: Int64)>
    /// Our own appends go one at a time (the transaction orders us against the other replicas).
    private let appending = Mutex<Void>(())
    static let headKey = "audit/head"

    public init(store: EtcdStore, maxAttempts: Int = 32) throws {
        self.store = store
        self.maxAttempts = maxAttempts
        head = Mutex((0, AuditLog.genesis, 0))
        if let kv = try store.kv.get(store.key(Self.headKey)) { try take(kv) }
    }

    static func recordKey(_ seq: Int) -> String {
        let digits = String(seq)
        return "audit/" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    private func take(_ kv: EtcdKeyValue) throws {
        let v = try StrictJSON.parse(kv.value)
        guard let seq = v["seq"]?.intValue, let hash = v["hash"]?.stringValue else { throw MeshError(.auditCorrupt, "etcd \(Self.headKey) lacks seq or hash") }
        head.withLock { h in if kv.modRevision > h.mod { h = (seq, hash, kv.modRevision) } }
    }

    static func headValue(seq: Int, hash: String) -> [UInt8] {
        Array(JSONValue.object([("seq", .int(seq)), ("hash", .string(hash))]).text.utf8)
    }

    public func record(time: Double, actor: String, action: String, _ fields: [(String, JSONValue)]) throws {
        try appending.withLock { _ throws in
            let hk = store.key(Self.headKey)
            for _ in 0..<maxAttempts {
                let h = head.withLock { $0 }
                var members: [(String, JSONValue)] = [("seq", .int(h.seq + 1)), ("time", .string(UTCTime.iso8601(time))),
                                                      ("actor", .string(actor)), ("action", .string(action))]
                members += fields
                members.append(("prev", .string(h.hash)))
                let hash = SHA256.hex(Array((h.hash + JSONValue.object(members).text).utf8))
                members.append(("hash", .string(hash)))
                let line = Array(JSONValue.object(members).text.utf8)
                let r = try store.kv.txn([.modRevision(hk, equals: h.mod)],
                                         success: [.put(store.key(Self.recordKey(h.seq + 1)), line, lease: 0),
                                                   .put(hk, Self.headValue(seq: h.seq + 1, hash: hash), lease: 0)],
                                         failure: [.get(hk)])
                if r.succeeded {
                    head.withLock { x in if r.revision > x.mod { x = (h.seq + 1, hash, r.revision) } }
                    return
                }
                guard let now = r.gets.first ?? nil else { throw MeshError(.auditCorrupt, "etcd \(Self.headKey) vanished") }
                try take(now)  // another replica appended: re-chain onto its head
            }
            throw MeshError(.storeUnavailable, "the audit head kept moving (\(maxAttempts) attempts); nothing was recorded")
        }
    }

    /// Every record line, oldest first (paged reads).
    func lines() throws -> [[UInt8]] {
        try store.readAll("audit/").kvs.filter { store.suffix(of: $0.key) != Self.headKey }.map(\.value)
    }

    public func records() throws -> [JSONValue] {
        try lines().map { try StrictJSON.parse($0) }
    }

    /// Walks every record from the genesis: the chain, the numbering, and that the head names the last one.
    public func verify() throws -> Int {
        let all = try lines()
        var bytes: [UInt8] = []
        for l in all { bytes += l; bytes.append(0x0A) }
        let (last, n, _) = try AuditLog.verify(bytes)
        for (i, l) in all.enumerated() where (try? StrictJSON.parse(l))?["seq"]?.intValue != i + 1 {
            throw MeshError(.auditBrokenChain, "record \(i + 1) carries another seq (a record is missing)")
        }
        if let kv = try store.kv.get(store.key(Self.headKey)) {
            let v = try StrictJSON.parse(kv.value)
            guard v["seq"]?.intValue == n, v["hash"]?.stringValue == last else {
                throw MeshError(.auditBrokenChain, "etcd \(Self.headKey) does not name the last record (\(n))")
            }
        } else if n > 0 {
            throw MeshError(.auditBrokenChain, "records without \(Self.headKey)")
        }
        return n
    }

    public var count: Int { head.withLock { $0.seq } }

    public func page(after: Int, limit: Int) throws -> (records: [JSONValue], next: Int?) {
        let limit = min(max(limit, 1), AuditLog.maxPageSize)
        let page = try store.kv.range(prefix: store.key("audit/"), after: store.key(Self.recordKey(max(after, 0))), limit: limit + 1)
        let recs = try page.kvs.filter { store.suffix(of: $0.key) != Self.headKey }.map { try StrictJSON.parse($0.value) }
        guard recs.count > limit else { return (recs, nil) }
        let out = Array(recs.prefix(limit))
        return (out, out.last?["seq"]?.intValue)
    }

    /// Migration: appends `lines` (records of another sink, in order) verbatim, in transactions of `batch`
    /// records each carrying the new head; the store must hold no record yet.
    func importLines(_ lines: [[UInt8]], batch: Int = 64) throws {
        var seq = 0
        var mod: Int64 = 0
        let hk = store.key(Self.headKey)
        for start in stride(from: 0, to: lines.count, by: batch) {
            let part = lines[start..<min(start + batch, lines.count)]
            var ops: [EtcdOp] = []
            var hash = ""
            for l in part {
                seq += 1
                ops.append(.put(store.key(Self.recordKey(seq)), l, lease: 0))
                guard let h = (try StrictJSON.parse(l))["hash"]?.stringValue else { throw MeshError(.auditCorrupt, "record \(seq) has no hash") }
                hash = h
            }
            ops.append(.put(hk, Self.headValue(seq: seq, hash: hash), lease: 0))
            let r = try store.kv.txn([.modRevision(hk, equals: mod)], success: ops, failure: [])
            guard r.succeeded else { throw MeshError(.auditBrokenChain, "someone appended to the audit chain during migration") }
            mod = r.revision
            head.withLock { $0 = (seq, hash, r.revision) }
        }
    }
}
