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
/// flag, consumed by the wait that sees it). A ``MonotonicCondition``; safe from any thread
/// (not from a signal handler).
package final class WakeSignal: @unchecked Sendable {
    // @unchecked: `signaled` is read and written under `condition`'s lock only.
    private let condition = MonotonicCondition()
    private var signaled = false

    package init() {}

    /// Wakes the waiting thread (or the next wait, if none waits now).
    package func signal() {
        condition.lock()
        signaled = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until ``signal()`` (consuming it) or until `timeoutNs` has passed (nil: no limit).
    /// Returns whether it was signaled.
    @discardableResult
    package func wait(timeoutNs: UInt64? = nil) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if let timeoutNs {
            let deadline = MonotonicCondition.deadline(afterNs: timeoutNs)
            while !signaled {
                if !condition.wait(until: deadline) { break }
            }
        } else {
            while !signaled { condition.wait() }
        }
        let was = signaled
        signaled = false
        return was
    }
}
