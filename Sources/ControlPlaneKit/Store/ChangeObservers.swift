import Synchronization

/// A registration with a repository's change notification; `cancel` stops further calls (calling it twice is
/// harmless). Dropping it without cancelling keeps the subscription for the repository's lifetime.
public final class Subscription: Sendable {
    private let onCancel: Mutex<(@Sendable () -> Void)?>

    init(_ onCancel: @escaping @Sendable () -> Void) { self.onCancel = Mutex(onCancel) }

    public func cancel() {
        let action = onCancel.withLock { a -> (@Sendable () -> Void)? in
            defer { a = nil }
            return a
        }
        action?()
    }
}

/// The subscribers of one kind of change, told in subscription order. Repositories call `notify` once per
/// committed change, after it is durable and outside their own locks (a subscriber may read the repository).
public final class ChangeObservers<Value: Sendable>: Sendable {
    private let list = Mutex<(next: Int, entries: [(id: Int, call: @Sendable (Value) -> Void)])>((0, []))

    public init() {}

    public func subscribe(_ call: @escaping @Sendable (Value) -> Void) -> Subscription {
        let id = list.withLock { l -> Int in
            l.next += 1
            l.entries.append((l.next, call))
            return l.next
        }
        return Subscription { [weak self] in self?.list.withLock { $0.entries.removeAll { $0.id == id } } }
    }

    public func notify(_ value: Value) {
        for e in list.withLock({ $0.entries }) { e.call(value) }
    }
}
