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
/// A hit is a dictionary probe plus setting a flag in place: no allocation. Eviction walks a
/// ring of keys in insertion order, skipping (and clearing) recently referenced entries.
/// Not thread-safe: the enricher keeps it behind a `Mutex`.
struct ContainerCache {
    private(set) var map: [UInt64: ContainerCacheEntry]
    private var ring: [UInt64]
    private var hand = 0
    let capacity: Int
    /// Entries evicted to make room.
    private(set) var evictions: UInt64 = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        map = Dictionary(minimumCapacity: self.capacity)
        ring = []
        ring.reserveCapacity(self.capacity)
    }

    var count: Int { map.count }

    /// A hit marks the entry referenced. Allocation-free.
    @inline(__always)
    mutating func lookup(_ id: UInt64) -> (ContainerInfo, Bool)? {
        guard let i = map.index(forKey: id) else { return nil }
        map.values[i].referenced = true
        let e = map.values[i]
        return (e.info, e.complete)
    }

    func peek(_ id: UInt64) -> ContainerCacheEntry? { map[id] }

    /// Inserts or replaces. Returns true if an entry was evicted to make room.
    @discardableResult
    mutating func insert(_ id: UInt64, _ entry: ContainerCacheEntry) -> Bool {
        if map[id] != nil { map[id] = entry; return false }
        var evicted = false
        if map.count >= capacity { evictOne(); evicted = true }
        map[id] = entry
        if ring.count < capacity { ring.append(id) } else { ring[hand] = id; hand = (hand + 1) % capacity }
        return evicted
    }

    /// Updates an existing entry in place; false if absent.
    @discardableResult
    mutating func update(_ id: UInt64, _ body: (inout ContainerCacheEntry) -> Void) -> Bool {
        guard let i = map.index(forKey: id) else { return false }
        body(&map.values[i])
        return true
    }

    mutating func remove(_ id: UInt64) {
        map.removeValue(forKey: id) // its ring slot becomes stale and is reused by the hand
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
        map.compactMap { predicate($0.value) ? $0.key : nil }
    }
}
