#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A wake-up one thread waits for and others give: a thread that has nothing to do until
/// something happens (a request, a stop) sleeps in ``wait(timeoutNs:)`` instead of waking
/// every few milliseconds to look (each such wake-up is a context switch on the node's cores,
/// taken from the workloads).
///
/// ``signal()`` before a wait is not lost: the next wait returns at once (the signal is a
/// flag, consumed by the wait that sees it). A pthread mutex and a condition on
/// CLOCK_MONOTONIC; safe from any thread (not from a signal handler).
package final class WakeSignal: @unchecked Sendable {
    // @unchecked: `signaled` is read and written under `mutex` only.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var signaled = false

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

    /// Wakes the waiting thread (or the next wait, if none waits now).
    package func signal() {
        pthread_mutex_lock(mutex)
        signaled = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until ``signal()`` (consuming it) or until `timeoutNs` has passed (nil: no limit).
    /// Returns whether it was signaled.
    @discardableResult
    package func wait(timeoutNs: UInt64? = nil) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let timeoutNs {
            let end = Timestamp.monotonicNanoseconds() &+ timeoutNs
            var deadline = timespec(tv_sec: Int(end / 1_000_000_000), tv_nsec: Int(end % 1_000_000_000))
            while !signaled {
                if pthread_cond_timedwait(cond, mutex, &deadline) == ETIMEDOUT { break }
            }
        } else {
            while !signaled { pthread_cond_wait(cond, mutex) }
        }
        let was = signaled
        signaled = false
        return was
    }
}
