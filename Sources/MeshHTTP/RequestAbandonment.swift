import Synchronization

/// Told when the connection of a request still with its handler ends (the client hung up or reset): nobody is
/// left to answer. A handler that parks a request (a long poll) registers here to free what it holds at once
/// (its slot, its waiter) instead of at the end of its wait. The action runs at most once, on the server's
/// loop; registering after the abandonment runs the action at once.
public final class RequestAbandonment: Sendable {
    private let state = Mutex<(abandoned: Bool, action: (@Sendable () -> Void)?)>((false, nil))

    public init() {}

    public func onAbandon(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.abandoned { return true }
            s.action = action
            return false
        }
        if now { action() }
    }

    /// A handler registered an action: the server then watches the connection for the client going away (a
    /// FIN, not only a reset) while the request is parked.
    public var isWatched: Bool { state.withLock { $0.action != nil } }

    /// The connection ended with the request unanswered.
    public func abandon() {
        let action = state.withLock { s -> (@Sendable () -> Void)? in
            guard !s.abandoned else { return nil }
            s.abandoned = true
            defer { s.action = nil }
            return s.action
        }
        action?()
    }

    /// The request was answered: the action will not be needed (and is released).
    public func answered() { state.withLock { $0.action = nil } }
}
