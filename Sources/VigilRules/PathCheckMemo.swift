#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilDecode
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
///
/// Each entry also keeps the **trace** of the last evaluation of an event with its name (for one
/// event type): the other comparisons that evaluation consulted (those that are not functions of
/// the name: `evt.is_open_read`, `proc.name`, `fd.nlink`, ...), in the order it first consulted
/// them, with their results, and the candidates that matched. Which comparisons ``RuleSet/match``
/// consults, and in what order, is decided by the results of those it consulted before (the
/// guard tree and the branch programs are fixed), and the name's comparisons give the same
/// results for every event with this name and fd type. So an event of the same type whose
/// traced comparisons give the recorded results, tested in the recorded order, takes the same
/// walk and matches the same candidates: ``replay(_:type:_:_:_:steps:)`` tests just those and
/// returns the recorded matches. At the first comparison whose result differs it stops (every
/// comparison it tested is one the walk tests first) and the walk runs in full, from the event's
/// comparison cache, recording a new trace (``record(_:_:)``). A trace is also keyed by the
/// event's ``signature(_:)`` (its open direction, compat bit and the sign of its result), so
/// the comparisons those decide (``HotCheck/bySignature``) need no test in a replay.
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
    /// Events whose matches came from their entry's trace, and traces that stopped at a
    /// comparison whose result differed (for tests and benchmarks).
    @exclusivity(unchecked) private(set) var replays: UInt64 = 0
    @exclusivity(unchecked) private(set) var replayMisses: UInt64 = 0

    /// Traces of events without an fd, one per event type (modulo this): an exec's walk is
    /// replayed as an open's is, keyed by its type and signature alone.
    static let typeRows = 16
    /// Trace rows: one per entry, then ``typeRows``.
    static let traceRows = slots + typeRows

    /// The trace row of events of type `t` without an fd.
    @inline(__always) func typeRow(_ t: Int) -> Int { Self.slots + (t & (Self.typeRows - 1)) }

    /// Whether the current event's name has an entry (its comparisons of the name are memoised).
    @inline(__always) var hasEntry: Bool { current >= 0 }

    /// Comparisons a trace holds at most (a longer walk is not traced).
    static let traceChecks = 48
    /// Matching candidates a trace holds at most (more: not traced).
    static let traceMatches = 8

    /// An entry's trace (``traceCheck`` and ``traceMatch`` hold its comparisons and matches).
    private struct Trace {
        /// The event type it was recorded for; -1: no trace.
        var type: Int32 = -1
        /// The event's ``PathCheckMemo/signature(_:)``.
        var signature: UInt32 = 0
        /// Comparisons recorded (the first `count` of the entry's ``traceCheck`` row).
        var count: Int32 = 0
        /// Matching candidates recorded (positions in the type's candidate list, ascending).
        var matches: Int32 = 0
        /// Bit k: the result of the k-th comparison.
        var results: UInt64 = 0
        /// Bit k: ``traceString`` holds the string the k-th comparison read (``HotCheck/snapshot``).
        var strings: UInt64 = 0
    }
    @exclusivity(unchecked) private var traces: UnsafeMutablePointer<Trace>
    /// Per trace row, ``traceChecks`` comparison indices.
    private let traceCheck: UnsafeMutablePointer<Int32>
    /// Per entry, ``traceMatches`` candidate positions.
    private let traceMatch: UnsafeMutablePointer<Int32>
    /// Per entry, ``traceChecks`` strings: for a comparison of a process string
    /// (``HotCheck/snapshot``), the string it compared (kept alive here, so that the same bits
    /// later mean the same contents: ``Swift/String/isIdentical(to:)``).
    private let traceString: UnsafeMutablePointer<String>
    @exclusivity(unchecked) private var recordStrings: UInt64 = 0
    /// Slots of the identity table in front of the entries (a power of two).
    static let identitySlots = 256
    /// An identity slot: the bits of a name string (``Swift/String/isIdentical(to:)``), the fd
    /// type, and the entry found for them (valid while the entry's stamp is `stamp`).
    private struct IdentitySlot {
        var bits0: UInt64 = 0
        var bits1: UInt64 = 0
        var kind: UInt8 = 0
        var entry: Int32 = -1
        var stamp: UInt32 = 0
    }
    @exclusivity(unchecked) private var identity: UnsafeMutablePointer<IdentitySlot>
    /// The string of each identity slot, kept alive (so that its bits cannot come back as another string's).
    private let identityNames: UnsafeMutablePointer<String>
    /// Per entry: changed whenever the entry gets another name.
    private let stamps: UnsafeMutablePointer<UInt32>
    /// Events whose entry was found by their name string's identity (for tests and benchmarks).
    @exclusivity(unchecked) private(set) var identityHits: UInt64 = 0

    /// The entry whose trace the current evaluation records (-1: none), and how far it got.
    @exclusivity(unchecked) private var recordingEntry = -1
    @exclusivity(unchecked) private var recordCount = 0
    @exclusivity(unchecked) private var recordResults: UInt64 = 0

    init() {
        entries = .allocate(capacity: Self.slots)
        entries.initialize(repeating: Entry(), count: Self.slots)
        names = .allocate(capacity: Self.slots * Self.maxNameBytes)
        lastUsed = .allocate(capacity: Self.slots / 2)
        lastUsed.initialize(repeating: 0, count: Self.slots / 2)
        bits = .allocate(capacity: 1)
        traces = .allocate(capacity: Self.traceRows)
        traces.initialize(repeating: Trace(), count: Self.traceRows)
        traceCheck = .allocate(capacity: Self.traceRows * Self.traceChecks)
        traceMatch = .allocate(capacity: Self.traceRows * Self.traceMatches)
        traceString = .allocate(capacity: Self.traceRows * Self.traceChecks)
        traceString.initialize(repeating: "", count: Self.traceRows * Self.traceChecks)
        identity = .allocate(capacity: Self.identitySlots)
        identity.initialize(repeating: IdentitySlot(), count: Self.identitySlots)
        identityNames = .allocate(capacity: Self.identitySlots)
        identityNames.initialize(repeating: "", count: Self.identitySlots)
        stamps = .allocate(capacity: Self.slots)
        stamps.initialize(repeating: 0, count: Self.slots)
    }

    deinit {
        entries.deallocate()
        names.deallocate()
        lastUsed.deallocate()
        bits.deallocate()
        traces.deallocate()
        traceCheck.deallocate()
        traceMatch.deallocate()
        traceString.deinitialize(count: Self.traceRows * Self.traceChecks)
        traceString.deallocate()
        identity.deallocate()
        identityNames.deinitialize(count: Self.identitySlots)
        identityNames.deallocate()
        stamps.deallocate()
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
        for k in 0..<Self.traceRows { traces[k] = Trace() }
        for k in 0..<(Self.traceRows * Self.traceChecks) { traceString[k] = "" }  // the other set's processes' strings
        for k in 0..<Self.identitySlots { identity[k] = IdentitySlot(); identityNames[k] = "" }
        currentGen = 0
        current = -1
        recordingEntry = -1
    }

    /// The result of memoised comparison `bit` for the current event, if known. `gen` is the
    /// scratch's event generation. The event's entry is looked up once per event, and then every
    /// result it holds is entered in the event's comparison cache (`marks`, ``RuleScratch/checkMarks``
    /// with `key`), so that the other comparisons of the name it knows cost no call.
    @inline(__always) func result(_ bit: Int32, gen: UInt32, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch,
                                  marks: UnsafeMutablePointer<UInt32>, key: UInt32) -> Bool? {
        if currentGen != gen { find(gen, cp, s); enterKnown(marks: marks, key: key) }
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

    /// The entry of the current event's fd name and type, found (or made) once per event
    /// (`gen`, the scratch's event generation); -1 when the event's name is not memoised (no fd,
    /// or a long name).
    @inline(__always) func entry(gen: UInt32, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch) -> Int {
        if currentGen != gen { find(gen, cp, s) }
        return current
    }

    /// Enters every result the current event's entry knows in the event's comparison cache
    /// (`marks`, ``RuleScratch/checkMarks`` with `key`), so that the walk's tests of them cost no call.
    @inline(never) func enterKnown(marks: UnsafeMutablePointer<UInt32>, key: UInt32) {
        guard current >= 0, let checkOfBit else { return }
        let known = bits + current * 2 * words, results = known + words
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

    /// Tests the comparisons of entry `e`'s trace (when it was recorded for event type `type`)
    /// through `ev`, in order. All as recorded: the recorded matches are written to `found`
    /// and their number to `n`, and the result is true. Else false, and the walk that follows
    /// records a new trace for `e`, starting with the comparisons tested here (the walk tests
    /// those first, and finds their results in the event's comparison cache).
    @inline(__always) func replay(_ e: Int, type: Int, signature: UInt32, _ ev: Evaluator, _ found: UnsafeMutablePointer<Int32>,
                                  _ n: inout Int, steps: inout Int) -> Bool {
        let tr = traces + e
        let row = traceCheck + e * Self.traceChecks
        recordingEntry = -1  // the tests below are the trace's own: not recorded again
        guard tr.pointee.type == Int32(truncatingIfNeeded: type) && tr.pointee.signature == signature else {
            recordingEntry = e; recordCount = 0; recordResults = 0; recordStrings = 0
            return false
        }
        let count = Int(tr.pointee.count), results = tr.pointee.results
        let strings = traceString + e * Self.traceChecks
        var k = 0
        while k < count {
            let check = Int(row[k])
            let bit: UInt64 = 1 << UInt64(k)
            let recorded = results & bit != 0
            let r: Bool
            if tr.pointee.strings & bit != 0 {
                // A comparison of a process string: the same string (bits) has the same result.
                let now = ev.checks[check].snapshot.string(ev.ctxp, ev.s)
                if let now, now.isIdentical(to: strings[k]) {
                    r = recorded
                    ev.marks[check] = ev.key | (r ? 1 : 0)
                } else {
                    r = ev.computeAndMark(check)
                    if let now { strings[k] = now } else { tr.pointee.strings &= ~bit }
                }
            } else {
                r = ev.computeAndMark(check)  // not yet known: a trace's comparisons are distinct
            }
            steps &+= 1
            if r != recorded {
                // The walk goes elsewhere from here: it records again, after the tests made so far.
                tr.pointee.type = -1
                recordingEntry = e
                recordCount = k + 1
                recordResults = (results & (bit &- 1)) | (r ? bit : 0)
                recordStrings = tr.pointee.strings & ((bit << 1) &- 1)
                replayMisses &+= 1
                return false
            }
            k += 1
        }
        let m = Int(tr.pointee.matches)
        let stored = traceMatch + e * Self.traceMatches
        for j in 0..<m { found[j] = stored[j] }
        n = m
        replays &+= 1
        return true
    }

    /// Records comparison `check` (not one of the name's), first tested by the current walk
    /// with result `r`, in the trace being recorded (``replay(_:type:_:_:_:steps:)``).
    /// Whether a walk's trace is being recorded (``record(_:_:_:_:)`` keeps what it is given).
    @inline(__always) var isRecording: Bool { recordingEntry >= 0 }

    /// `snapshot`: the process string the comparison read (``HotCheck/snapshot``), if any, kept
    /// from the event's process (`cp`).
    @inline(__always) func record(_ check: Int32, _ r: Bool, _ snapshot: SnapshotField, _ cp: UnsafePointer<EventContext>,
                                  _ s: RuleScratch) {
        let e = recordingEntry
        guard e >= 0 else { return }
        record(e, check, r, snapshot.string(cp, s))
    }

    @inline(never) private func record(_ e: Int, _ check: Int32, _ r: Bool, _ string: String?) {
        let k = recordCount
        guard k < Self.traceChecks else { recordingEntry = -1; traces[e].type = -1; return }  // too long: not traced
        traceCheck[e * Self.traceChecks + k] = check
        if r { recordResults |= 1 << UInt64(k) }
        if let string {
            traceString[e * Self.traceChecks + k] = string
            recordStrings |= 1 << UInt64(k)
        }
        recordCount = k + 1
    }

    /// Ends the walk of entry `e` for event type `type`: keeps its trace (the comparisons
    /// recorded, and `found[0..<n]`, the matching candidates in ascending order), unless it was
    /// too long.
    @inline(__always) func finish(_ e: Int, type: Int, signature: UInt32, _ found: UnsafeMutablePointer<Int32>, _ n: Int) {
        guard recordingEntry == e, n <= Self.traceMatches else { recordingEntry = -1; traces[e].type = -1; return }
        recordingEntry = -1
        let stored = traceMatch + e * Self.traceMatches
        for j in 0..<n { stored[j] = found[j] }
        traces[e] = Trace(type: Int32(truncatingIfNeeded: type), signature: signature, count: Int32(recordCount),
                          matches: Int32(n), results: recordResults, strings: recordStrings & ((1 << UInt64(recordCount)) &- 1))
    }

    /// What the comparisons ``HotCheck/decidedBySignature(_:)`` depend on, in five bits:
    /// `evt.is_open_read`, `evt.is_open_write`, `evt.is_compat`, whether `evt.rawres` is
    /// negative, and whether it is zero. A trace is replayed only for an event with its signature.
    @inline(__always) static func signature(_ cp: UnsafePointer<EventContext>) -> UInt32 {
        let ev = cp.pointee.event
        let ret = ev.ret
        return (ev.isOpenRead ? 1 : 0) | (ev.isOpenWrite ? 2 : 0) | (ev.isCompat ? 4 : 0) | (ret < 0 ? 8 : 0) | (ret == 0 ? 16 : 0)
    }

    /// Finds (or makes) the entry of the current event's fd name and type.
    @inline(never) private func find(_ gen: UInt32, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch) {
        currentGen = gen
        current = -1
        recordingEntry = -1
        guard let fd = FieldExtractor.fdPointer(cp, s) else { return }
        // The same name string as an earlier event's (the files a node opens again share their
        // name's storage): its entry without hashing and comparing the bytes.
        let nameString = FDInfo.name(at: fd)
        let kind = unsafeBitCast(fd.pointee.kind, to: UInt8.self)
        let bits = unsafeBitCast(nameString, to: (UInt64, UInt64).self)
        let idSlot = Self.identitySlot(nameString, kind: kind)
        let id = identity + idSlot
        if id.pointee.entry >= 0 && id.pointee.bits0 == bits.0 && id.pointee.bits1 == bits.1 && id.pointee.kind == kind
            && stamps[Int(id.pointee.entry)] == id.pointee.stamp {
            let k = Int(id.pointee.entry)
            current = k
            lastUsed[k >> 1] = UInt8(k & 1)
            identityHits &+= 1
            return
        }
        findByName(fd, kind, s)
        guard current >= 0 else { return }
        id.pointee = IdentitySlot(bits0: bits.0, bits1: bits.1, kind: kind, entry: Int32(current), stamp: stamps[current])
        identityNames[idSlot] = nameString  // kept: while it is, equal bits mean this very string
    }

    /// The identity slot of a name string and fd type.
    @inline(__always) static func identitySlot(_ name: String, kind: UInt8) -> Int {
        let bits = unsafeBitCast(name, to: (UInt64, UInt64).self)
        return Int(truncatingIfNeeded: ((bits.0 ^ bits.1 ^ UInt64(kind)) &* 0x9E37_79B9_7F4A_7C15) >> 56) & (identitySlots - 1)
    }

    /// The set (of two entries) a name's bytes and fd type map to.
    static func set(of name: UnsafeBufferPointer<UInt8>, kind: UInt8) -> Int {
        Int(truncatingIfNeeded: (fnvHash(name) ^ (UInt64(kind) &* 0x9E37_79B9_7F4A_7C15)) >> 40) & (slots / 2 - 1)
    }

    /// ``find(_:_:_:)`` by the name's bytes (hash, then compare).
    @inline(__always) private func findByName(_ fd: UnsafePointer<FDInfo>, _ kind: UInt8, _ s: RuleScratch) {
        let name = FieldExtractor.fdName(fd, s)
        let n = Int(name.len)
        guard n <= Self.maxNameBytes else { return }
        let bytes = name.bytes
        let h = fnvHash(bytes) ^ (UInt64(kind) &* 0x9E37_79B9_7F4A_7C15)  // a name as a file and as a directory: two entries
        let set = Int(truncatingIfNeeded: h >> 40) & (Self.slots / 2 - 1)  // ``set(of:kind:)``
        for way in 0..<2 {
            let k = set * 2 + way
            let e = entries + k
            if e.pointee.length == Int32(n) && e.pointee.hash == h && e.pointee.kind == kind
                && (n == 0 || memcmp(names + k * Self.maxNameBytes, bytes.baseAddress!, n) == 0) {
                current = k
                lastUsed[set] = UInt8(way)
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
        traces[k] = Trace()
        stamps[k] &+= 1  // the identity slots that led to the old name lead nowhere now
        current = k
    }

    /// Distinct ids for rule sets (``RuleSet/memoID``).
    static let ids = Atomic<UInt64>(0)
    static func nextID() -> UInt64 { ids.add(1, ordering: .relaxed).newValue }
}
