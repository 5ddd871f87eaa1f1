#if canImport(Glibc)
import Glibc
#endif

/// Issuances of different identities run side by side (`withShared`); revocations, quarantines and throttles
/// run alone (`withLock`), so no issuance checks the deny list before a change to it and commits after it (its
/// certificate could then escape the revocation). Writers are preferred: a renewal storm cannot starve an
/// operator's revocation. Two issuances of one identity are kept apart by the per-identity compare-and-set of
/// `IdentityRepository.setLatest`, not by this gate.
final class IssuingGate: @unchecked Sendable {
    // @unchecked: the rwlock is only used through pthread calls, which are thread-safe; this object owns it.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        precondition(pthread_rwlock_init(lock, &attr) == 0, "pthread_rwlock_init failed")
        pthread_rwlockattr_destroy(&attr)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    /// Alone: no issuance or other change runs meanwhile. (Same shape as `Mutex<Void>.withLock`.)
    func withLock<R>(_ body: (inout Void) throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        var v: Void = ()
        return try body(&v)
    }

    /// Alongside other issuances.
    func withShared<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
