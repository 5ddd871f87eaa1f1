import Synchronization

/// A `Mutex` behind a reference: closures that outlive an initializer (a group commit's `commit`, a journal's
/// compaction) can share it, which a `Mutex` itself (not copyable) does not allow.
public final class Locked<Value>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: sending Value) { mutex = Mutex(value) }

    public func withLock<R, E: Error>(_ body: (inout sending Value) throws(E) -> sending R) throws(E) -> sending R {
        try mutex.withLock(body)
    }
}
