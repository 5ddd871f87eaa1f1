/// Declared error codes: the replicated store (etcd) and the replicas over it (issue 11).
/// The text of a code is a published contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    /// The store cannot take writes now (no etcd member answers, or no quorum): nothing was changed; retry later.
    /// Reads and slices keep being served from the replica's last state.
    public static let storeUnavailable = ErrorCode("store.unavailable", .unavailable)
    /// etcd answered something this client does not understand (a bug or an incompatible version).
    public static let storeProtocol = ErrorCode("store.protocol", .internal)
    /// The revision a watch asked for was compacted away: the watcher must reload and watch from now.
    public static let storeCompacted = ErrorCode("store.compacted", .conflict)
    /// A stored value does not decode (written by something else, or corrupted).
    public static let storeCorrupt = ErrorCode("store.corrupt", .storage)
}
