/// Which control-plane replica to dial next, for a client that holds a list of them (`ControlChannel`).
///
/// - It sticks: a reconnect that follows no failure (the connection aged, the server closed an idle one, our
///   certificate renewed) dials the replica in use first, so a working client never moves.
/// - It prefers the first replica again only after a failure: when a call failed (connect refused, reset,
///   timeout), the next connect dials the list in its order, with the replica that just failed last — the
///   operator's order wins again, but a replica that just failed is not hammered first.
/// - Every connect to a replica other than the one in use counts as a failover.
///
/// A value type with no clock or randomness, owned by one `Mutex` in the channel.
public struct FailoverOrder: Sendable, Equatable {
    /// How many addresses there are.
    public let count: Int
    /// The index of the address in use (or last used); 0 before the first connect.
    public private(set) var active = 0
    /// A call failed since the last connect.
    public private(set) var failedSinceConnect = false
    /// Connects that landed on another replica than the one in use.
    public private(set) var failovers = 0

    public init(count: Int) {
        precondition(count > 0, "failover needs an address")
        self.count = count
    }

    /// The indexes to dial, in order, for the next connect.
    public func order() -> [Int] {
        let others = (0..<count).filter { $0 != active }
        return failedSinceConnect ? others + [active] : [active] + others
    }

    /// A call on the connection in use failed (or no connection could be made).
    public mutating func failed() { failedSinceConnect = true }

    /// A connection to `index` was made.
    public mutating func connected(_ index: Int) {
        precondition((0..<count).contains(index), "no address \(index)")
        if index != active { failovers += 1 }
        active = index
        failedSinceConnect = false
    }
}
