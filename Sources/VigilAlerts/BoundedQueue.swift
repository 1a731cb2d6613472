#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore

/// A fixed-capacity multi-producer, single-consumer FIFO guarded by a ``MonotonicCondition``
/// (a pthread mutex and condition).
///
/// ``tryPush(_:)`` never blocks on a full queue (it returns false and the caller counts the drop);
/// the consumer thread blocks in ``pop(max:into:timeoutNs:)`` until items arrive, the timeout
/// expires, or the queue is woken or closed. The storage is a ring allocated once, so memory is
/// bounded by the capacity.
///
/// `pushed` and `completed` are monotonically increasing tallies: the consumer calls
/// ``markCompleted(_:)`` once it has finished with items, which lets ``flush`` style waits
/// know when everything submitted before a point has been handled.
package final class BoundedQueue<Element>: @unchecked Sendable {
    private let condition = MonotonicCondition()
    private var ring: [Element?]
    private var head = 0
    private var count_ = 0
    private var consumerWaiting = false
    private var wakeRequested = false
    private var closed_ = false
    private var pushed_: UInt64 = 0
    private var completed_: UInt64 = 0

    /// The maximum number of queued items.
    package let capacity: Int

    /// Creates a queue holding at most `capacity` items (at least 1).
    package init(capacity: Int) {
        self.capacity = max(1, capacity)
        ring = Array(repeating: nil, count: self.capacity)
    }

    @inline(__always) private func lock() { condition.lock() }
    @inline(__always) private func unlock() { condition.unlock() }

    /// Appends `item` unless the queue is full or closed. Never blocks on capacity.
    @discardableResult
    package func tryPush(_ item: Element) -> Bool { push(item, wakingConsumer: true) }

    /// Appends `item` like ``tryPush(_:)`` but leaves a waiting consumer asleep: the producer
    /// wakes it once for a batch of pushes with ``wakeIfPending()`` (one wake-up, one context
    /// switch per batch instead of per item). A consumer that wakes for any other reason (its
    /// timeout, ``wake()``) takes the items as well.
    @discardableResult
    package func tryPushQuietly(_ item: Element) -> Bool { push(item, wakingConsumer: false) }

    /// Appends `item` unless the queue is full or closed; signals a waiting consumer if asked.
    @inline(__always)
    private func push(_ item: Element, wakingConsumer: Bool) -> Bool {
        lock()
        if closed_ || count_ == capacity { unlock(); return false }
        ring[(head + count_) % capacity] = item
        count_ += 1
        pushed_ &+= 1
        let signal = wakingConsumer && consumerWaiting
        unlock()
        if signal { condition.signal() }
        return true
    }

    /// Wakes a waiting consumer when items are queued (after ``tryPushQuietly(_:)``).
    package func wakeIfPending() {
        lock()
        let signal = consumerWaiting && count_ > 0
        unlock()
        if signal { condition.signal() }
    }

    /// Moves up to `max` items into `out` (appending), waiting up to `timeoutNs` for the first one.
    /// Returns early (possibly with nothing) when woken by ``wake()`` or when the queue is closed.
    package func pop(max: Int, into out: inout [Element], timeoutNs: UInt64) {
        lock()
        waitLocked(timeoutNs: timeoutNs)
        takeLocked(max: max, into: &out)
        unlock()
    }

    /// Waits up to `timeoutNs` until an item is queued, the queue is woken by ``wake()`` (the
    /// request is consumed) or closed; takes nothing (see ``popAvailable(max:into:)``).
    package func waitForItems(timeoutNs: UInt64) {
        lock()
        waitLocked(timeoutNs: timeoutNs)
        unlock()
    }

    /// With the lock held: waits up to `timeoutNs` while the queue is empty, open and not woken,
    /// then consumes any ``wake()`` request.
    private func waitLocked(timeoutNs: UInt64) {
        if count_ == 0 && !closed_ && !wakeRequested && timeoutNs > 0 {
            let deadline = MonotonicCondition.deadline(afterNs: timeoutNs)
            consumerWaiting = true
            while count_ == 0 && !closed_ && !wakeRequested {
                if !condition.wait(until: deadline) { break }
            }
            consumerWaiting = false
        }
        wakeRequested = false
    }

    /// With the lock held: moves up to `max` queued items into `out` (appending), oldest first.
    private func takeLocked(max: Int, into out: inout [Element]) {
        var n = 0
        while count_ > 0 && n < max {
            out.append(ring[head].take()!)
            head = (head + 1) % capacity
            count_ -= 1
            n += 1
        }
    }

    /// Moves up to `max` queued items into `out` (appending) without waiting, and without
    /// consuming a ``wake()`` request (any thread may take items this way while the consumer
    /// thread waits in ``waitForItems(timeoutNs:)``; takers must serialize among themselves).
    package func popAvailable(max: Int, into out: inout [Element]) {
        lock()
        takeLocked(max: max, into: &out)
        unlock()
    }

    /// Wakes the consumer once even if nothing is queued (for flush requests and timers).
    package func wake() {
        lock()
        wakeRequested = true
        unlock()
        condition.signal()
    }

    /// Refuses further pushes and wakes the consumer; queued items can still be popped.
    package func close() {
        lock()
        closed_ = true
        unlock()
        condition.broadcast()
    }

    /// Records that the consumer finished handling `n` popped items.
    package func markCompleted(_ n: Int) {
        lock()
        completed_ &+= UInt64(n)
        unlock()
    }

    /// Items currently queued.
    package var depth: Int { lock(); defer { unlock() }; return count_ }
    /// Whether ``close()`` was called.
    package var isClosed: Bool { lock(); defer { unlock() }; return closed_ }
    /// Items ever accepted.
    package var pushed: UInt64 { lock(); defer { unlock() }; return pushed_ }
    /// Items the consumer reported as handled.
    package var completed: UInt64 { lock(); defer { unlock() }; return completed_ }
}
