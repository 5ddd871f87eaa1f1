import MeshCore

/// The part of the etcd v3 API the control plane uses, as plain values: keys and values are bytes, revisions
/// are etcd's store revisions (a single counter for the whole cluster). `EtcdClient` speaks it to a cluster over
/// the JSON gateway; tests may use it directly against a real cluster (`EtcdCluster` in MeshTestSupport).
///
/// Errors: `store.unavailable` when no member answered in time or the cluster has no quorum (the caller must
/// assume nothing changed only for reads; a write that timed out may or may not have been applied, so writers
/// use compare-and-set transactions and re-read), `store.protocol` for an answer that does not parse.
public protocol EtcdKV: Sendable {
    /// The value at `key`, or nil.
    func get(_ key: [UInt8]) throws -> EtcdKeyValue?
    /// Keys in `[prefix, prefix+1)` in key order, at most `limit` (0: no limit), from `after` (exclusive) when
    /// given; and the store revision the range was read at.
    func range(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> (kvs: [EtcdKeyValue], revision: Int64, more: Bool)
    /// All compares hold → `success` runs, else `failure`; atomically. Returns which branch ran, the revision
    /// after it, and the results of its `range` operations in order.
    func txn(_ compares: [EtcdCompare], success: [EtcdOp], failure: [EtcdOp]) throws -> EtcdTxnResult
    /// A lease of `ttlSeconds`; its id. Keys put with it vanish when it expires or is revoked.
    func grantLease(ttlSeconds: Int) throws -> Int64
    /// Renews the lease once; its remaining TTL (0 or less: it had expired, the keys are gone).
    func keepAlive(lease: Int64) throws -> Int64
    func revokeLease(_ lease: Int64) throws
    /// Streams every change of keys under `prefix` after `fromRevision` (exclusive: events with `modRevision >
    /// fromRevision`) to `onEvents`, in revision order, on a thread of its own, re-connecting (with back-off,
    /// to any member) until cancelled. `onError` hears `store.unavailable` while it cannot reach a member, and
    /// `store.compacted` when the history it needs is gone (the watch then stops; reload and watch again).
    func watch(prefix: [UInt8], fromRevision: Int64, onEvents: @escaping @Sendable ([EtcdEvent]) -> Void,
               onError: @escaping @Sendable (MeshError) -> Void) -> EtcdWatch
    /// Member health as the client sees it: each endpoint, whether it answered, and the cluster's leader id.
    func status() -> [EtcdMemberStatus]
}

extension EtcdKV {
    public func put(_ key: [UInt8], _ value: [UInt8], lease: Int64 = 0) throws {
        _ = try txn([], success: [.put(key, value, lease: lease)], failure: [])
    }
}

/// One key as stored.
public struct EtcdKeyValue: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    /// Revision of the transaction that created the key (0: absent).
    public var createRevision: Int64
    /// Revision of its last change.
    public var modRevision: Int64
    /// Number of changes since creation (1 after the first put).
    public var version: Int64
    public var lease: Int64

    public init(key: [UInt8], value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}

/// A transaction's condition on one key. An absent key has create/mod revision 0, version 0.
public enum EtcdCompare: Sendable, Equatable {
    case modRevision([UInt8], equals: Int64)
    case createRevision([UInt8], equals: Int64)
    case version([UInt8], equals: Int64)
    case value([UInt8], equals: [UInt8])
}

/// One operation of a transaction branch.
public enum EtcdOp: Sendable, Equatable {
    case put([UInt8], [UInt8], lease: Int64)
    case delete([UInt8])
    /// Deletes every key under the prefix.
    case deletePrefix([UInt8])
    case get([UInt8])
}

public struct EtcdTxnResult: Sendable, Equatable {
    public var succeeded: Bool
    public var revision: Int64
    /// One entry per `.get` op of the branch that ran, in order (nil: absent).
    public var gets: [EtcdKeyValue?]

    public init(succeeded: Bool, revision: Int64, gets: [EtcdKeyValue?] = []) {
        self.succeeded = succeeded
        self.revision = revision
        self.gets = gets
    }
}

/// One change seen by a watch.
public struct EtcdEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case put, delete }
    public var kind: Kind
    /// For a delete: the key, empty value, and the revision of the deletion in `modRevision`.
    public var kv: EtcdKeyValue

    public init(kind: Kind, kv: EtcdKeyValue) {
        self.kind = kind
        self.kv = kv
    }
}

/// A running watch; `cancel` stops it (no call to its handlers after `cancel` returns).
public protocol EtcdWatch: Sendable {
    func cancel()
}

public struct EtcdMemberStatus: Sendable, Equatable {
    public var endpoint: String
    public var healthy: Bool
    /// etcd's member id of the leader it knows (hex), when it answered.
    public var leader: String?
    /// Why not healthy.
    public var error: String?
    /// This member's own id (hex), when it answered: `member == leader` on the leader.
    public var member: String?

    public init(endpoint: String, healthy: Bool, leader: String? = nil, error: String? = nil, member: String? = nil) {
        self.endpoint = endpoint
        self.healthy = healthy
        self.leader = leader
        self.error = error
        self.member = member
    }
}
