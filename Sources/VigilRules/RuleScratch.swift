#if canImport(Glibc)
import Glibc
#endif
import VigilDecode

/// Per-thread mutable state for evaluating events against a ``RuleSet``: the
/// field-value cache (each field extracted at most once per event), the string
/// arena, and user/group name caches. Not thread-safe: one per evaluating thread.
/// A scratch works with any rule set (it grows when a larger one is swapped in).
public final class RuleScratch {
    struct Slot { var gen: UInt32; var value: FV }
    @exclusivity(unchecked) var slots: UnsafeMutablePointer<Slot>
    @exclusivity(unchecked) var slotCount: Int
    /// Current event generation (slots start at 0, so a fresh scratch has nothing cached).
    @exclusivity(unchecked) var gen: UInt32 = 1
    /// Per-check result cache: generation and result of each compiled comparison.
    @exclusivity(unchecked) var checkGen: UnsafeMutablePointer<UInt32>
    @exclusivity(unchecked) var checkResult: UnsafeMutablePointer<Bool>
    @exclusivity(unchecked) var checkCount: Int
    let arena = Arena()
    /// Events evaluated with this scratch (`evt.num`).
    @exclusivity(unchecked) public internal(set) var eventNumber: UInt64 = 0
    /// `evt.hostname` and the alert's `hostname`.
    public var hostname: String
    /// User and group names by id; filled from the passwd/group databases on first use.
    /// Callers (tests, container-aware resolvers) may preset entries.
    public var userNames: [UInt32: String] = [:]
    public var groupNames: [UInt32: String] = [:]
    var homeDirs: [UInt32: String] = [:]
    var shells: [UInt32: String] = [:]
    var missingUsers: Set<UInt32> = []
    var missingGroups: Set<UInt32> = []
    /// Work counters (condition nodes and field comparisons evaluated), for benchmarks.
    @exclusivity(unchecked) public var nodesEvaluated: UInt64 = 0
    @exclusivity(unchecked) public var checksEvaluated: UInt64 = 0

    /// A scratch for a rule set with `slots` cached fields.
    init(slots n: Int, checks c: Int = 64, hostname: String) {
        slotCount = max(n, 1)
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: Slot(gen: 0, value: .unset), count: slotCount)
        checkCount = max(c, 1)
        checkGen = .allocate(capacity: checkCount)
        checkGen.initialize(repeating: 0, count: checkCount)
        checkResult = .allocate(capacity: checkCount)
        checkResult.initialize(repeating: false, count: checkCount)
        self.hostname = hostname
    }

    /// A scratch usable with any rule set; `hostname` fills `evt.hostname`.
    public convenience init(hostname: String = RuleScratch.systemHostname()) { self.init(slots: 64, hostname: hostname) }

    deinit { slots.deallocate(); checkGen.deallocate(); checkResult.deallocate() }

    /// Makes room for `n` field slots and `c` check results (after a hot reload to a bigger rule set).
    @inline(__always) func ensure(_ n: Int, _ c: Int) {
        if n > slotCount {
            slots.deallocate()
            slotCount = n
            slots = .allocate(capacity: n)
            slots.initialize(repeating: Slot(gen: 0, value: .unset), count: n)
        }
        if c > checkCount {
            checkGen.deallocate(); checkResult.deallocate()
            checkCount = c
            checkGen = .allocate(capacity: c)
            checkGen.initialize(repeating: 0, count: c)
            checkResult = .allocate(capacity: c)
            checkResult.initialize(repeating: false, count: c)
        }
    }

    /// Starts a new event: invalidates the cache and the arena.
    @inline(__always) func begin() {
        gen &+= 1
        if gen == 0 { // wrapped: clear so stale generations cannot match
            for k in 0..<slotCount { slots[k].gen = 0 }
            for k in 0..<checkCount { checkGen[k] = 0 }
            gen = 1
        }
        arena.reset()
        eventNumber &+= 1
    }

    /// The system's host name.
    public static func systemHostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, 255) == 0 else { return "localhost" }
        return String(cString: buf)
    }

    // MARK: flag renderings

    struct FlagKey: Hashable { let set: UInt8; let value: UInt64 }
    /// Rendered flag values (immortal for this scratch; bounded).
    var flagMemo: [FlagKey: StaticBytes] = [:]

    func renderedFlags(_ set: FlagSet, _ v: UInt64) -> FV {
        let key = FlagKey(set: set.rawValue, value: v)
        if let b = flagMemo[key] { return .str(b.p, b.n) }
        let text = set.table.render(v)
        if flagMemo.count < 8192 {
            let b = StaticBytes(text)
            flagMemo[key] = b
            return .str(b.p, b.n)
        }
        return arena.copyOwned(text)
    }

    // MARK: users and groups

    func userName(_ uid: UInt32) -> String? {
        if let n = userNames[uid] { return n }
        if missingUsers.contains(uid) { return nil }
        lookupUser(uid)
        return userNames[uid]
    }

    func lookupUser(_ uid: UInt32) {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &pw, &buf, buf.count, &result) == 0, result != nil {
            userNames[uid] = String(cString: pw.pw_name)
            homeDirs[uid] = String(cString: pw.pw_dir)
            shells[uid] = String(cString: pw.pw_shell)
        } else {
            missingUsers.insert(uid)
        }
    }

    func groupName(_ gid: UInt32) -> String? {
        if let n = groupNames[gid] { return n }
        if missingGroups.contains(gid) { return nil }
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 4096)
        if getgrgid_r(gid, &gr, &buf, buf.count, &result) == 0, result != nil {
            let n = String(cString: gr.gr_name)
            groupNames[gid] = n
            return n
        }
        missingGroups.insert(gid)
        return nil
    }
}
