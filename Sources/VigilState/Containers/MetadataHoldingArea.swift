import VigilCore
/// A bounded holding area for events or alerts whose container or pod metadata is still
/// being fetched (Tetragon-style: retry for a while, then go out with what is known).
///
/// The pipeline thread owns it (not thread-safe). Typical use:
/// ```swift
/// let lookup = enricher.container(forCgroupID: id, cgroupPathHint: hint, pid: pid)
/// if lookup.isComplete || !holding.hold(alert, cgroupID: id, pid: pid, nowNs: now) {
///     emit(alert, lookup.info)              // complete, or the area is full (counted)
/// }
/// // on every loop turn / timer tick:
/// holding.poll(nowNs: now, enricher: enricher) { alert, lookup, late in emit(alert, lookup.info) }
/// ```
/// An item is re-checked every ``Configuration/retryIntervalNs`` and released as soon as its
/// lookup is complete (counted in ``EnrichmentMetrics/heldThenResolved``), or after
/// ``Configuration/maxWaitNs`` with whatever is known (counted in ``EnrichmentMetrics/lateMetadata``).
package struct MetadataHoldingArea<Element> {
    package struct Configuration: Sendable {
        /// Longest an item waits (default 2 s; Tetragon waits up to 15 x 2 s).
        package var maxWaitNs: UInt64 = 2_000_000_000
        /// How often a held item's lookup is retried (default 50 ms).
        package var retryIntervalNs: UInt64 = 50_000_000
        /// Most items held; beyond it ``hold(_:cgroupID:pid:nowNs:)`` refuses.
        package var capacity = 4096
        package init(maxWaitNs: UInt64 = 2_000_000_000, retryIntervalNs: UInt64 = 50_000_000, capacity: Int = 4096) {
            self.maxWaitNs = maxWaitNs; self.retryIntervalNs = retryIntervalNs; self.capacity = capacity
        }
    }

    struct Item {
        var element: Element
        var cgroupID: UInt64
        var pid: UInt32
        var heldAtNs: UInt64
        var nextTryNs: UInt64
        var attempts: Int
    }

    package let configuration: Configuration
    package let metrics: EnrichmentMetrics
    private var items: [Item] = []

    package init(configuration: Configuration = Configuration(), metrics: EnrichmentMetrics) {
        self.configuration = configuration
        self.metrics = metrics
    }

    /// Items currently held.
    package var count: Int { items.count }
    /// Whether nothing is held (the pipeline can skip ``poll(nowNs:enricher:release:)``).
    package var isEmpty: Bool { items.isEmpty }

    /// Holds `element` until cgroup `cgroupID`'s metadata is complete or the wait is over.
    /// Returns false (and counts an overflow and a late event) when full: emit it now.
    package mutating func hold(_ element: Element, cgroupID: UInt64, pid: UInt32 = 0, nowNs: UInt64) -> Bool {
        guard items.count < configuration.capacity else {
            metrics.holdOverflow.add()
            metrics.lateMetadata.add()
            return false
        }
        items.append(Item(element: element, cgroupID: cgroupID, pid: pid, heldAtNs: nowNs,
                          nextTryNs: nowNs &+ configuration.retryIntervalNs, attempts: 0))
        return true
    }

    /// Releases, in arrival order, every item whose metadata is now complete or whose wait is
    /// over. `late` is true for the latter.
    package mutating func poll(nowNs: UInt64, enricher: ContainerEnricher,
                              release: (Element, ContainerLookup, _ late: Bool) -> Void) {
        guard !items.isEmpty else { return }
        var kept: [Item] = []
        kept.reserveCapacity(items.count)
        for var item in items {
            let expired = nowNs &- item.heldAtNs >= configuration.maxWaitNs
            if !expired && nowNs < item.nextTryNs { kept.append(item); continue }
            let lookup = enricher.container(forCgroupID: item.cgroupID, pid: item.pid)
            if lookup.isComplete {
                metrics.heldThenResolved.add()
                release(item.element, lookup, false)
            } else if expired {
                metrics.lateMetadata.add()
                release(item.element, lookup, true)
            } else {
                item.attempts += 1
                item.nextTryNs = nowNs &+ configuration.retryIntervalNs
                kept.append(item)
            }
        }
        items = kept
    }

    /// Releases everything now (shutdown), incomplete items counted as late.
    package mutating func flush(enricher: ContainerEnricher, release: (Element, ContainerLookup, _ late: Bool) -> Void) {
        for item in items {
            let lookup = enricher.container(forCgroupID: item.cgroupID, pid: item.pid)
            if !lookup.isComplete { metrics.lateMetadata.add() }
            release(item.element, lookup, !lookup.isComplete)
        }
        items.removeAll()
    }
}
