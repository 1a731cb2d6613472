#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilState

/// Results of the comparisons that depend on nothing but the event fd's name and type
/// (`fd.name`, `fd.directory`, `fd.filename`, with transformers: ``HotCheck/memoBit``), kept
/// per file name between events.
///
/// A node opens the same files over and over (a program's libraries and locale files at each
/// exec, configuration files, `/proc` entries), and a rule set tests each open's name against
/// many lists, prefixes and patterns. Such a comparison is a pure function of the name's bytes
/// and the fd's type (which decides `fd.directory` and `fd.filename`), so its result for an
/// earlier event with the same name and type is its result now: this memo returns it instead
/// of comparing again, and computes (and keeps) what it has not seen yet.
///
/// A two-way set-associative table of ``slots`` entries keyed by a hash of the name and type (two
/// names of the thirty a program opens at start often share a set; a set keeps both, and a third
/// replaces the one used less recently); an entry keeps a copy of the name's bytes (names longer
/// than ``maxNameBytes`` are not kept) and the fd type, and is used only when both are equal to
/// the event's. Each entry holds two bit sets over the rule
/// set's memoised comparisons: which are known, and their results. The memo belongs to one rule
/// set at a time (``RuleSet/memoID``): another set clears it. One per ``RuleScratch``.
final class PathCheckMemo {
    /// Entries in the table (a power of two): ``slots`` / 2 sets of two.
    static let slots = 512
    /// Longest name kept (bytes).
    static let maxNameBytes = 192

    private struct Entry {
        var hash: UInt64 = 0
        /// Length of the name, -1 while the entry is empty.
        var length: Int32 = -1
        /// The fd type's tag.
        var kind: UInt8 = 0
    }

    @exclusivity(unchecked) private var entries: UnsafeMutablePointer<Entry>
    /// The names' bytes, ``maxNameBytes`` per entry.
    private let names: UnsafeMutablePointer<UInt8>
    /// Per set: the way used last (the other is replaced on a miss).
    private let lastUsed: UnsafeMutablePointer<UInt8>
    /// Per entry: `words` words of "known" bits, then `words` words of results.
    @exclusivity(unchecked) private var bits: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) private var words = 0
    /// The rule set the results are for (0: none yet).
    @exclusivity(unchecked) private var owner: UInt64 = 0
    /// The event (scratch generation) ``current`` was found for, and the entry (-1: the event's
    /// name is not memoised: no fd, or a long name).
    @exclusivity(unchecked) private var currentGen: UInt32 = 0
    @exclusivity(unchecked) private var current = -1
    /// Results entered from the memo into events' comparison caches, and results computed into
    /// it (for tests and benchmarks).
    @exclusivity(unchecked) private(set) var hits: UInt64 = 0
    @exclusivity(unchecked) private(set) var misses: UInt64 = 0

    init() {
        entries = .allocate(capacity: Self.slots)
        entries.initialize(repeating: Entry(), count: Self.slots)
        names = .allocate(capacity: Self.slots * Self.maxNameBytes)
        lastUsed = .allocate(capacity: Self.slots / 2)
        lastUsed.initialize(repeating: 0, count: Self.slots / 2)
        bits = .allocate(capacity: 1)
    }

    deinit {
        entries.deallocate()
        names.deallocate()
        lastUsed.deallocate()
        bits.deallocate()
    }

    /// For each memoised comparison (bit), its index in the rule set's checks.
    @exclusivity(unchecked) private var checkOfBit: UnsafePointer<Int32>?

    /// Makes the memo the rule set `id`'s, with `count` memoised comparisons whose check
    /// indices are `checkOfBit` (drops everything kept for another set).
    @inline(__always) func use(_ id: UInt64, count: Int, checkOfBit: UnsafePointer<Int32>) {
        if owner == id { return }
        reset(id, count: count)
        self.checkOfBit = checkOfBit
    }

    @inline(never) private func reset(_ id: UInt64, count: Int) {
        owner = id
        words = max(1, (count + 63) / 64)
        bits.deallocate()
        bits = .allocate(capacity: Self.slots * 2 * words)
        bits.initialize(repeating: 0, count: Self.slots * 2 * words)
        for k in 0..<Self.slots { entries[k] = Entry() }
        currentGen = 0
        current = -1
    }

    /// The result of memoised comparison `bit` for the current event, if known. `gen` is the
    /// scratch's event generation. The event's entry is looked up once per event, and then every
    /// result it holds is entered in the event's comparison cache (`marks`, ``RuleScratch/checkMarks``
    /// with `key`), so that the other comparisons of the name it knows cost no call.
    @inline(__always) func result(_ bit: Int32, gen: UInt32, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch,
                                  marks: UnsafeMutablePointer<UInt32>, key: UInt32) -> Bool? {
        if currentGen != gen { find(gen, cp, s, marks: marks, key: key) }
        guard current >= 0 else { return nil }
        let w = Int(bit) >> 6, m: UInt64 = 1 << UInt64(bit & 63)
        let base = bits + current * 2 * words
        guard base[w] & m != 0 else { return nil }
        return base[words + w] & m != 0
    }

    /// Keeps the result of memoised comparison `bit` for the current event's name (after ``result(_:gen:_:_:)``).
    @inline(__always) func store(_ bit: Int32, _ r: Bool) {
        guard current >= 0 else { return }
        misses &+= 1
        let w = Int(bit) >> 6, m: UInt64 = 1 << UInt64(bit & 63)
        let base = bits + current * 2 * words
        base[w] |= m
        if r { base[words + w] |= m } else { base[words + w] &= ~m }
    }

    /// Finds (or makes) the entry of the current event's fd name and type.
    @inline(never) private func find(_ gen: UInt32, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch,
                                     marks: UnsafeMutablePointer<UInt32>, key: UInt32) {
        currentGen = gen
        current = -1
        guard let fd = FieldExtractor.fdPointer(cp, s) else { return }
        let name = FieldExtractor.fdName(fd, s)
        let n = Int(name.len)
        guard n <= Self.maxNameBytes else { return }
        let bytes = name.bytes
        let kind = unsafeBitCast(fd.pointee.kind, to: UInt8.self)
        let h = fnvHash(bytes) ^ (UInt64(kind) &* 0x9E37_79B9_7F4A_7C15)  // a name as a file and as a directory: two entries
        let set = Int(truncatingIfNeeded: h >> 40) & (Self.slots / 2 - 1)
        for way in 0..<2 {
            let k = set * 2 + way
            let e = entries + k
            if e.pointee.length == Int32(n) && e.pointee.hash == h && e.pointee.kind == kind
                && (n == 0 || memcmp(names + k * Self.maxNameBytes, bytes.baseAddress!, n) == 0) {
                current = k
                lastUsed[set] = UInt8(way)
                // Every result known for this name, into the event's comparison cache.
                if let checkOfBit {
                    let known = bits + k * 2 * words, results = known + words
                    for w in 0..<words {
                        var m = known[w]
                        while m != 0 {
                            let b = m.trailingZeroBitCount
                            let hit = results[w] & (1 << UInt64(b)) != 0
                            marks[Int(checkOfBit[w * 64 + b])] = key | (hit ? 1 : 0)
                            hits &+= 1
                            m &= m &- 1
                        }
                    }
                }
                return
            }
        }
        let way = 1 - Int(lastUsed[set])
        lastUsed[set] = UInt8(way)
        let k = set * 2 + way
        let e = entries + k
        let stored = names + k * Self.maxNameBytes
        // A new name in this entry: forget the old one's results.
        e.pointee = Entry(hash: h, length: Int32(n), kind: kind)
        if n > 0 { memcpy(stored, bytes.baseAddress!, n) }
        (bits + k * 2 * words).update(repeating: 0, count: words)
        current = k
    }

    /// Distinct ids for rule sets (``RuleSet/memoID``).
    static let ids = Atomic<UInt64>(0)
    static func nextID() -> UInt64 { ids.add(1, ordering: .relaxed).newValue }
}
