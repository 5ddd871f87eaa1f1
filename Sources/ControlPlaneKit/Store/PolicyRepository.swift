import MeshCore
import MeshPolicy
import MeshTLS

/// One file of the mesh configuration as the operator applied it.
public struct PolicyFile: Sendable, Equatable {
    public let name: String
    public let content: String

    public init(name: String, content: String) {
        self.name = name
        self.content = content
    }
}

/// The stored mesh configuration: the applied files, a version that only increases with each accepted change,
/// and the SHA-256 of the content. Version 0 with no files is "nothing applied yet".
public struct StoredPolicy: Sendable, Equatable {
    public let version: Int
    public let files: [PolicyFile]
    public let hash: String

    public init(version: Int, files: [PolicyFile]) {
        self.version = version
        self.files = files
        hash = Self.contentHash(files)
    }

    public static let empty = StoredPolicy(version: 0, files: [])

    /// SHA-256 over each file's name and content, length-prefixed so that no two file sets collide by shifting
    /// bytes from one field to the next.
    public static func contentHash(_ files: [PolicyFile]) -> String {
        let h = SHA256()
        for f in files {
            h.update(Array("\(f.name.utf8.count):\(f.name)\(f.content.utf8.count):".utf8))
            h.update(Array(f.content.utf8))
        }
        return h.finalizeHex()
    }
}

/// Where the mesh configuration is kept (a file today, etcd later).
///
/// Contract:
/// - `load` returns the last committed document (`StoredPolicy.empty` when none).
/// - `compareAndSet` is atomic: it commits `next` only if the stored version is `expected`, else throws
///   `policy.conflict` and changes nothing. When it returns, the change is durable (it survives a crash).
/// - `subscribe`: each committed change is told to every subscriber exactly once, after it is durable, in
///   commit order, with the document now stored. A failed compare-and-set tells nobody.
/// - `epoch`: random, made when the store is created and kept for its life; a re-created (re-initialised or
///   lost and rebuilt) store has a new one, so its versions are never compared with the old store's.
public protocol PolicyRepository: Sendable {
    var epoch: String { get }
    func load() throws -> StoredPolicy
    func compareAndSet(expected: Int, _ next: StoredPolicy) throws
    func subscribe(_ onChange: @escaping @Sendable (StoredPolicy) -> Void) -> Subscription
}
