import Synchronization

/// One authorization decision, as shown by `GET /decisions`.
public struct Decision: Sendable {
    public let time: Double
    public let direction: Direction
    public let listener: String
    public let port: UInt16
    public let peer: String
    public let identity: String?
    public let allowed: Bool
    public let rule: String
    public let reason: String
    /// Requests on `http` ports: the method and the deciding rule's path pattern (nil for connections).
    public var method: String? = nil
    public var route: String? = nil
}

/// A bounded ring of the most recent decisions (default 1,000). Written once per decision, under a lock
/// held for a few stores; never on the per-byte path.
public final class DecisionLog: Sendable {
    public let capacity: Int
    private let ring: Mutex<(items: [Decision], next: Int, total: Int)>

    public init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
        ring = Mutex(([], 0, 0))
    }

    public func record(_ d: Decision) {
        let cap = capacity
        ring.withLock { r in
            if r.items.count < cap { r.items.append(d) } else { r.items[r.next] = d }
            r.next = (r.next + 1) % cap
            r.total += 1
        }
    }

    /// Newest first, optionally only allowed or only denied, at most `limit`.
    public func recent(allowed: Bool? = nil, limit: Int = 1000) -> [Decision] {
        let (items, next) = ring.withLock { ($0.items, $0.next) }
        var ordered: [Decision] = []
        ordered.reserveCapacity(items.count)
        if items.count < capacity {
            ordered = items.reversed()
        } else {
            for i in 0..<items.count { ordered.append(items[(next - 1 - i + items.count * 2) % items.count]) }
        }
        if let allowed { ordered = ordered.filter { $0.allowed == allowed } }
        return Array(ordered.prefix(limit))
    }

    public var total: Int { ring.withLock { $0.total } }
}
