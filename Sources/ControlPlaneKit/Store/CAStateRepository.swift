import MeshCore

/// Where the CA state (roots, their keys, their phases) is kept. Keys are encrypted at rest by the implementation.
///
/// Contract:
/// - `load` returns the last committed state; it has exactly one issuing root.
/// - `compareAndSet` is atomic: it commits `next` (new roots with their keys, then the phases) only if the stored
///   revision is `expected`, else throws `ca.conflict` and changes nothing visible. When it returns, the change is
///   durable, and so is the published trust bundle.
/// - `subscribe`: each committed change is told to every subscriber exactly once, after it is durable, in commit
///   order, with the state now stored. A failed compare-and-set tells nobody.
public protocol CAStateRepository: Sendable {
    func load() throws -> CAState
    func compareAndSet(expected: Int, _ next: CAState) throws
    func subscribe(_ onChange: @escaping @Sendable (CAState) -> Void) -> Subscription
}
