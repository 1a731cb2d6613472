import VigilCore
/// A small per-thread front cache for ``ContainerEnricher`` lookups, for the decoding thread.
///
/// The enricher's own lookup takes a lock and probes a hashed map (about 100-200 ns). This cache
/// is owned by one thread (not `Sendable`): a 1024-slot direct-mapped table of recent cgroup ids,
/// valid while the enricher's ``ContainerEnricher/generation`` is unchanged (one atomic load per
/// lookup). Any change to any cached container (a new container, new pod metadata) clears it, so it
/// never serves stale data; that happens at container-churn rate, not event rate.
///
/// ```swift
/// let containers = ContainerLookupCache(enricher)       // once, on the decoding thread
/// let lookup = containers.container(forCgroupID: ev.cgroupID, cgroupPathHint: ev.cgroupPath, pid: ev.pid)
/// ```
/// Hits are counted in ``EnrichmentMetrics/cacheHits`` in batches of 1024.
package final class ContainerLookupCache {
    package let enricher: ContainerEnricher
    private static let slots = 1024
    private let keys: UnsafeMutablePointer<UInt64>
    private let infos: UnsafeMutablePointer<ContainerInfo?>
    private let complete: UnsafeMutablePointer<Bool>
    private var generation: UInt64
    private var uncountedHits: UInt64 = 0

    package init(_ enricher: ContainerEnricher) {
        self.enricher = enricher
        keys = .allocate(capacity: Self.slots)
        keys.initialize(repeating: 0, count: Self.slots)
        infos = .allocate(capacity: Self.slots)
        infos.initialize(repeating: nil, count: Self.slots)
        complete = .allocate(capacity: Self.slots)
        complete.initialize(repeating: false, count: Self.slots)
        generation = enricher.generation
    }

    deinit {
        enricher.metrics.cacheHits.add(uncountedHits)
        keys.deallocate()
        infos.deinitialize(count: Self.slots)
        infos.deallocate()
        complete.deallocate()
    }

    /// Same contract as ``ContainerEnricher/container(forCgroupID:cgroupPathHint:pid:)``.
    /// A front hit is a generation check, a multiply and two loads: no lock, no allocation.
    @inline(__always)
    package func container(forCgroupID id: UInt64, cgroupPathHint: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                          pid: UInt32 = 0) -> ContainerLookup {
        let g = enricher.generation
        if g != generation { clear(g) }
        let slot = Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 54) // top 10 bits
        if keys[slot] == id, let info = infos[slot], cgroupPathHint.count == 0 || info !== ContainerInfo.unresolved {
            uncountedHits &+= 1
            if uncountedHits == 1024 { enricher.metrics.cacheHits.add(1024); uncountedHits = 0 }
            return complete[slot] ? .known(info) : .partial(info)
        }
        return fill(id, slot, cgroupPathHint, pid)
    }

    @inline(never)
    private func fill(_ id: UInt64, _ slot: Int, _ hint: UnsafeRawBufferPointer, _ pid: UInt32) -> ContainerLookup {
        let before = enricher.generation
        let r = enricher.container(forCgroupID: id, cgroupPathHint: hint, pid: pid)
        // A miss may have changed the generation (new entry): sync first so the slot survives.
        let g = enricher.generation
        if g != generation { clear(g) }
        if let info = r.info {
            keys[slot] = id; infos[slot] = info; complete[slot] = r.isComplete
            // The worker may have completed this container between the lookup and the
            // generation read: `r` could be older than `g`. Remember the generation seen
            // before the lookup so the next call re-reads once, instead of serving a stale
            // partial entry until some other container changes.
            if g != before { generation = before }
        }
        return r
    }

    @inline(never)
    private func clear(_ g: UInt64) {
        keys.update(repeating: 0, count: Self.slots)
        for i in 0..<Self.slots { infos[i] = nil }
        generation = g
    }
}
