import MeshCore
import MeshNet

/// The idle hops of one outbound `http` listener on one event loop, per endpoint. Bounded
/// (`pool.maxIdlePerEndpoint`, `pool.maxIdlePerLoop`); a hop idle for `pool.idleTimeoutMs` is closed by a sweep
/// that runs only while the pool holds hops. Most recently used first, so surplus hops age out. Touched only on
/// the loop's thread.
final class HopPool {
    private var idle: [SocketAddress: [PooledHop]] = [:]
    private(set) var count = 0
    private let settings: PoolSettings
    private let context: LoopContext  // lives as long as its loop
    private var sweeping = false

    init(settings: PoolSettings, context: LoopContext) {
        self.settings = settings
        self.context = context
    }

    /// A healthy idle hop to one of `addresses` that `isCurrent` accepts, leased (state `.leased`); stale or
    /// dead hops met on the way are closed. Nil when there is none.
    func take(addresses: [SocketAddress], isCurrent: (PooledHop) -> Bool) -> PooledHop? {
        guard count > 0 else { return nil }
        for a in addresses {
            while let h = idle[a]?.popLast() {
                count -= 1
                context.sidecar.stats.pool.idle.subtract(1, ordering: .relaxed)
                h.state = .leased
                if !isCurrent(h) {
                    h.close(.stale)
                } else if let dead = h.probe(context.scratch) {
                    h.close(dead, reset: dead == .error)
                } else {
                    return h
                }
            }
        }
        return nil
    }

    /// Keeps `hop` idle for the next request; false (the caller closes it) when the pool is full.
    func give(_ hop: PooledHop) -> Bool {
        guard count < settings.maxIdlePerLoop, (idle[hop.address]?.count ?? 0) < settings.maxIdlePerEndpoint else { return false }
        hop.owner = nil
        hop.state = .idle
        hop.idleSinceMs = context.loop.now
        hop.setInterest(.read)
        idle[hop.address, default: []].append(hop)  // in place: a copy of the list would cost O(idle hops) per request
        count += 1
        context.sidecar.stats.pool.idle.add(1, ordering: .relaxed)
        scheduleSweep()
        return true
    }

    /// An idle hop is closing (the peer closed it, or the sweep): forget it.
    func remove(_ hop: PooledHop) {
        guard var list = idle[hop.address], let i = list.firstIndex(where: { $0 === hop }) else { return }
        list.remove(at: i)
        idle[hop.address] = list
        count -= 1
        context.sidecar.stats.pool.idle.subtract(1, ordering: .relaxed)
    }

    private func scheduleSweep() {
        guard !sweeping else { return }
        sweeping = true
        let every = Int64(max(50, settings.idleTimeoutMs / 4))
        _ = context.loop.schedule(afterMs: every) { [weak self] in
            guard let self else { return }
            self.sweeping = false
            self.sweep()
            if self.count > 0 { self.scheduleSweep() }
        }
    }

    /// Closes hops idle for `idleTimeoutMs` or longer (the oldest sit first in each list).
    func sweep() {
        let now = context.loop.now
        for list in idle.values {
            for h in list where now - h.idleSinceMs >= Int64(settings.idleTimeoutMs) { h.close(.idleTimeout) }
        }
    }

    /// Closes every idle hop (the loop stops, or the listener's state went stale).
    func drain() {
        for list in idle.values { for h in list { h.close(.stale) } }
    }
}

extension LoopContext {
    /// The pool of outbound listener `listener` on this loop (made on first use).
    func hopPool(for listener: String) -> HopPool {
        if let p = hopPools[listener] { return p }
        let p = HopPool(settings: sidecar.config.pool, context: self)
        hopPools[listener] = p
        return p
    }
}
