import MeshCore
import MeshPolicy

/// The mesh configuration in force, in memory: the stored document with its parsed and compiled forms, swapped
/// whole after each accepted change. Reads (slices, checks, GETs) use it without touching the store.
public struct PolicySnapshot: Sendable {
    public let stored: StoredPolicy
    /// Nil while nothing has been applied.
    public let policy: MeshPolicy?
    public let compiled: CompiledPolicy?

    public var version: Int { stored.version }
    public var files: [PolicyFile] { stored.files }
    public var hash: String { stored.hash }

    init(stored: StoredPolicy, policy: MeshPolicy?) {
        self.stored = stored
        self.policy = policy
        compiled = policy?.compile(version: stored.version)
    }

    /// Parses and compiles a stored document (the empty one is "nothing applied").
    static func load(_ stored: StoredPolicy) throws -> PolicySnapshot {
        guard stored.version > 0 || !stored.files.isEmpty else { return PolicySnapshot(stored: stored, policy: nil) }
        return PolicySnapshot(stored: stored, policy: try parse(stored.files))
    }

    static func parse(_ files: [PolicyFile]) throws -> MeshPolicy {
        let policy = try MeshPolicy.load(files: files.map { ($0.name, Array($0.content.utf8)) })
        try IssuerKeyValidation.validate(policy)
        return policy
    }
}
