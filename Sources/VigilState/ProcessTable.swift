#if canImport(Glibc)
import Glibc
#endif
import VigilABI
import VigilCore
import VigilDecode

/// The process table: every live process (and recently exited ones, for late
/// events), keyed by pid (thread group id). Owned by the pipeline thread.
///
/// Kept current by ``apply(_:)`` for every event: exec replaces a process's
/// image, fork/clone creates children (copying the parent's exe, args, cwd and
/// fds) or counts threads, exit marks the process exited; syscalls update fd tables
/// and the cwd. Seed it from `/proc` at start-up with ``seedFromProc(_:)``.
///
/// An exited process (its last thread's exit) is evaluated whole: the rules see its
/// exit event with everything it had. Right after (at the next event or tick) it is
/// trimmed to what can still be asked of it (``ProcessInfo/retire()``: no fd table,
/// no environment unless it may have descendants) and stays resolvable for its
/// children's ancestry fields and its session and process group for
/// ``Configuration/exitGracePeriodNs``; at most ``Configuration/maxExited`` exited
/// processes are kept, the oldest exit going first (counted in ``Stats/exitedEvictions``).
///
/// The common path (a syscall event of a known process that does not change
/// its fds) performs no allocation: one dictionary lookup (or a hit in the
/// last-process cache) and a few stores.
package final class ProcessTable {
    /// Limits.
    package struct Configuration: Sendable {
        /// Hard cap on entries; beyond it exited then least recently seen entries are evicted (counted).
        package var maxProcesses: Int
        /// How long an exited process stays resolvable for late events (boot-clock ns).
        package var exitGracePeriodNs: UInt64
        /// Most exited processes kept in their grace period; beyond it the oldest exit is
        /// removed early (``Stats/exitedEvictions``). 0: an exited process goes as soon as its
        /// exit event was evaluated (as Falco's thread table does).
        package var maxExited: Int
        /// Cap on tracked fds per process; fds beyond it are not tracked (counted).
        package var maxFDsPerProcess: Int
        /// Longest ancestry walk (cycle guard).
        package var maxAncestryDepth: Int
        /// Fill processes first seen in a syscall event (missed fork) from `/proc/PID`.
        package var resolveUnknownFromProc: Bool
        /// Where procfs is mounted.
        package var procRoot: String
        /// Live entries not seen for this long (boot-clock ns) are checked against
        /// `/proc` and removed when the process is gone (its exit was missed); 0 disables.
        package var staleAfterNs: UInt64

        package init(maxProcesses: Int = 131_072, exitGracePeriodNs: UInt64 = Configuration.defaultExitGracePeriodNs, maxFDsPerProcess: Int = 4096,
                    maxAncestryDepth: Int = 256, resolveUnknownFromProc: Bool = true, procRoot: String = "/proc",
                    staleAfterNs: UInt64 = 300_000_000_000, maxExited: Int = Configuration.defaultMaxExited) {
            self.maxProcesses = max(16, maxProcesses); self.exitGracePeriodNs = exitGracePeriodNs
            self.maxExited = max(0, maxExited)
            self.maxFDsPerProcess = max(1, maxFDsPerProcess); self.maxAncestryDepth = max(1, maxAncestryDepth)
            self.resolveUnknownFromProc = resolveUnknownFromProc; self.procRoot = procRoot
            self.staleAfterNs = staleAfterNs
        }

        /// The default grace period of an exited process: 5 s.
        package static let defaultExitGracePeriodNs: UInt64 = 5_000_000_000
        /// The default budget of exited processes kept.
        package static let defaultMaxExited = 4096
    }

    /// Counters of the table's work and losses (exported as metrics by the agent).
    package final class Stats: Sendable {
        /// Entries evicted because of the hard cap (live, or exited before their grace period ended).
        package let evictions = Counter()
        /// Exited entries removed after their grace period.
        package let expired = Counter()
        /// Events from processes the table did not know (created from the event header).
        package let unknownProcesses = Counter()
        /// fds not tracked because the process reached its fd cap.
        package let fdDrops = Counter()
        /// Process creations, execs and process exits applied.
        package let forks = Counter()
        package let execs = Counter()
        package let exits = Counter()
        /// Processes loaded from `/proc`.
        package let seeded = Counter()
        /// Entries removed because `/proc` showed the process gone (a missed exit).
        package let stale = Counter()
        /// Exited entries removed before their grace period ended because more than
        /// ``Configuration/maxExited`` were kept (oldest exit first).
        package let exitedEvictions = Counter()
        /// Exited entries kept now (in their grace period).
        package let exitedEntries = Gauge()
        /// What the exited entries kept now hold, in bytes (``ProcessInfo/estimatedBytes``
        /// after trimming).
        package let exitedBytes = Gauge()
        /// Current number of entries.
        package let entries = Gauge()
        package init() {}
    }

    /// What an event concerned, after the table applied it.
    package struct ApplyResult {
        /// The event's process (for fork: the parent; for exec: the new image).
        package var process: ProcessInfo?
        /// The fd the event concerns (opened, connected, closed, read from ...), if any.
        package var fd: FDInfo?
        /// Its number (`fd.num`); -1 when none or when the call failed.
        package var fdNum: Int32

        package init(process: ProcessInfo? = nil, fd: FDInfo? = nil, fdNum: Int32 = -1) {
            self.process = process; self.fd = fd; self.fdNum = fdNum
        }
    }

    private(set) package var processes: [UInt32: ProcessInfo] = [:]
    /// Limits in force.
    package let configuration: Configuration
    /// Counters.
    package let stats: Stats
    /// Names of recently opened files, shared by the fds that opened them.
    let fileNames = FileNameCache()

    /// Per-event state, outside the object's stored properties so the event path
    /// pays no dynamic exclusivity checks.
    struct Hot {
        /// The newest event timestamp applied.
        var latestEventNs: UInt64 = 0
        /// When the oldest exited process's grace period ends (`.max`: none waiting); 0 while
        /// ``retiring`` waits.
        var nextExitDueNs: UInt64 = .max
        /// The process whose exit the last event applied: trimmed once that event was evaluated.
        var retiring: ProcessInfo? = nil
        /// Exited entries in the table and their ``ProcessInfo/retainedBytes``.
        var exitedCount = 0
        var exitedBytes = 0
        /// Exited processes in exit order (from ``exitHead``), for grace-period eviction.
        var exitQueue: [(pid: UInt32, ts: UInt64, process: ProcessInfo)] = []
        var exitHead = 0
        /// When ``removeStale(now:)`` runs next (boot-clock ns).
        var nextStaleCheckNs: UInt64 = 0
    }
    private let hot: UnsafeMutablePointer<Hot>
    /// A direct-mapped cache pid -> process in front of the dictionary.
    static let cacheSize = 4096
    private let cacheKeys: UnsafeMutablePointer<UInt32>
    private let cacheValues: UnsafeMutablePointer<ProcessInfo?>
    /// Reads `/proc` for unknown processes (lazily created; sockets left unresolved
    /// so a miss on the event path stays cheap).
    private var scanner: ProcScanner?

    /// User and group names for the table's processes (`user.name`, `group.name`,
    /// `user.loginname`, `evt.arg.uid`), from each process's own root.
    package private(set) lazy var users = UserResolver(procRoot: configuration.procRoot)

    package convenience init() {
        self.init(configuration: Configuration())
    }

    package init(configuration: Configuration, stats: Stats = Stats()) {
        self.configuration = configuration
        self.stats = stats
        hot = .allocate(capacity: 1)
        hot.initialize(to: Hot())
        cacheKeys = .allocate(capacity: Self.cacheSize)
        cacheKeys.initialize(repeating: 0, count: Self.cacheSize)
        cacheValues = .allocate(capacity: Self.cacheSize)
        cacheValues.initialize(repeating: nil, count: Self.cacheSize)
    }

    deinit {
        hot.deinitialize(count: 1); hot.deallocate()
        cacheKeys.deallocate()
        cacheValues.deinitialize(count: Self.cacheSize); cacheValues.deallocate()
    }

    @inline(__always) private func cacheSlot(_ pid: UInt32) -> Int { Int(pid) & (Self.cacheSize - 1) }

    @inline(__always) private func cache(_ p: ProcessInfo, pid: UInt32) {
        let i = cacheSlot(pid)
        cacheKeys[i] = pid
        cacheValues[i] = p
    }

    /// The process with thread group id `pid`.
    @inline(__always) package subscript(pid: UInt32) -> ProcessInfo? { lookup(pid) }

    /// The entry of `pid`: from the direct-mapped cache when it holds `pid` (the cache always
    /// holds what the table holds for the pids it names: ``insert(_:)`` and ``remove(pid:)``
    /// keep it so), else from the dictionary. Leaves the cache as it is.
    @inline(__always) func lookup(_ pid: UInt32) -> ProcessInfo? {
        let i = cacheSlot(pid)
        if cacheKeys[i] == pid, let c = cacheValues[i] { return c }
        return processes[pid]
    }

    /// Inserts or replaces an entry (evicting under the hard cap).
    package func insert(_ p: ProcessInfo) {
        // One hash in the common case (room left): the entry it replaces comes back from the update.
        if processes.count >= configuration.maxProcesses && processes[p.pid] == nil { makeRoom() }
        let old = processes.updateValue(p, forKey: p.pid)
        cache(p, pid: p.pid)
        if let old, old !== p { forgetExited(old) }
        stats.entries.set(Int64(processes.count))
    }

    /// Removes the entry for `pid`, if any.
    @discardableResult
    package func remove(pid: UInt32) -> ProcessInfo? {
        let i = cacheSlot(pid)
        if cacheKeys[i] == pid { cacheValues[i] = nil }
        let p = processes.removeValue(forKey: pid)
        if let p { forgetExited(p) }
        stats.entries.set(Int64(processes.count))
        return p
    }

    /// Exited entries in the table now (``Stats/exitedEntries``).
    package var exitedCount: Int { hot.pointee.exitedCount }
    /// What they hold, in bytes (``Stats/exitedBytes``).
    package var exitedBytes: Int { hot.pointee.exitedBytes }

    /// An entry left the table: if it is counted as exited, it no longer is.
    private func forgetExited(_ p: ProcessInfo) {
        guard p.countedExited else { return }
        p.countedExited = false
        let h = hot
        h.pointee.exitedCount -= 1
        h.pointee.exitedBytes -= p.retainedBytes
        p.retainedBytes = 0
        stats.exitedEntries.set(Int64(h.pointee.exitedCount))
        stats.exitedBytes.set(Int64(h.pointee.exitedBytes))
    }

    /// Number of entries.
    package var count: Int { processes.count }

    /// The parent of `p`, if known.
    @inline(__always) package func parent(of p: ProcessInfo) -> ProcessInfo? {
        p.ppid == p.pid || p.ppid == 0 ? nil : lookup(p.ppid)
    }

    // MARK: ancestry

    /// The ancestor `level` generations up (1 = parent, 2 = grandparent, ...;
    /// 0 = `p` itself), or nil when the chain ends, loops or exceeds the depth limit.
    package func ancestor(of p: ProcessInfo, level: Int) -> ProcessInfo? {
        guard level >= 0, level <= configuration.maxAncestryDepth else { return nil }
        var cur = p
        var k = 0
        while k < level {
            guard let q = parent(of: cur), q !== p else { return nil }
            cur = q
            k += 1
        }
        return cur
    }

    /// Calls `body` with each ancestor (nearest first) and its level (1 = parent)
    /// until it returns false, the chain ends, a cycle is met or the depth limit
    /// is reached. Allocates nothing.
    package func forEachAncestor(of p: ProcessInfo, _ body: (ProcessInfo, Int) throws -> Bool) rethrows {
        var cur = p
        var level = 1
        while level <= configuration.maxAncestryDepth, let q = parent(of: cur), q !== p {
            if try !body(q, level) { return }
            cur = q
            level += 1
        }
    }

    /// The ancestors of `p`, nearest first (bounded, cycle-safe).
    package func ancestors(of p: ProcessInfo) -> [ProcessInfo] {
        var out: [ProcessInfo] = []
        forEachAncestor(of: p) { q, _ in out.append(q); return true }
        return out
    }

    /// The session leader of `p` (Falco's `proc.sname` process), if known.
    package func sessionLeader(of p: ProcessInfo) -> ProcessInfo? { p.sid == 0 ? nil : processes[p.sid] }

    // MARK: applying events

    /// Applies one event to the table and returns the process and fd it concerns.
    package func apply(_ e: Event) -> ApplyResult {
        var r = ApplyResult()
        apply(e, into: &r)
        return r
    }

    /// Applies one event to the table and stores the process and fd it concerns in `r`,
    /// every field (for a result reused across events: an open, the hot case, moves its
    /// process and fd into the fields without building and copying a whole result).
    package func apply(_ e: Event, into r: inout ApplyResult) {
        let ts = e.timestampBootNs
        let h = hot
        if ts > h.pointee.latestEventNs { h.pointee.latestEventNs = ts }
        if ts >= h.pointee.nextExitDueNs { expire(now: ts) }
        switch UInt32(e.recordKind) {
        case VIGIL_REC_SYSCALL.rawValue:
            let t = UInt32(e.type.rawValue)
            if Self.isOpen(t) { applyOpen(e, process(for: e), t, into: &r) }
            else if t == VIGIL_SYS_CLOSE.rawValue { applyClose(e, into: &r) }
            else { r = applySyscall(e) }
        case VIGIL_REC_EXEC.rawValue: r = applyExec(e)
        case VIGIL_REC_FORK.rawValue: r = applyFork(e)
        case VIGIL_REC_EXIT.rawValue: r = applyExit(e)
        default: r = ApplyResult()
        }
    }


    /// Removes entries whose process is gone although no exit was seen (lost
    /// events): live entries not seen for ``Configuration/staleAfterNs`` are
    /// checked against `/proc` (existence and start time). Returns how many went.
    @discardableResult
    package func removeStale(now: UInt64) -> Int {
        let limit = configuration.staleAfterNs
        guard limit > 0, now > limit else { return 0 }
        var gone: [UInt32] = []
        let tick = 1_000_000_000 / max(1, SysFiles.clockTicks)
        for (pid, p) in processes where !p.hasExited && p.lastSeenBootNs < now - limit && pid > 1 {
            guard let stat = SysFiles.readText(configuration.procRoot + "/" + String(pid) + "/stat", limit: 4096) else {
                gone.append(pid); continue
            }
            // A reused pid: a different start time.
            if p.startTimeBootNs != 0, let close = stat.lastIndex(of: ")") {
                let f = stat[stat.index(after: close)...].split(separator: " ")
                if f.count > 19, let st = UInt64(f[19]) {
                    let start = st &* tick
                    let diff = start > p.startTimeBootNs ? start - p.startTimeBootNs : p.startTimeBootNs - start
                    if diff > 2 * tick { gone.append(pid); continue }
                }
            }
            // Still there: look again only after another quiet period.
            p.lastSeenBootNs = now
        }
        for pid in gone { remove(pid: pid); stats.stale.add() }
        return gone.count
    }

    /// The newest event timestamp applied (boot-clock ns).
    package var latestEventNs: UInt64 { hot.pointee.latestEventNs }

    private func updateExitDue() {
        let h = hot
        h.pointee.nextExitDueNs = h.pointee.retiring != nil ? 0
            : h.pointee.exitHead < h.pointee.exitQueue.count ? h.pointee.exitQueue[h.pointee.exitHead].ts &+ configuration.exitGracePeriodNs
            : .max
    }

    /// Removes exited entries in exit order (oldest first) while `more` says so (given the
    /// exit time of the oldest queued), counting each in `counter`.
    private func removeOldestExits(counting counter: Counter, while more: (UInt64) -> Bool) {
        let h = hot
        while h.pointee.exitHead < h.pointee.exitQueue.count && more(h.pointee.exitQueue[h.pointee.exitHead].ts) {
            let item = h.pointee.exitQueue[h.pointee.exitHead]
            h.pointee.exitHead += 1
            // Skipped: a pid reused since, or an entry already gone.
            if let cur = lookup(item.pid), cur === item.process, cur.hasExited {
                remove(pid: item.pid)
                counter.add()
            }
        }
    }

    /// Trims the process whose exit the previous event applied (its exit event has been
    /// evaluated since), then keeps at most ``Configuration/maxExited`` exited entries.
    private func retirePending() {
        let h = hot
        guard let p = h.pointee.retiring else { return }
        h.pointee.retiring = nil
        guard p.hasExited, !p.isRetired, lookup(p.pid) === p else { return }
        p.retire()
        let bytes = p.estimatedBytes
        p.retainedBytes = bytes
        h.pointee.exitedBytes += bytes
        stats.exitedBytes.set(Int64(h.pointee.exitedBytes))
        let budget = configuration.maxExited
        if h.pointee.exitedCount > budget {
            removeOldestExits(counting: stats.exitedEvictions) { _ in h.pointee.exitedCount > budget }
        }
    }

    /// Removes exited processes whose grace period ended by `now` (boot-clock ns),
    /// and (at most once per minute) entries whose exit was missed (``removeStale(now:)``).
    /// Time never runs ahead of the newest event applied, so replaying a recorded
    /// capture (older timestamps) keeps its grace periods. First trims the process whose
    /// exit the last event applied (call it between events, never while one is evaluated).
    package func expire(now: UInt64) {
        retirePending()
        let h = hot
        let now = h.pointee.latestEventNs == 0 ? now : min(now, h.pointee.latestEventNs)
        if configuration.staleAfterNs > 0 && now >= h.pointee.nextStaleCheckNs {
            if h.pointee.nextStaleCheckNs != 0 { removeStale(now: now) }
            h.pointee.nextStaleCheckNs = now &+ 60_000_000_000
        }
        let grace = configuration.exitGracePeriodNs
        removeOldestExits(counting: stats.expired) { $0 &+ grace <= now }
        compactExitQueue()
    }

    private func compactExitQueue() {
        let h = hot
        if h.pointee.exitHead == h.pointee.exitQueue.count {
            h.pointee.exitQueue.removeAll(keepingCapacity: true); h.pointee.exitHead = 0
        } else if h.pointee.exitHead > 1024 && h.pointee.exitHead * 2 > h.pointee.exitQueue.count {
            h.pointee.exitQueue.removeFirst(h.pointee.exitHead); h.pointee.exitHead = 0
        }
        updateExitDue()
    }

    /// The event's process: from the cache, the table, or created from the header.
    @inline(__always)
    func process(for e: Event) -> ProcessInfo {
        let pid = e.pid
        let p: ProcessInfo
        let i = cacheSlot(pid)
        if cacheKeys[i] == pid, let c = cacheValues[i] {
            p = c
        } else if let found = processes[pid] {
            p = found
            cacheKeys[i] = pid; cacheValues[i] = found
        } else {
            p = createUnknown(e)
        }
        p.lastSeenBootNs = e.timestampBootNs
        let cg = e.cgroupID
        if p.cgroupID != cg && cg != 0 { p.cgroupID = cg; p.cgroupPath = "" }
        let pp = e.ppid
        if pp != 0 && p.ppid != pp { p.ppid = pp; adopted(by: pp) }
        p.uid = e.uid
        p.gid = e.gid
        return p
    }

    /// Marks `ppid`'s entry as a parent (its descendants may read its fields).
    private func adopted(by ppid: UInt32) {
        if let parent = processes[ppid] { parent.mayHaveChildren = true }
    }

    private func createUnknown(_ e: Event) -> ProcessInfo {
        stats.unknownProcesses.add()
        let pid = e.pid
        var p: ProcessInfo? = nil
        if configuration.resolveUnknownFromProc {
            if scanner == nil { scanner = ProcScanner(procRoot: configuration.procRoot, resolveSockets: false) }
            p = scanner?.readProcess(pid: pid)
        }
        let q = p ?? ProcessInfo(pid: pid, ppid: e.ppid, name: e.comm.vigilString, uid: e.uid, gid: e.gid,
                                 euid: e.uid, egid: e.gid, cgroupID: e.cgroupID)
        insert(q)
        adopted(by: q.ppid)
        return q
    }

    private func applyExec(_ e: Event) -> ApplyResult {
        stats.execs.add()
        let x = e.execInfo
        let pid = e.pid
        let p: ProcessInfo
        if let cur = lookup(pid), !cur.hasExited {
            p = cur
        } else {
            p = ProcessInfo(pid: pid, ppid: e.ppid)
            insert(p)
            adopted(by: e.ppid)  // its fork was not seen
        }
        cache(p, pid: pid)
        if p.ppid != e.ppid { p.ppid = e.ppid; adopted(by: e.ppid) }
        p.name = e.comm.vigilString
        p.exePath = e.exePath.vigilString
        let (exe, args) = Self.splitArgv(e.argvRaw)
        p.exe = exe.isEmpty ? p.exePath : exe
        p.args = args
        // Most execs keep the working directory the fork copied (stored with its trailing
        // slash): keep that string when the bytes say the result would be the same.
        if !Self.isDirectory(p.cwd, raw: e.cwd) {
            var cwd = e.cwd.vigilString
            if !cwd.hasSuffix("/") { cwd += "/" }
            p.cwd = cwd
        }
        p.uid = e.uid; p.gid = e.gid; p.euid = x.euid; p.egid = x.egid
        p.loginUID = x.loginuid; p.tty = x.tty
        p.capEffective = x.cap_effective; p.capPermitted = x.cap_permitted
        p.exeIno = x.exe_ino; p.exeCtimeNs = x.exe_ctime_ns; p.exeMtimeNs = x.exe_mtime_ns
        p.exeUpperLayer = x.exe_flags & UInt32(VIGIL_EXE_UPPER_LAYER) != 0
        p.exeFromMemfd = x.exe_flags & UInt32(VIGIL_EXE_FROM_MEMFD) != 0
        p.exeWritable = x.exe_flags & UInt32(VIGIL_EXE_WRITABLE) != 0
        p.exeIA32 = x.exe_flags & UInt32(VIGIL_EXE_IA32) != 0
        p.argsTruncated = x.exe_flags & UInt32(VIGIL_EXE_ARGS_TRUNCATED) != 0
        applyEnvironment(e, to: p)
        if x.start_time_ns != 0 { p.startTimeBootNs = x.start_time_ns }
        p.pgid = x.pgid; p.sid = x.sid; p.vpid = x.vpid
        p.cgroupID = e.cgroupID
        p.cgroupPath = e.cgroupPath.vigilString
        p.fromProcScan = false
        p.exitTimeBootNs = 0
        p.threadCount = 1
        p.lastSeenBootNs = e.timestampBootNs
        if p.fds.values.contains(where: { $0.isCloseOnExec }) {
            p.fds.removeAll { $0.isCloseOnExec }
        }
        return ApplyResult(process: p)
    }

    /// argv as the kernel copied it (NUL-separated) split into argv[0] and the arguments after
    /// it: every NUL ends an argument, a final NUL ends the last one rather than starting an
    /// empty one (so `a\0\0` is `a` and one empty argument), an unterminated tail (a cut copy) is
    /// the last argument. One scan with memchr, the arguments' array allocated once at its size.
    package static func splitArgv(_ argv: UnsafeRawBufferPointer) -> (exe: String, args: [String]) {
        guard let base = argv.baseAddress, argv.count > 0 else { return ("", []) }
        let n = argv.count
        // Arguments after argv[0]: the NULs before the last byte, plus one for an unterminated tail.
        var parts = 0
        var i = 0
        while i < n, let z = memchr(base + i, 0, n - i) {
            parts += 1
            i = base.distance(to: UnsafeRawPointer(z)) + 1
        }
        if i < n { parts += 1 }
        var exe = ""
        var args: [String] = []
        args.reserveCapacity(max(0, parts - 1))
        i = 0
        var first = true
        while i < n {
            let end = memchr(base + i, 0, n - i).map { base.distance(to: UnsafeRawPointer($0)) } ?? n
            let s = String(decoding: UnsafeRawBufferPointer(start: base + i, count: end - i), as: UTF8.self)
            if first { exe = s; first = false } else { args.append(s) }
            i = end + 1
        }
        return (exe, args)
    }

    /// The environment of the new image (Falco's `proc.env`): entries as the kernel copied
    /// them, the last one kept even when the copy was cut (the flag says so).
    private func applyEnvironment(_ e: Event, to p: ProcessInfo) {
        guard e.environmentCaptured else {
            if !p.envBlock.isEmpty { p.envBlock = "" }
            p.envCaptured = false; p.envTruncated = false
            return
        }
        var raw = e.environmentRaw
        while raw.count > 0, raw[raw.count - 1] == 0 { raw = UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 1)]) }
        let truncated = e.environmentTruncated
        // Most execs pass on the environment they inherited (a fork copied the parent's
        // block): keep that one string, shared with the parent, when the bytes are the same.
        if !(p.envCaptured && p.envTruncated == truncated && Self.equalBytes(p.envBlock, raw)) {
            p.envBlock = String(decoding: raw, as: UTF8.self)
        }
        p.envCaptured = true
        p.envTruncated = truncated
    }

    /// Whether `s` is what `exec` stores as the working directory `raw` (its text, plus `/` when
    /// it does not end with one): true only when `raw` does not end with `/` and `s` is `raw`'s
    /// bytes followed by `/`. Then `raw` is valid UTF-8 (a prefix of `s` cut before an ASCII
    /// byte), so decoding it changes nothing, and its last character is not `/`, so the slash
    /// is appended: the stored string would have exactly `s`'s bytes. Any other case says false.
    @inline(__always)
    static func isDirectory(_ s: String, raw: UnsafeRawBufferPointer) -> Bool {
        let n = raw.count
        guard n > 0, raw[n - 1] != 0x2F else { return false }
        var s = s
        return s.withUTF8 { u in
            u.count == n + 1 && u[n] == 0x2F && memcmp(u.baseAddress!, raw.baseAddress!, n) == 0
        }
    }

    /// Whether `s` holds exactly the bytes of `raw` (false when its text is not contiguous UTF-8).
    @inline(__always)
    static func equalBytes(_ s: String, _ raw: UnsafeRawBufferPointer) -> Bool {
        var s = s
        return s.withUTF8 { u in
            u.count == raw.count && (u.count == 0 || memcmp(u.baseAddress!, raw.baseAddress!, u.count) == 0)
        }
    }

    private func applyFork(_ e: Event) -> ApplyResult {
        let f = e.forkInfo
        let parent = process(for: e)
        if f.flags & UInt32(VIGIL_FORK_THREAD) != 0 {
            parent.threadCount &+= 1
            return ApplyResult(process: parent)
        }
        stats.forks.add()
        parent.mayHaveChildren = true
        let cpid = f.child_pid
        if let existing = processes[cpid], !existing.hasExited, !existing.exePath.isEmpty, existing !== parent,
           existing.startTimeBootNs == f.child_start_time_ns || f.child_start_time_ns == 0 || existing.startTimeBootNs == 0 {
            // The child's own events (an exec) arrived first: keep what it has.
            existing.ppid = parent.pid
            if existing.startTimeBootNs == 0 { existing.startTimeBootNs = f.child_start_time_ns }
            return ApplyResult(process: parent)
        }
        let child = ProcessInfo(pid: cpid, ppid: parent.pid)
        child.inherit(from: parent)
        child.startTimeBootNs = f.child_start_time_ns
        child.lastSeenBootNs = e.timestampBootNs
        child.vpid = 0
        insert(child)
        return ApplyResult(process: parent)
    }

    private func applyExit(_ e: Event) -> ApplyResult {
        let x = e.exitInfo
        guard let p = lookup(e.pid) else { return ApplyResult() }
        if x.flags & UInt32(VIGIL_EXIT_GROUP_DEAD) != 0 {
            stats.exits.add()
            if !p.countedExited {
                p.countedExited = true
                hot.pointee.exitedCount += 1
                stats.exitedEntries.set(Int64(hot.pointee.exitedCount))
            }
            // Trimmed once this event was evaluated: the next event (or tick) does it.
            hot.pointee.retiring = p
            hot.pointee.nextExitDueNs = 0
            p.exitTimeBootNs = max(e.timestampBootNs, 1)
            p.exitCode = x.exit_code
            p.exitSignal = x.signal
            p.threadCount = 0
            hot.pointee.exitQueue.append((pid: p.pid, ts: p.exitTimeBootNs, process: p))
        } else if p.threadCount > 1 {
            p.threadCount -= 1
        }
        return ApplyResult(process: p)
    }

    /// Frees room under the hard cap: exited entries first (oldest exit first),
    /// then the least recently seen live ones, in a batch of 1/64 of the cap.
    private func makeRoom() {
        let target = configuration.maxProcesses - max(1, configuration.maxProcesses / 64)
        removeOldestExits(counting: stats.evictions) { _ in processes.count > target }
        compactExitQueue()
        guard processes.count > target else { return }
        let victims = processes.values.sorted { $0.lastSeenBootNs < $1.lastSeenBootNs }.prefix(processes.count - target)
        for v in victims where v.pid != 1 {
            remove(pid: v.pid)
            stats.evictions.add()
        }
    }

    // MARK: /proc

    /// Loads every process in `/proc` (exe, argv, cwd, ppid, ids, login uid,
    /// tty, capabilities, start time, cgroup and its id, fds). Returns the number loaded.
    @discardableResult
    package func seedFromProc(_ scanner: ProcScanner? = nil) -> Int {
        let s = scanner ?? ProcScanner(procRoot: configuration.procRoot)
        var n = 0
        for p in s.scanAll(maxFDsPerProcess: configuration.maxFDsPerProcess) {
            if let cur = processes[p.pid], !cur.fromProcScan { continue }  // events already know better
            insert(p)
            n += 1
        }
        stats.seeded.add(UInt64(n))
        // Later misses on the event path read /proc without socket tables.
        self.scanner = ProcScanner(procRoot: s.procRoot, cgroups: s.cgroups, resolveSockets: false)
        return n
    }
}
