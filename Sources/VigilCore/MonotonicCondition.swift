#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with one condition variable whose timed waits run on CLOCK_MONOTONIC (a
/// wall-clock step never stretches or cuts a wait): the lock-and-wait pair under
/// ``WakeSignal`` and the alert queues, set up and torn down in one place.
///
/// The caller keeps its own state under ``lock()``/``unlock()`` and waits with the lock
/// held, as with pthread_cond_wait. Safe from any thread (not from a signal handler).
package final class MonotonicCondition: @unchecked Sendable {
    // @unchecked: the pthread objects are used only through their own locking rules.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Takes the lock.
    package func lock() { pthread_mutex_lock(mutex) }

    /// Releases the lock.
    package func unlock() { pthread_mutex_unlock(mutex) }

    /// Takes the lock if no thread holds it; returns whether it did (never waits).
    package func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    /// Wakes one waiting thread.
    package func signal() { pthread_cond_signal(cond) }

    /// Wakes every waiting thread.
    package func broadcast() { pthread_cond_broadcast(cond) }

    /// Waits (the lock held) until woken; may wake spuriously, so test the state in a loop.
    package func wait() { pthread_cond_wait(cond, mutex) }

    /// The CLOCK_MONOTONIC time `ns` from now, for ``wait(until:)``.
    package static func deadline(afterNs ns: UInt64) -> timespec {
        let end = Timestamp.monotonicNanoseconds() &+ ns
        return timespec(tv_sec: Int(end / 1_000_000_000), tv_nsec: Int(end % 1_000_000_000))
    }

    /// Waits (the lock held) until woken or until `deadline` (CLOCK_MONOTONIC) has passed.
    /// Returns false when the deadline passed. May wake spuriously: test the state in a loop.
    package func wait(until deadline: timespec) -> Bool {
        var d = deadline
        return pthread_cond_timedwait(cond, mutex, &d) != ETIMEDOUT
    }
}
