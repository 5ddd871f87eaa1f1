#if canImport(Glibc)
import Glibc
#endif

/// A first-come, first-served lock: callers get their turn in the order they asked (a ticket lock), so a
/// thread that asks again at once (a poll loop) cannot jump ahead of one already waiting (a report). A plain
/// mutex promises no order.
final class TurnQueue: @unchecked Sendable {
    // @unchecked: `next` and `serving` are touched only under `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var next: UInt64 = 0
    private var serving: UInt64 = 0

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        changed.deallocate()
    }

    /// Callers holding or waiting for a turn.
    var queued: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return Int(next - serving)
    }

    /// Runs `body` when every caller that asked earlier is done.
    func withTurn<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        let mine = next
        next += 1
        while serving != mine { pthread_cond_wait(changed, mutex) }
        pthread_mutex_unlock(mutex)
        defer {
            pthread_mutex_lock(mutex)
            serving += 1
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        return try body()
    }
}
