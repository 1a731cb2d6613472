#if canImport(Glibc)
import Glibc
#endif
import VigilCore
import VigilDecode
import VigilState

/// Per-thread mutable state for evaluating events against a ``RuleSet``: the
/// field-value cache (each field extracted at most once per event), the string
/// arena, and user/group name caches. Not thread-safe: one per evaluating thread.
/// A scratch works with any rule set (it grows when a larger one is swapped in).
package final class RuleScratch {
    struct Slot { var gen: UInt32; var value: FV }
    @exclusivity(unchecked) var slots: UnsafeMutablePointer<Slot>
    @exclusivity(unchecked) var slotCount: Int
    /// Current event generation (slots start at 0, so a fresh scratch has nothing cached).
    @exclusivity(unchecked) var gen: UInt32 = 1
    /// Per-check result cache: `generation << 1 | result` of each compiled comparison (one
    /// load tells whether this event has the result, and what it is; ``checkMarkKey``).
    @exclusivity(unchecked) var checkMarks: UnsafeMutablePointer<UInt32>
    @exclusivity(unchecked) var checkCount: Int
    /// `gen << 1`: a mark with this value (or this value + 1) was set for the current event.
    @exclusivity(unchecked) var checkMarkKey: UInt32 = 2
    /// Whether the current event (generation ``fdPresenceGen``) has an fd (``FieldExtractor/fdPointer(_:_:)``).
    @exclusivity(unchecked) var fdPresenceGen: UInt32 = 0
    @exclusivity(unchecked) var fdPresent = false
    /// The current event's fd name (generation ``fdNameGen``; ``FieldExtractor/fdName(_:_:)``).
    @exclusivity(unchecked) var fdNameGen: UInt32 = 0
    @exclusivity(unchecked) var fdNameValue = FV.unset
    let arena = Arena()
    /// Where ``EventContext/fd`` is in the context (``FieldExtractor/fdPointer(_:_:)``), kept
    /// here so that reading it is a load (a static would be a lazy global, checked per read).
    let fdOffset = MemoryLayout<EventContext>.offset(of: \EventContext.fd)!
    /// `proc.cmdline` of the last process, kept between events.
    let cmdlineMemo = CommandLineMemo()
    /// Results of comparisons of fd names, kept between events (``PathCheckMemo``).
    let pathMemo = PathCheckMemo()
    /// ``pathMemo`` as an unretained reference (``RuleSet/match`` uses it without a reference count per event).
    let pathMemoRef: Unmanaged<PathCheckMemo>
    /// Where ``EventContext/process`` is in the context (``SnapshotField/string(_:_:)``), kept
    /// here so that reading it is a load (a static would be a lazy global, checked per read).
    let processOffset = MemoryLayout<EventContext>.offset(of: \EventContext.process)!
    /// `fd.same_file_as` targets, kept between events.
    let sameFileTargets = SameFileTargets()
    /// `proc.env[NAME]` results for the last environment block searched, kept between events.
    let envCache = EnvLookupCache()
    /// Events evaluated with this scratch (`evt.num`).
    @exclusivity(unchecked) package internal(set) var eventNumber: UInt64 = 0
    /// `evt.hostname` and the alert's `hostname`.
    package var hostname: String
    /// Preset user and group names by id (rule tests); they win over the databases.
    package var userNames: [UInt32: String] = [:]
    package var groupNames: [UInt32: String] = [:]
    var missingUsers: Set<UInt32> = []
    var missingGroups: Set<UInt32> = []
    /// Work counters (condition nodes and field comparisons evaluated), for benchmarks.
    @exclusivity(unchecked) package var nodesEvaluated: UInt64 = 0
    @exclusivity(unchecked) package var checksEvaluated: UInt64 = 0
    /// Field values extracted into the per-event cache (each field at most once per event).
    @exclusivity(unchecked) package var fieldsExtracted: UInt64 = 0

    /// A scratch for a rule set with `slots` cached fields.
    init(slots n: Int, checks c: Int = 64, hostname: String) {
        slotCount = max(n, 1)
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: Slot(gen: 0, value: .unset), count: slotCount)
        checkCount = max(c, 1)
        checkMarks = .allocate(capacity: checkCount)
        checkMarks.initialize(repeating: 0, count: checkCount)
        self.hostname = hostname
        pathMemoRef = Unmanaged.passUnretained(pathMemo)
    }

    /// A scratch usable with any rule set; `hostname` fills `evt.hostname`.
    package convenience init(hostname: String = RuleScratch.systemHostname()) { self.init(slots: 64, hostname: hostname) }

    deinit { slots.deallocate(); checkMarks.deallocate(); matchBuffer.deallocate() }

    /// Makes room for `n` field slots and `c` check results (after a hot reload to a bigger rule set).
    @inline(__always) func ensure(_ n: Int, _ c: Int) {
        if n > slotCount {
            slots.deallocate()
            slotCount = n
            slots = .allocate(capacity: n)
            slots.initialize(repeating: Slot(gen: 0, value: .unset), count: n)
        }
        if c > checkCount {
            checkMarks.deallocate()
            checkCount = c
            checkMarks = .allocate(capacity: c)
            checkMarks.initialize(repeating: 0, count: c)
        }
    }

    /// Positions of the candidates that matched the current event (``RuleSet/match``).
    @exclusivity(unchecked) var matchBuffer = UnsafeMutablePointer<Int32>.allocate(capacity: 64)
    @exclusivity(unchecked) var matchCapacity = 64

    /// Makes room for `n` matches in ``matchBuffer``.
    @inline(__always) func ensureMatches(_ n: Int) {
        if n > matchCapacity {
            matchBuffer.deallocate()
            matchCapacity = n
            matchBuffer = .allocate(capacity: n)
        }
    }

    /// Starts a new event: invalidates the cache and the arena.
    @inline(__always) func begin() {
        gen &+= 1
        if gen >= 1 << 31 { // wrapped (check marks keep 31 bits of it): clear so stale generations cannot match
            for k in 0..<slotCount { slots[k].gen = 0 }
            for k in 0..<checkCount { checkMarks[k] = 0 }
            fdPresenceGen = 0
            fdNameGen = 0
            gen = 1
        }
        checkMarkKey = gen << 1
        arena.reset()
        eventNumber &+= 1
    }

    /// The system's host name.
    package static func systemHostname() -> String {
        Hostname.current()
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

    /// A process's user database (its container's /etc/passwd, resolved and
    /// cached by the state's `UserResolver`), or nil without a process.
    @inline(__always) func userDatabase(_ cp: UnsafePointer<EventContext>) -> UserDatabase? {
        guard let p = cp.pointee.process else { return nil }
        if let db = p.userDatabase { return db }
        return cp.pointee.processes.users.database(for: p)
    }

    /// User name for `uid` as seen by the event's process: preset names first
    /// (``userNames``), then the process's (container's) database, else the host's.
    func userName(_ uid: UInt32, _ cp: UnsafePointer<EventContext>?) -> String? {
        if let n = userNames[uid] { return n }
        if let cp, let db = userDatabase(cp) { return db.userName(uid) }
        return hostUser(uid)?.name
    }

    /// Home directory and shell of `uid` (same resolution as ``userName(_:_:)``).
    func userEntry(_ uid: UInt32, _ cp: UnsafePointer<EventContext>) -> (home: String, shell: String)? {
        if let db = userDatabase(cp) { return db.user(uid).map { ($0.home, $0.shell) } }
        return hostUser(uid).map { ($0.home, $0.shell) }
    }

    func groupName(_ gid: UInt32, _ cp: UnsafePointer<EventContext>?) -> String? {
        if let n = groupNames[gid] { return n }
        if let cp, let db = userDatabase(cp) { return db.groupName(gid) }
        return hostGroup(gid)
    }

    struct HostUser { let name: String; let home: String; let shell: String }
    var hostUsers: [UInt32: HostUser] = [:]
    var hostGroups: [UInt32: String] = [:]

    func hostUser(_ uid: UInt32) -> HostUser? {
        if let u = hostUsers[uid] { return u }
        if missingUsers.contains(uid) { return nil }
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &pw, &buf, buf.count, &result) == 0, result != nil {
            let u = HostUser(name: String(cString: pw.pw_name), home: String(cString: pw.pw_dir), shell: String(cString: pw.pw_shell))
            hostUsers[uid] = u
            return u
        }
        missingUsers.insert(uid)
        return nil
    }

    func hostGroup(_ gid: UInt32) -> String? {
        if let n = hostGroups[gid] { return n }
        if missingGroups.contains(gid) { return nil }
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 4096)
        if getgrgid_r(gid, &gr, &buf, buf.count, &result) == 0, result != nil {
            let n = String(cString: gr.gr_name)
            hostGroups[gid] = n
            return n
        }
        missingGroups.insert(gid)
        return nil
    }
}
