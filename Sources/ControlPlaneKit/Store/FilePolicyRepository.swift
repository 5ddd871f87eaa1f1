#if canImport(Glibc)
import MeshNet
import Glibc
#endif
import Synchronization
import MeshCore
import MeshPolicy
import MeshTLS

/// The mesh configuration in `DIR/policy/current.json` (version, hash, files), replaced whole with write-temp,
/// fsync, rename, fsync-folder; the store's epoch in `DIR/policy/epoch` (written once, when the folder is made). This process is the only writer: the version it holds in memory is the one on
/// disk, so the comparison and the write under one lock are the compare-and-set.
public final class FilePolicyRepository: PolicyRepository {
    let path: String
    public let epoch: String
    private let stored: Mutex<StoredPolicy>
    private let observers = ChangeObservers<StoredPolicy>()

    public init(dataDir: String) throws {
        let dir = "\(dataDir)/policy"
        try DurableFile.makeDirectory(dir)
        DurableFile.removeLeftovers(in: dir)
        path = "\(dir)/current.json"
        epoch = try Self.epoch(in: dir)
        stored = Mutex(DurableFile.exists(path) ? try Self.decode(try DurableFile.read(path), path: path) : .empty)
    }

    public func load() throws -> StoredPolicy { stored.withLock { $0 } }

    public func compareAndSet(expected: Int, _ next: StoredPolicy) throws {
        try stored.withLock { (current) throws in
            guard current.version == expected else {
                throw MeshError(.policyConflict, "the mesh is at version \(current.version), not \(expected): fetch it again and re-apply")
            }
            if next.version == 0 && next.files.isEmpty {
                // Back to "nothing applied" (an apply whose audit failed): no document at all.
                if unlink(path) != 0 && errno != ENOENT { throw DurableFile.failure("unlink \(path)") }
                try DurableFile.syncDirectory(DurableFile.directory(of: path))
            } else {
                try DurableFile.write(path, Self.encode(next), mode: 0o600)
            }
            current = next
        }
        observers.notify(next)
    }

    public func subscribe(_ onChange: @escaping @Sendable (StoredPolicy) -> Void) -> Subscription {
        observers.subscribe(onChange)
    }

    /// The epoch of the store in `dir`: read, or made (16 random bytes, hex) when the store is new.
    static func epoch(in dir: String) throws -> String {
        let file = "\(dir)/epoch"
        if DurableFile.exists(file) {
            let text = String(decoding: try DurableFile.read(file), as: UTF8.self).trimming(" \n")
            guard (1...64).contains(text.utf8.count), text.utf8.allSatisfy({ isHexDigit($0) }) else {
                throw MeshError(.policyBadEpoch, "\(file) does not hold an epoch (hex digits)")
            }
            return text
        }
        guard let bytes = SecureRandom.bytes(16) else { throw MeshError(.initRandom, "no randomness available") }
        let text = bytes.map { String(format2hex: $0) }.joined()
        try DurableFile.write(file, Array((text + "\n").utf8), mode: 0o600)
        return text
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c)
    }

    static func encode(_ p: StoredPolicy) -> [UInt8] {
        let doc = JSONValue.object([
            ("version", .int(p.version)), ("hash", .string(p.hash)),
            ("files", .array(p.files.map { .object([("name", .string($0.name)), ("content", .string($0.content))]) })),
        ])
        return Array((doc.text + "\n").utf8)
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> StoredPolicy {
        let doc = try StrictJSON.parse(bytes)
        guard let v = doc["version"]?.intValue, let list = doc["files"]?.arrayValue, let hash = doc["hash"]?.stringValue else {
            throw MeshError(.policyCorrupt, "\(path) lacks version, files or hash")
        }
        let files = list.map { PolicyFile(name: $0["name"]?.stringValue ?? "", content: $0["content"]?.stringValue ?? "") }
        let p = StoredPolicy(version: v, files: files)
        guard p.hash == hash else { throw MeshError(.policyCorrupt, "\(path): content does not match its hash") }
        return p
    }
}
