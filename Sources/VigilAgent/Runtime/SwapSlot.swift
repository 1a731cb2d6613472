import Synchronization

/// An atomically swappable reference: written rarely (reload), read on the hot path.
///
/// Writers take a mutex and bump a generation counter; readers keep a
/// ``SwapSlot/Reader`` that re-reads the reference only when the generation
/// changed, so the per-event cost is one relaxed-acquire atomic load.
package final class SwapSlot<Value: AnyObject>: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private var current: Value
    private let generationCounter = Atomic<UInt64>(1)

    package init(_ initial: Value) { current = initial }

    /// The current value (takes the lock).
    package func load() -> Value { lock.withLock { _ in current } }

    /// The generation, bumped by every ``store(_:)``.
    @inline(__always) package var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// Replaces the value; returns the old one.
    @discardableResult
    package func store(_ new: Value) -> Value {
        let old = lock.withLock { _ -> Value in
            let o = current
            current = new
            return o
        }
        generationCounter.wrappingAdd(1, ordering: .releasing)
        return old
    }

    /// A per-thread cached view of the slot.
    package struct Reader {
        package private(set) var value: Value
        private var seen: UInt64
        private let slot: SwapSlot<Value>

        package init(_ slot: SwapSlot<Value>) {
            self.slot = slot
            self.seen = slot.generation
            self.value = slot.load()
        }

        /// Re-reads the value if it was swapped since the last call; returns whether it changed.
        @inline(__always) @discardableResult
        package mutating func refresh() -> Bool {
            let g = slot.generation
            guard g != seen else { return false }
            value = slot.load()
            seen = g
            return true
        }
    }
}
