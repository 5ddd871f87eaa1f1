/// Identifies a scheduled timer so it can be cancelled.
public struct TimerID: Hashable, Sendable {
    let value: UInt64
}

/// A min-heap of deadlines with lazy cancellation: cancelling forgets the action, and the heap entry is
/// skipped when it surfaces. Confined to one loop thread.
struct TimerQueue {
    private var heap: [(deadline: Int64, id: UInt64)] = []
    private var actions: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 1

    mutating func add(deadline: Int64, _ action: @escaping () -> Void) -> TimerID {
        let id = nextID
        nextID += 1
        actions[id] = action
        heap.append((deadline, id))
        siftUp(heap.count - 1)
        return TimerID(value: id)
    }

    mutating func cancel(_ id: TimerID) {
        actions[id.value] = nil
        // Drop cancelled entries at the top so the wait timeout is not too short.
        while let top = heap.first, actions[top.id] == nil { popTop() }
    }

    /// Milliseconds until the next live deadline, -1 when none (wait forever).
    func nextTimeout(now: Int64) -> Int32 {
        guard let top = heap.first else { return -1 }
        return Int32(clamping: max(0, top.deadline - now))
    }

    /// Removes and returns the next live action whose deadline has passed. The caller runs it outside this
    /// mutation, since actions may add or cancel timers.
    mutating func popExpired(now: Int64) -> (() -> Void)? {
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let action = actions.removeValue(forKey: top.id) { return action }
        }
        return nil
    }

    var count: Int { actions.count }

    private mutating func popTop() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private mutating func siftUp(_ i: Int) {
        var c = i
        while c > 0 {
            let p = (c - 1) / 2
            if heap[p].deadline <= heap[c].deadline { break }
            heap.swapAt(p, c)
            c = p
        }
    }

    private mutating func siftDown(_ i: Int) {
        var p = i
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < heap.count && heap[l].deadline < heap[m].deadline { m = l }
            if r < heap.count && heap[r].deadline < heap[m].deadline { m = r }
            if m == p { return }
            heap.swapAt(p, m)
            p = m
        }
    }
}
