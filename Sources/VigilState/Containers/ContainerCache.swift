/// One cached cgroup: what the decoding thread gets back, and what the enricher needs to
/// refresh it when more metadata arrives.
struct ContainerCacheEntry {
    /// What lookups return (immutable, shared).
    var info: ContainerInfo
    /// True when nothing more is expected (host, or container with pod metadata).
    var complete: Bool
    /// Set on every hit; cleared by the eviction hand (second-chance / CLOCK).
    var referenced: Bool
    /// The container the path named (nil for host and unresolved cgroups).
    var identity: ContainerIdentity?
    /// The path relative to the cgroup root, when known.
    var path: String?
    /// Node-local runtime metadata, once read (nil before or when there is none).
    var runtimeMetadata: RuntimeContainerMetadata?
    /// Whether the node-local lookup has run.
    var runtimeLookupDone: Bool
}

/// A bounded map cgroup id -> entry with second-chance (CLOCK) eviction.
///
/// A hit is a dictionary probe plus setting a flag in place: no allocation, one retain (of the
/// returned `ContainerInfo`). The fields a hit needs live in a small hot entry; the rest (paths,
/// identities, runtime metadata) in a second map touched only off the hot path. Eviction walks a
/// ring of keys in insertion order, skipping (and clearing) recently referenced entries.
/// Not thread-safe: the enricher keeps it behind a `Mutex`.
struct ContainerCache {
    struct Hot {
        var info: ContainerInfo
        var complete: Bool
        var referenced: Bool
    }
    struct Cold {
        var identity: ContainerIdentity?
        var path: String?
        var runtimeMetadata: RuntimeContainerMetadata?
        var runtimeLookupDone: Bool
    }
    private(set) var map: [UInt64: Hot]
    private var cold: [UInt64: Cold]
    private var ring: [UInt64]
    private var hand = 0
    let capacity: Int
    /// Entries evicted to make room.
    private(set) var evictions: UInt64 = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        map = Dictionary(minimumCapacity: self.capacity)
        cold = Dictionary(minimumCapacity: self.capacity)
        ring = []
        ring.reserveCapacity(self.capacity)
    }

    var count: Int { map.count }

    /// A hit marks the entry referenced. Allocation-free.
    @inline(__always)
    mutating func lookup(_ id: UInt64) -> (ContainerInfo, Bool)? {
        guard let i = map.index(forKey: id) else { return nil }
        map.values[i].referenced = true
        let h = map.values[i]
        return (h.info, h.complete)
    }

    func peek(_ id: UInt64) -> ContainerCacheEntry? {
        guard let h = map[id], let c = cold[id] else { return nil }
        return ContainerCacheEntry(info: h.info, complete: h.complete, referenced: h.referenced, identity: c.identity,
                                   path: c.path, runtimeMetadata: c.runtimeMetadata, runtimeLookupDone: c.runtimeLookupDone)
    }

    private mutating func store(_ id: UInt64, _ e: ContainerCacheEntry) {
        map[id] = Hot(info: e.info, complete: e.complete, referenced: e.referenced)
        cold[id] = Cold(identity: e.identity, path: e.path, runtimeMetadata: e.runtimeMetadata, runtimeLookupDone: e.runtimeLookupDone)
    }

    /// Inserts or replaces. Returns true if an entry was evicted to make room.
    @discardableResult
    mutating func insert(_ id: UInt64, _ entry: ContainerCacheEntry) -> Bool {
        if map[id] != nil { store(id, entry); return false }
        var evicted = false
        if map.count >= capacity { evictOne(); evicted = true }
        store(id, entry)
        if ring.count < capacity { ring.append(id) } else { ring[hand] = id; hand = (hand + 1) % capacity }
        return evicted
    }

    /// Updates an existing entry; false if absent.
    @discardableResult
    mutating func update(_ id: UInt64, _ body: (inout ContainerCacheEntry) -> Void) -> Bool {
        guard var e = peek(id) else { return false }
        body(&e)
        store(id, e)
        return true
    }

    mutating func remove(_ id: UInt64) {
        map.removeValue(forKey: id) // its ring slot becomes stale and is skipped by the hand
        cold.removeValue(forKey: id)
    }

    private mutating func evictOne() {
        // The ring holds every live key (plus stale slots of removed keys, skipped); at most two sweeps.
        var steps = 0
        while steps < 2 * ring.count + 1 {
            let key = ring[hand]
            if let i = map.index(forKey: key) {
                if map.values[i].referenced && steps < ring.count {
                    map.values[i].referenced = false
                } else {
                    map.remove(at: i)
                    cold.removeValue(forKey: key)
                    evictions &+= 1
                    return // the hand stays here: insert() writes the new key into this slot
                }
            }
            hand = (hand + 1) % ring.count
            steps += 1
        }
    }

    /// Ids whose entry matches `predicate` (for refreshes off the hot path).
    func ids(where predicate: (ContainerCacheEntry) -> Bool) -> [UInt64] {
        map.keys.compactMap { id in peek(id).flatMap { predicate($0) ? id : nil } }
    }
}
