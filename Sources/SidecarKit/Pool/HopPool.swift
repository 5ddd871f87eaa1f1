import MeshCore
import MeshNet

/// The idle hops of one outbound `http` listener on one event loop, per endpoint. Bounded
/// (`pool.maxIdlePerEndpoint`, `pool.maxIdlePerLoop`); a hop idle for `pool.idleTimeoutMs` is closed by a sweep
/// that runs only while the pool holds hops. Most recently used first, so surplus hops age out. Touched only on
/// the loop's thread.
final class HopPool {
    /// One endpoint's idle hops. A class, so the list is changed through a plain dictionary read: changing an
    /// array inside a dictionary goes through the dictionary's modify coroutines, whose frames are allocated on
    /// every call (three allocations per take and per give, measured).
    private final class Idle {
        var hops: [PooledHop] = []
    }

    private var idle: [SocketAddress: Idle] = [:]
    /// The list used last: with one endpoint (or one in favour) every take and give finds it by comparing the
    /// address instead of hashing it. Lists are never dropped from `idle`, so this one stays valid.
    private var last: (address: SocketAddress, list: Idle)?
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
            guard let list = list(for: a, creating: false) else { continue }
            while let h = list.hops.popLast() {
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
        guard let list = list(for: hop.address, creating: true) else { return false }
        guard count < settings.maxIdlePerLoop, list.hops.count < settings.maxIdlePerEndpoint else { return false }
        hop.owner = nil
        hop.state = .idle
        hop.idleSinceMs = context.loop.now
        hop.setInterest(.read)
        list.hops.append(hop)  // in place: a copy of the list would cost O(idle hops) per request
        count += 1
        context.sidecar.stats.pool.idle.add(1, ordering: .relaxed)
        scheduleSweep()
        return true
    }

    private func list(for address: SocketAddress, creating: Bool) -> Idle? {
        if let last, last.address == address { return last.list }
        let list: Idle
        if let l = idle[address] {
            list = l
        } else {
            guard creating else { return nil }
            list = Idle()
            idle[address] = list
        }
        last = (address, list)
        return list
    }

    /// An idle hop is closing (the peer closed it, or the sweep): forget it.
    func remove(_ hop: PooledHop) {
        guard let list = idle[hop.address], let i = list.hops.firstIndex(where: { $0 === hop }) else { return }
        list.hops.remove(at: i)
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
            for h in list.hops where now - h.idleSinceMs >= Int64(settings.idleTimeoutMs) { h.close(.idleTimeout) }
        }
    }

    /// Closes every idle hop (the loop stops, or the listener's state went stale).
    func drain() {
        for list in idle.values { for h in list.hops { h.close(.stale) } }
    }
}

extension LoopContext {
    /// The pool of outbound listener `listener` on this loop (made on first use).
    func hopPool(for listener: String) -> HopPool {
        if let last = lastHopPool, last.listener == listener { return last.pool }
        let p: HopPool
        if let known = hopPools[listener] {
            p = known
        } else {
            p = HopPool(settings: sidecar.config.pool, context: self)
            hopPools[listener] = p
        }
        lastHopPool = (listener, p)
        return p
    }
}
