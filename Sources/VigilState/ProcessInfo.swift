/// One process (thread group) known to the state: filled from exec events or,
/// for processes older than the agent, from `/proc`.
///
/// Owned and mutated by the pipeline thread only. Rules read it while
/// evaluating an event of that process.
package final class ProcessInfo {
    /// Fields read or written for every event, kept outside the object's stored
    /// properties so the per-event path pays no dynamic exclusivity checks.
    struct Hot {
        var pid: UInt32
        var ppid: UInt32
        var uid: UInt32
        var gid: UInt32
        var cgroupID: UInt64
        var exitTimeBootNs: UInt64
        var lastSeenBootNs: UInt64
        var fds: FDTable
        var name: String = ""
        var exe: String = ""
        var exePath: String = ""
        var args: [String] = []
        var cwd: String = ""
        var euid: UInt32 = 0
        var egid: UInt32 = 0
        var loginUID: UInt32 = 0
        var tty: UInt32 = 0
        var capEffective: UInt64 = 0
        var capPermitted: UInt64 = 0
        var startTimeBootNs: UInt64 = 0
        var exeIno: UInt64 = 0
        var exeCtimeNs: UInt64 = 0
        var exeMtimeNs: UInt64 = 0
        var exeUpperLayer: Bool = false
        var exeFromMemfd: Bool = false
        var argsTruncated: Bool = false
        var pgid: UInt32 = 0
        var sid: UInt32 = 0
        var vpid: UInt32 = 0
        var fromProcScan: Bool = false
        var cgroupPath: String = ""
        var exeWritable: Bool = false
        var exeIA32: Bool = false
        var exitCode: Int32 = 0
        var exitSignal: Int32 = 0
        var threadCount: UInt32 = 1
        var userDatabase: UserDatabase? = nil
        var envBlock: String = ""
        var envCaptured: Bool = false
        var envTruncated: Bool = false
        var mayHaveChildren: Bool = false
        var isRetired: Bool = false
        var countedExited: Bool = false
        var retainedBytes: Int = 0
    }
    let hot: UnsafeMutablePointer<Hot>

    /// Thread group id.
    package var pid: UInt32 {
        @inline(__always) get { hot.pointee.pid }
        @inline(__always) _modify { yield &hot.pointee.pid }
        @inline(__always) set { hot.pointee.pid = newValue }
    }
    /// Parent's thread group id.
    package var ppid: UInt32 {
        @inline(__always) get { hot.pointee.ppid }
        @inline(__always) _modify { yield &hot.pointee.ppid }
        @inline(__always) set { hot.pointee.ppid = newValue }
    }
    /// `comm` (at most 15 bytes), Falco's `proc.name`.
    package var name: String {
        @inline(__always) get { hot.pointee.name }
        @inline(__always) _modify { yield &hot.pointee.name }
        @inline(__always) set { hot.pointee.name = newValue }
    }
    /// `argv[0]` (Falco's `proc.exe`).
    package var exe: String {
        @inline(__always) get { hot.pointee.exe }
        @inline(__always) _modify { yield &hot.pointee.exe }
        @inline(__always) set { hot.pointee.exe = newValue }
    }
    /// Full executable path (Falco's `proc.exepath`).
    package var exePath: String {
        @inline(__always) get { hot.pointee.exePath }
        @inline(__always) _modify { yield &hot.pointee.exePath }
        @inline(__always) set { hot.pointee.exePath = newValue }
    }
    /// Arguments after argv[0].
    package var args: [String] {
        @inline(__always) get { hot.pointee.args }
        @inline(__always) _modify { yield &hot.pointee.args }
        @inline(__always) set { hot.pointee.args = newValue }
    }
    /// Working directory, with a trailing `/` as Falco reports it.
    package var cwd: String {
        @inline(__always) get { hot.pointee.cwd }
        @inline(__always) _modify { yield &hot.pointee.cwd }
        @inline(__always) set { hot.pointee.cwd = newValue }
    }
    /// Real user and group ids.
    package var uid: UInt32 {
        @inline(__always) get { hot.pointee.uid }
        @inline(__always) _modify { yield &hot.pointee.uid }
        @inline(__always) set { hot.pointee.uid = newValue }
    }
    package var gid: UInt32 {
        @inline(__always) get { hot.pointee.gid }
        @inline(__always) _modify { yield &hot.pointee.gid }
        @inline(__always) set { hot.pointee.gid = newValue }
    }
    package var euid: UInt32 {
        @inline(__always) get { hot.pointee.euid }
        @inline(__always) _modify { yield &hot.pointee.euid }
        @inline(__always) set { hot.pointee.euid = newValue }
    }
    package var egid: UInt32 {
        @inline(__always) get { hot.pointee.egid }
        @inline(__always) _modify { yield &hot.pointee.egid }
        @inline(__always) set { hot.pointee.egid = newValue }
    }
    /// Audit login uid (`UInt32.max` when unset).
    package var loginUID: UInt32 {
        @inline(__always) get { hot.pointee.loginUID }
        @inline(__always) _modify { yield &hot.pointee.loginUID }
        @inline(__always) set { hot.pointee.loginUID = newValue }
    }
    /// Controlling tty number (0 none).
    package var tty: UInt32 {
        @inline(__always) get { hot.pointee.tty }
        @inline(__always) _modify { yield &hot.pointee.tty }
        @inline(__always) set { hot.pointee.tty = newValue }
    }
    /// Effective capability mask.
    package var capEffective: UInt64 {
        @inline(__always) get { hot.pointee.capEffective }
        @inline(__always) _modify { yield &hot.pointee.capEffective }
        @inline(__always) set { hot.pointee.capEffective = newValue }
    }
    package var capPermitted: UInt64 {
        @inline(__always) get { hot.pointee.capPermitted }
        @inline(__always) _modify { yield &hot.pointee.capPermitted }
        @inline(__always) set { hot.pointee.capPermitted = newValue }
    }
    /// Start time, CLOCK_BOOTTIME nanoseconds.
    package var startTimeBootNs: UInt64 {
        @inline(__always) get { hot.pointee.startTimeBootNs }
        @inline(__always) _modify { yield &hot.pointee.startTimeBootNs }
        @inline(__always) set { hot.pointee.startTimeBootNs = newValue }
    }
    /// Exe inode number, ctime and mtime (ns since epoch).
    package var exeIno: UInt64 {
        @inline(__always) get { hot.pointee.exeIno }
        @inline(__always) _modify { yield &hot.pointee.exeIno }
        @inline(__always) set { hot.pointee.exeIno = newValue }
    }
    package var exeCtimeNs: UInt64 {
        @inline(__always) get { hot.pointee.exeCtimeNs }
        @inline(__always) _modify { yield &hot.pointee.exeCtimeNs }
        @inline(__always) set { hot.pointee.exeCtimeNs = newValue }
    }
    package var exeMtimeNs: UInt64 {
        @inline(__always) get { hot.pointee.exeMtimeNs }
        @inline(__always) _modify { yield &hot.pointee.exeMtimeNs }
        @inline(__always) set { hot.pointee.exeMtimeNs = newValue }
    }
    /// Exe lives on an overlay upper layer (dropped into a running container).
    package var exeUpperLayer: Bool {
        @inline(__always) get { hot.pointee.exeUpperLayer }
        @inline(__always) _modify { yield &hot.pointee.exeUpperLayer }
        @inline(__always) set { hot.pointee.exeUpperLayer = newValue }
    }
    /// Exe came from a memfd (fileless).
    package var exeFromMemfd: Bool {
        @inline(__always) get { hot.pointee.exeFromMemfd }
        @inline(__always) _modify { yield &hot.pointee.exeFromMemfd }
        @inline(__always) set { hot.pointee.exeFromMemfd = newValue }
    }
    /// Whether argv was truncated at capture.
    package var argsTruncated: Bool {
        @inline(__always) get { hot.pointee.argsTruncated }
        @inline(__always) _modify { yield &hot.pointee.argsTruncated }
        @inline(__always) set { hot.pointee.argsTruncated = newValue }
    }
    /// Process group, session id; pid in its own namespace.
    package var pgid: UInt32 {
        @inline(__always) get { hot.pointee.pgid }
        @inline(__always) _modify { yield &hot.pointee.pgid }
        @inline(__always) set { hot.pointee.pgid = newValue }
    }
    package var sid: UInt32 {
        @inline(__always) get { hot.pointee.sid }
        @inline(__always) _modify { yield &hot.pointee.sid }
        @inline(__always) set { hot.pointee.sid = newValue }
    }
    package var vpid: UInt32 {
        @inline(__always) get { hot.pointee.vpid }
        @inline(__always) _modify { yield &hot.pointee.vpid }
        @inline(__always) set { hot.pointee.vpid = newValue }
    }
    /// cgroup v2 id the process was last seen in.
    package var cgroupID: UInt64 {
        @inline(__always) get { hot.pointee.cgroupID }
        @inline(__always) _modify { yield &hot.pointee.cgroupID }
        @inline(__always) set { hot.pointee.cgroupID = newValue }
    }
    /// Boot-time ns at which the process exited (0 while alive).
    package var exitTimeBootNs: UInt64 {
        @inline(__always) get { hot.pointee.exitTimeBootNs }
        @inline(__always) _modify { yield &hot.pointee.exitTimeBootNs }
        @inline(__always) set { hot.pointee.exitTimeBootNs = newValue }
    }
    /// Whether this entry came from `/proc` rather than an exec event.
    package var fromProcScan: Bool {
        @inline(__always) get { hot.pointee.fromProcScan }
        @inline(__always) _modify { yield &hot.pointee.fromProcScan }
        @inline(__always) set { hot.pointee.fromProcScan = newValue }
    }
    /// Open file descriptors the rules care about.
    package var fds: FDTable {
        @inline(__always) get { hot.pointee.fds }
        @inline(__always) _modify { yield &hot.pointee.fds }
        @inline(__always) set { hot.pointee.fds = newValue }
    }
    /// The cgroup v2 path relative to the cgroup root (from the last exec record or
    /// `/proc/PID/cgroup`); empty when unknown. With ``cgroupID`` it identifies the container.
    package var cgroupPath: String {
        @inline(__always) get { hot.pointee.cgroupPath }
        @inline(__always) _modify { yield &hot.pointee.cgroupPath }
        @inline(__always) set { hot.pointee.cgroupPath = newValue }
    }
    /// Exe file writable by the executing user (Falco's `proc.is_exe_writable`).
    /// The program image is a 32-bit x86 ELF (`proc.is_exe_32bit`): its syscalls are ia32 by design.
    package var exeIA32: Bool {
        @inline(__always) get { hot.pointee.exeIA32 }
        @inline(__always) set { hot.pointee.exeIA32 = newValue }
    }
    package var exeWritable: Bool {
        @inline(__always) get { hot.pointee.exeWritable }
        @inline(__always) _modify { yield &hot.pointee.exeWritable }
        @inline(__always) set { hot.pointee.exeWritable = newValue }
    }
    /// Boot-time ns of the last event seen from this process (eviction under the hard cap).
    package var lastSeenBootNs: UInt64 {
        @inline(__always) get { hot.pointee.lastSeenBootNs }
        @inline(__always) _modify { yield &hot.pointee.lastSeenBootNs }
        @inline(__always) set { hot.pointee.lastSeenBootNs = newValue }
    }
    /// Exit code and terminating signal once exited.
    package var exitCode: Int32 {
        @inline(__always) get { hot.pointee.exitCode }
        @inline(__always) _modify { yield &hot.pointee.exitCode }
        @inline(__always) set { hot.pointee.exitCode = newValue }
    }
    package var exitSignal: Int32 {
        @inline(__always) get { hot.pointee.exitSignal }
        @inline(__always) _modify { yield &hot.pointee.exitSignal }
        @inline(__always) set { hot.pointee.exitSignal = newValue }
    }
    /// Number of live threads known (1 after exec; threads add to it).
    package var threadCount: UInt32 {
        @inline(__always) get { hot.pointee.threadCount }
        @inline(__always) _modify { yield &hot.pointee.threadCount }
        @inline(__always) set { hot.pointee.threadCount = newValue }
    }
    /// The environment of the last exec: `NAME=value` entries separated by NUL bytes, as the
    /// kernel copied them (one string: one allocation per exec, shared by forked children, which
    /// inherit it as Falco's `proc.env`). Empty when not captured.
    package var envBlock: String {
        @inline(__always) get { hot.pointee.envBlock }
        @inline(__always) _modify { yield &hot.pointee.envBlock }
        @inline(__always) set { hot.pointee.envBlock = newValue }
    }
    /// The entries of ``envBlock``.
    package var env: [String] { envBlock.isEmpty ? [] : envBlock.split(separator: "\0", omittingEmptySubsequences: true).map(String.init) }
    /// Whether ``envBlock`` was captured at the last exec (a rule needed `proc.env` then).
    package var envCaptured: Bool {
        @inline(__always) get { hot.pointee.envCaptured }
        @inline(__always) set { hot.pointee.envCaptured = newValue }
    }
    /// Whether the captured environment was cut (`capture.max_env_bytes`, or no room in the record).
    package var envTruncated: Bool {
        @inline(__always) get { hot.pointee.envTruncated }
        @inline(__always) set { hot.pointee.envTruncated = newValue }
    }

    /// Whether the process may have descendants: it forked (a thread-group child), a process
    /// names it as its parent, or it came from `/proc` (whose children are not checked). Only
    /// such a process can be reached as an ancestor (`proc.pname`, `proc.aname[N]`,
    /// `proc.aenv`), so only such an exited process keeps its environment (see
    /// ``ProcessTable``'s exit handling).
    package var mayHaveChildren: Bool {
        @inline(__always) get { hot.pointee.mayHaveChildren }
        @inline(__always) set { hot.pointee.mayHaveChildren = newValue }
    }
    /// Whether the table trimmed this exited process to what later lookups need (after its
    /// exit event was evaluated).
    package var isRetired: Bool { hot.pointee.isRetired }
    /// What this entry holds in memory, in bytes (an estimate: the object, its fixed fields,
    /// the heap storage of its strings, arguments, environment and fd table; storage shared
    /// with other processes, such as an inherited environment, is counted in full).
    package var estimatedBytes: Int {
        @inline(__always) func heap(_ s: String) -> Int {
            let n = s.utf8.count
            return n <= 15 ? 0 : 32 + n  // small strings live inline
        }
        let h = hot.pointee
        var n = 32 + MemoryLayout<Hot>.stride
        n += heap(h.name) + heap(h.exe) + heap(h.exePath) + heap(h.cwd) + heap(h.cgroupPath) + heap(h.envBlock)
        if !h.args.isEmpty {
            n += 32 + h.args.capacity * MemoryLayout<String>.stride
            for a in h.args { n += heap(a) }
        }
        if !h.fds.isEmpty {
            // The directly indexed slots, and the dictionary of the other fds (native storage:
            // a power-of-two bucket count at most 3/4 full).
            n += 32 + h.fds.directCapacity * MemoryLayout<FDInfo?>.stride
            if h.fds.othersCapacity > 0 {
                var buckets = 1
                while buckets * 3 < h.fds.othersCapacity * 4 { buckets <<= 1 }
                n += 64 + buckets * (MemoryLayout<Int32>.stride + MemoryLayout<FDInfo>.stride) + buckets / 8
            }
        }
        return n
    }
    /// Whether the table counts this entry among its exited ones (from its exit event until it leaves).
    var countedExited: Bool {
        @inline(__always) get { hot.pointee.countedExited }
        @inline(__always) set { hot.pointee.countedExited = newValue }
    }
    /// The ``estimatedBytes`` counted when the table retired this entry (0 before).
    var retainedBytes: Int {
        @inline(__always) get { hot.pointee.retainedBytes }
        @inline(__always) set { hot.pointee.retainedBytes = newValue }
    }

    /// Trims an exited process to what can still be asked of it once its exit event was
    /// evaluated: its fd table goes (fds are read only for the process's own events, and a
    /// thread group makes none after its last thread's exit), and so does its environment
    /// unless it may have descendants (``mayHaveChildren``: their `proc.aenv` reads it). Its
    /// identity, image and arguments stay for its children's `proc.pname`, `proc.aname[N]`,
    /// `proc.pcmdline`, `proc.aexepath[N]` and the `proc.sname`/`proc.vpgid.name` of its
    /// session and process group.
    func retire() {
        hot.pointee.isRetired = true
        if !hot.pointee.fds.isEmpty { hot.pointee.fds = [:] }
        if !hot.pointee.mayHaveChildren && hot.pointee.envCaptured {
            hot.pointee.envBlock = ""
            hot.pointee.envCaptured = false; hot.pointee.envTruncated = false
        }
    }

    /// The value of environment variable `name` (the first `name=` entry), or nil.
    package func envValue(_ name: String) -> String? {
        let prefix = name + "="
        return env.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// Whether the process has exited (kept for a grace period for late events).
    package var hasExited: Bool { exitTimeBootNs != 0 }
    /// The user database for this process's root (cached on first user-name lookup).
    package var userDatabase: UserDatabase? {
        @inline(__always) get { hot.pointee.userDatabase }
        @inline(__always) _modify { yield &hot.pointee.userDatabase }
        @inline(__always) set { hot.pointee.userDatabase = newValue }
    }

    /// Falco's `proc.cmdline`: the name followed by the arguments, space-separated.
    package var cmdline: String {
        var s = name
        for a in args { s += " "; s += a }
        return s
    }

    /// Copies what a forked child inherits from `parent` (exe, args, cwd, ids,
    /// capabilities, cgroup, fds); the caller sets the new identity.
    package func inherit(from parent: ProcessInfo) {
        // Copy everything in one go, then restore what is the child's own (scalars only: no
        // copy of the child's own strings and tables, which the parent's replace).
        let h = hot
        let pid = h.pointee.pid, ppid = h.pointee.ppid
        let start = h.pointee.startTimeBootNs, vpid = h.pointee.vpid
        let exitTime = h.pointee.exitTimeBootNs, lastSeen = h.pointee.lastSeenBootNs
        let exitCode = h.pointee.exitCode, exitSignal = h.pointee.exitSignal
        let threads = h.pointee.threadCount, fromProcScan = h.pointee.fromProcScan
        let mayHaveChildren = h.pointee.mayHaveChildren, isRetired = h.pointee.isRetired
        let countedExited = h.pointee.countedExited, retainedBytes = h.pointee.retainedBytes
        h.pointee = parent.hot.pointee
        h.pointee.pid = pid; h.pointee.ppid = ppid
        h.pointee.startTimeBootNs = start; h.pointee.vpid = vpid
        h.pointee.exitTimeBootNs = exitTime; h.pointee.lastSeenBootNs = lastSeen
        h.pointee.exitCode = exitCode; h.pointee.exitSignal = exitSignal
        h.pointee.threadCount = threads; h.pointee.fromProcScan = fromProcScan
        h.pointee.mayHaveChildren = mayHaveChildren
        h.pointee.isRetired = isRetired; h.pointee.countedExited = countedExited
        h.pointee.retainedBytes = retainedBytes
    }

    package init(pid: UInt32, ppid: UInt32, name: String = "", exe: String = "", exePath: String = "",
                args: [String] = [], cwd: String = "", uid: UInt32 = 0, gid: UInt32 = 0,
                euid: UInt32 = 0, egid: UInt32 = 0, loginUID: UInt32 = .max, tty: UInt32 = 0,
                capEffective: UInt64 = 0, capPermitted: UInt64 = 0, startTimeBootNs: UInt64 = 0,
                exeIno: UInt64 = 0, exeCtimeNs: UInt64 = 0, exeMtimeNs: UInt64 = 0,
                exeUpperLayer: Bool = false, exeFromMemfd: Bool = false, argsTruncated: Bool = false,
                pgid: UInt32 = 0, sid: UInt32 = 0, vpid: UInt32 = 0, cgroupID: UInt64 = 0,
                fromProcScan: Bool = false) {
        hot = .allocate(capacity: 1)
        hot.initialize(to: Hot(pid: pid, ppid: ppid, uid: uid, gid: gid, cgroupID: cgroupID, exitTimeBootNs: 0, lastSeenBootNs: 0, fds: [:]))
        self.name = name; self.exe = exe; self.exePath = exePath
        self.args = args; self.cwd = cwd; self.euid = euid; self.egid = egid
        self.loginUID = loginUID; self.tty = tty; self.capEffective = capEffective; self.capPermitted = capPermitted
        self.startTimeBootNs = startTimeBootNs; self.exeIno = exeIno; self.exeCtimeNs = exeCtimeNs
        self.exeMtimeNs = exeMtimeNs; self.exeUpperLayer = exeUpperLayer; self.exeFromMemfd = exeFromMemfd
        self.argsTruncated = argsTruncated; self.pgid = pgid; self.sid = sid; self.vpid = vpid
        self.fromProcScan = fromProcScan
        // A process found in /proc may have children (not checked): keep what they may ask of it.
        self.mayHaveChildren = fromProcScan
    }

    deinit {
        hot.deinitialize(count: 1)
        hot.deallocate()
    }
}
