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
/// (same heap storage, held; else length, then memcmp(3)) replaces it and invalidates every result. The comparison is done
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
    /// The string whose bytes were last found equal to (or copied into) the cached block, and
    /// the address of its storage when that is on the heap (nil otherwise).
    @exclusivity(unchecked) private var held = ""
    @exclusivity(unchecked) private var heldBase: UnsafePointer<UInt8>?

    init() {
        capacity = 4096
        bytes = .allocate(capacity: capacity)
        entries.reserveCapacity(Self.maxNames)
    }

    deinit { bytes.deallocate() }

    /// Makes `block` (the environment of `process`, evaluated in event `event`) the cached
    /// block: a no-op when it already is. Known without reading the bytes when the same
    /// process was checked in the same event (a process's environment changes only at its
    /// exec, never while one event is evaluated), or when `block` is the storage of the string
    /// held from the last comparison (the table shares one string among the processes that
    /// inherited it unchanged; held, that storage can be neither freed nor changed in place).
    /// Else compared byte for byte.
    @inline(__always)
    func use(_ block: UnsafeBufferPointer<UInt8>, of process: ProcessInfo, event: UInt64) {
        if checkedEvent == event && checkedProcess === process { return }
        let n = block.count
        if n != count || heldBase == nil || block.baseAddress != heldBase {
            compare(block, of: process)
        }
        checkedEvent = event
        checkedProcess = process
    }

    /// Whether the cached block is `process`'s environment, as ``use(_:of:event:)`` found in this event.
    @inline(__always)
    func isCurrent(_ process: ProcessInfo, event: UInt64) -> Bool {
        checkedEvent == event && checkedProcess === process
    }

    /// ``use(_:of:event:)`` when the storage is not the held one.
    @inline(never)
    private func compare(_ block: UnsafeBufferPointer<UInt8>, of process: ProcessInfo) {
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
        // Hold the process's string when `block` is its heap storage (more than 15 bytes: a
        // shorter one is stored inline and read through a temporary whose address means nothing).
        held = process.envBlock
        heldBase = nil
        if n > 15 {
            let base = held.withUTF8 { $0.baseAddress }
            if base == block.baseAddress { heldBase = base }
        }
    }

    /// The cached result for `key` in the current block: nil when not known, else the value's
    /// range (`start == -1`: absent).
    @inline(__always)
    func result(_ key: UnsafeBufferPointer<UInt8>) -> (start: Int, end: Int)? {
        for e in entries where e.key.count == key.count && Self.equal(e.key, key) {
            return e.blockGen == blockGen ? (e.start, e.end) : nil
        }
        return nil
    }

    /// Whether the stored name `a` is `b` (names are short: compared in line).
    @inline(__always)
    static func equal(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        a.withUnsafeBufferPointer { x in
            var i = 0
            while i < b.count { if x[i] != b[i] { return false }; i += 1 }
            return true
        }
    }

    /// Records `key`'s result in the current block (`start == -1`: absent).
    func store(_ key: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
        for k in entries.indices where entries[k].key.count == key.count && Self.equal(entries[k].key, key) {
            entries[k].blockGen = blockGen; entries[k].start = start; entries[k].end = end; return
        }
        guard entries.count < Self.maxNames else { return }
        entries.append(Entry(key: Array(key), blockGen: blockGen, start: start, end: end))
    }
}
