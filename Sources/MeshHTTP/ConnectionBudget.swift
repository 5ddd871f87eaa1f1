import Synchronization

/// The open-connection limit of one server spread over several event loops (one `HTTPServer` per loop): a
/// single atomic count every loop reserves from, so the limit holds across loops — two loops accepting at
/// the same moment cannot both take the last slot (`tryAcquire` is a compare-and-exchange).
public final class ConnectionBudget: Sendable {
    public let limit: Int
    private let used = Atomic<Int>(0)

    public init(limit: Int) { self.limit = limit }

    /// Connections holding a slot now (any thread).
    public var inUse: Int { used.load(ordering: .relaxed) }

    /// Takes a slot unless all `limit` are taken.
    public func tryAcquire() -> Bool {
        var seen = used.load(ordering: .relaxed)
        while seen < limit {
            let (exchanged, original) = used.compareExchange(expected: seen, desired: seen + 1, ordering: .relaxed)
            if exchanged { return true }
            seen = original
        }
        return false
    }

    public func release() { used.subtract(1, ordering: .relaxed) }
}
