#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshPolicy
import MeshTLS

/// The mesh configuration (services, segments, rules) as the operator last applied it: the set of files,
/// a version that only increases, and the SHA-256 of the content. Stored in `DIR/policy/current.json` with
/// write-temp, fsync, rename, fsync-folder; every accepted change is in the audit log before the API answers.
/// Updates are compare-and-set on the version they were based on.
public final class PolicyStore: Sendable {
    public struct Snapshot: Sendable {
        public let version: Int
        public let files: [(name: String, content: String)]
        public let hash: String
        public let policy: MeshPolicy?
        public let compiled: CompiledPolicy?
    }

    let path: String
    let audit: AuditLog
    private let current: Mutex<Snapshot>

    public init(dataDir: String, audit: AuditLog) throws {
        let dir = "\(dataDir)/policy"
        try DurableFile.makeDirectory(dir)
        DurableFile.removeLeftovers(in: dir)
        path = "\(dir)/current.json"
        self.audit = audit
        var snap = Snapshot(version: 0, files: [], hash: SHA256.hex([]), policy: nil, compiled: nil)
        if DurableFile.exists(path) {
            let doc = try StrictJSON.parse(try DurableFile.read(path))
            guard let v = doc["version"]?.intValue, let list = doc["files"]?.arrayValue, let hash = doc["hash"]?.stringValue else {
                throw MeshError("policy.corrupt", "\(path) lacks version, files or hash")
            }
            let files = list.map { (name: $0["name"]?.stringValue ?? "", content: $0["content"]?.stringValue ?? "") }
            guard Self.hash(files) == hash else { throw MeshError("policy.corrupt", "\(path): content does not match its hash") }
            let policy = try MeshPolicy.load(files: files.map { ($0.name, Array($0.content.utf8)) })
            snap = Snapshot(version: v, files: files, hash: hash, policy: policy, compiled: policy.compile(version: v))
        }
        current = Mutex(snap)
    }

    public var snapshot: Snapshot { current.withLock { $0 } }

    /// Validates `files` as a whole mesh; nothing is stored. Returns the parsed policy and the diff against
    /// the current one.
    public func validate(_ files: [(name: String, content: String)]) throws -> (MeshPolicy, [String]) {
        let policy = try MeshPolicy.load(files: files.map { ($0.name, Array($0.content.utf8)) })
        return (policy, policy.diff(from: snapshot.policy))
    }

    /// Replaces the mesh if `ifMatch` is the current version: validate all, write durably, audit, then swap.
    /// Returns the new snapshot and the diff. A failure at any step changes nothing.
    public func apply(_ files: [(name: String, content: String)], ifMatch: Int, actor: String, now: Double) throws -> (Snapshot, [String]) {
        try current.withLock { (snap) throws -> (Snapshot, [String]) in
            guard ifMatch == snap.version else {
                throw MeshError("policy.conflict", "the mesh is at version \(snap.version), not \(ifMatch): fetch it again and re-apply")
            }
            let policy = try MeshPolicy.load(files: files.map { ($0.name, Array($0.content.utf8)) })
            let diff = policy.diff(from: snap.policy)
            let version = snap.version + 1
            let hash = Self.hash(files)
            let doc = JSONValue.object([
                ("version", .int(version)), ("hash", .string(hash)),
                ("files", .array(files.map { .object([("name", .string($0.name)), ("content", .string($0.content))]) })),
            ])
            let old = DurableFile.exists(path) ? try DurableFile.read(path) : nil
            try DurableFile.write(path, Array((doc.text + "\n").utf8), mode: 0o600)
            do {
                try audit.append(time: now, actor: actor, action: "policy.apply", [
                    ("oldVersion", .int(snap.version)), ("newVersion", .int(version)), ("contentSHA256", .string(hash)),
                    ("changes", .int(diff.count)),
                ])
            } catch {
                // Not audited means not accepted: put the old file back.
                if let old { try? DurableFile.write(path, old, mode: 0o600) } else { unlink(path) }
                throw error
            }
            let next = Snapshot(version: version, files: files, hash: hash, policy: policy, compiled: policy.compile(version: version))
            snap = next
            return (next, diff)
        }
    }

    static func hash(_ files: [(name: String, content: String)]) -> String {
        let h = SHA256()
        for f in files {
            h.update(Array("\(f.name.utf8.count):\(f.name)\(f.content.utf8.count):".utf8))
            h.update(Array(f.content.utf8))
        }
        return h.finalizeHex()
    }
}
