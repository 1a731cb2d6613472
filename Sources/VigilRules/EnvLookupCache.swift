#if canImport(Glibc)
import Glibc
#endif
import VigilState

/// Results of `proc.env[NAME]` lookups in the last environment block searched, kept between
/// events: processes mostly inherit their environment unchanged (every exec of a storm, every
/// process of a container), so the next process's block is usually byte-for-byte the same and
/// its lookups are answered without scanning it again.
///
/// Exact by construction: a lookup's result is a function of the block's bytes and the name
/// only, and the cache holds a copy of the block's bytes; a block that is not equal to it
/// (length, then memcmp(3)) replaces it and invalidates every result. The comparison is done
/// once per process per event (``RuleScratch/eventNumber``), not per lookup.
final class EnvLookupCache {
    /// One name's result in the cached block: `start..<end` of the value, or `start == -1`
    /// (absent). Valid while `blockGen` equals the cache's.
    struct Entry { var key: [UInt8]; var blockGen: UInt64; var start: Int; var end: Int }

    /// At most this many distinct names are cached (rule sets read a handful; more are looked up uncached).
    static let maxNames = 16

    @exclusivity(unchecked) private var bytes: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var capacity: Int
    /// The cached block's length, or -1 when nothing is cached.
    @exclusivity(unchecked) private var count = -1
    /// Bumped whenever the cached block changes.
    @exclusivity(unchecked) private var blockGen: UInt64 = 1
    @exclusivity(unchecked) private var entries: [Entry] = []
    /// The process and event (``RuleScratch/eventNumber``) whose block was last found equal to
    /// the cached one (held, so that no other process can take its address meanwhile).
    @exclusivity(unchecked) private var checkedProcess: ProcessInfo?
    @exclusivity(unchecked) private var checkedEvent: UInt64 = 0

    init() {
        capacity = 4096
        bytes = .allocate(capacity: capacity)
        entries.reserveCapacity(Self.maxNames)
    }

    deinit { bytes.deallocate() }

    /// Makes `block` (the environment of `process`, evaluated in event `event`) the cached
    /// block: a no-op when it already is (checked by bytes, or known from an earlier check for
    /// the same process in the same event: a process's environment changes only at its exec,
    /// never while one event is evaluated).
    @inline(__always)
    func use(_ block: UnsafeBufferPointer<UInt8>, of process: ProcessInfo, event: UInt64) {
        if checkedEvent == event && checkedProcess === process { return }
        let n = block.count
        if n != count || (n > 0 && memcmp(bytes, block.baseAddress!, n) != 0) {
            if n > capacity {
                bytes.deallocate()
                capacity = max(n, capacity * 2)
                bytes = .allocate(capacity: capacity)
            }
            if n > 0 { bytes.update(from: block.baseAddress!, count: n) }
            count = n
            blockGen &+= 1
        }
        checkedEvent = event
        checkedProcess = process
    }

    /// The cached result for `key` in the current block: nil when not known, else the value's
    /// range (`start == -1`: absent).
    @inline(__always)
    func result(_ key: UnsafeBufferPointer<UInt8>) -> (start: Int, end: Int)? {
        for e in entries where e.key.count == key.count {
            let same = e.key.withUnsafeBufferPointer { memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }
            if same { return e.blockGen == blockGen ? (e.start, e.end) : nil }
        }
        return nil
    }

    /// Records `key`'s result in the current block (`start == -1`: absent).
    func store(_ key: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
        for k in entries.indices where entries[k].key.count == key.count {
            let same = entries[k].key.withUnsafeBufferPointer { memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }
            if same { entries[k].blockGen = blockGen; entries[k].start = start; entries[k].end = end; return }
        }
        guard entries.count < Self.maxNames else { return }
        entries.append(Entry(key: Array(key), blockGen: blockGen, start: start, end: end))
    }
}
