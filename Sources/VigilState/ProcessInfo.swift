/// One process (thread group) known to the state: filled from exec events or,
/// for processes older than the agent, from `/proc`.
///
/// Owned and mutated by the pipeline thread only. Rules read it while
/// evaluating an event of that process.
public final class ProcessInfo {
    /// Thread group id.
    public var pid: UInt32
    /// Parent's thread group id.
    public var ppid: UInt32
    /// `comm` (at most 15 bytes), Falco's `proc.name`.
    public var name: String
    /// `argv[0]` (Falco's `proc.exe`).
    public var exe: String
    /// Full executable path (Falco's `proc.exepath`).
    public var exePath: String
    /// Arguments after argv[0].
    public var args: [String]
    /// Working directory, with a trailing `/` as Falco reports it.
    public var cwd: String
    public var uid: UInt32
    public var gid: UInt32
    public var euid: UInt32
    public var egid: UInt32
    /// Audit login uid (`UInt32.max` when unset).
    public var loginUID: UInt32
    /// Controlling tty number (0 none).
    public var tty: UInt32
    /// Effective capability mask.
    public var capEffective: UInt64
    public var capPermitted: UInt64
    /// Start time, CLOCK_BOOTTIME nanoseconds.
    public var startTimeBootNs: UInt64
    /// Exe inode number, ctime and mtime (ns since epoch).
    public var exeIno: UInt64
    public var exeCtimeNs: UInt64
    public var exeMtimeNs: UInt64
    /// Exe lives on an overlay upper layer (dropped into a running container).
    public var exeUpperLayer: Bool
    /// Exe came from a memfd (fileless).
    public var exeFromMemfd: Bool
    /// Whether argv was truncated at capture.
    public var argsTruncated: Bool
    /// Process group, session id; pid in its own namespace.
    public var pgid: UInt32
    public var sid: UInt32
    public var vpid: UInt32
    /// cgroup v2 id the process was last seen in.
    public var cgroupID: UInt64
    /// Boot-time ns at which the process exited (0 while alive).
    public var exitTimeBootNs: UInt64 = 0
    /// Whether this entry came from `/proc` rather than an exec event.
    public var fromProcScan: Bool
    /// Open file descriptors the rules care about.
    public var fds: [Int32: FDInfo] = [:]
    /// The cgroup v2 path relative to the cgroup root (from the last exec record or
    /// `/proc/PID/cgroup`); empty when unknown. With ``cgroupID`` it identifies the container.
    public var cgroupPath: String = ""
    /// Exe file writable by the executing user (Falco's `proc.is_exe_writable`).
    public var exeWritable: Bool = false
    /// Boot-time ns of the last event seen from this process (eviction under the hard cap).
    public var lastSeenBootNs: UInt64 = 0
    /// Exit code and terminating signal once exited.
    public var exitCode: Int32 = 0
    public var exitSignal: Int32 = 0
    /// Number of live threads known (1 after exec; threads add to it).
    public var threadCount: UInt32 = 1
    /// Whether the process has exited (kept for a grace period for late events).
    public var hasExited: Bool { exitTimeBootNs != 0 }
    /// The user database for this process's root (cached on first user-name lookup).
    public var userDatabase: UserDatabase?

    /// Falco's `proc.cmdline`: the name followed by the arguments, space-separated.
    public var cmdline: String {
        var s = name
        for a in args { s += " "; s += a }
        return s
    }

    /// Copies what a forked child inherits from `parent` (exe, args, cwd, ids,
    /// capabilities, cgroup, fds); the caller sets the new identity.
    public func inherit(from parent: ProcessInfo) {
        name = parent.name; exe = parent.exe; exePath = parent.exePath; args = parent.args; cwd = parent.cwd
        uid = parent.uid; gid = parent.gid; euid = parent.euid; egid = parent.egid; loginUID = parent.loginUID
        tty = parent.tty; capEffective = parent.capEffective; capPermitted = parent.capPermitted
        exeIno = parent.exeIno; exeCtimeNs = parent.exeCtimeNs; exeMtimeNs = parent.exeMtimeNs
        exeUpperLayer = parent.exeUpperLayer; exeFromMemfd = parent.exeFromMemfd; exeWritable = parent.exeWritable
        argsTruncated = parent.argsTruncated; pgid = parent.pgid; sid = parent.sid
        cgroupID = parent.cgroupID; cgroupPath = parent.cgroupPath; fds = parent.fds
        userDatabase = parent.userDatabase
    }

    public init(pid: UInt32, ppid: UInt32, name: String = "", exe: String = "", exePath: String = "",
                args: [String] = [], cwd: String = "", uid: UInt32 = 0, gid: UInt32 = 0,
                euid: UInt32 = 0, egid: UInt32 = 0, loginUID: UInt32 = .max, tty: UInt32 = 0,
                capEffective: UInt64 = 0, capPermitted: UInt64 = 0, startTimeBootNs: UInt64 = 0,
                exeIno: UInt64 = 0, exeCtimeNs: UInt64 = 0, exeMtimeNs: UInt64 = 0,
                exeUpperLayer: Bool = false, exeFromMemfd: Bool = false, argsTruncated: Bool = false,
                pgid: UInt32 = 0, sid: UInt32 = 0, vpid: UInt32 = 0, cgroupID: UInt64 = 0,
                fromProcScan: Bool = false) {
        self.pid = pid; self.ppid = ppid; self.name = name; self.exe = exe; self.exePath = exePath
        self.args = args; self.cwd = cwd; self.uid = uid; self.gid = gid; self.euid = euid; self.egid = egid
        self.loginUID = loginUID; self.tty = tty; self.capEffective = capEffective; self.capPermitted = capPermitted
        self.startTimeBootNs = startTimeBootNs; self.exeIno = exeIno; self.exeCtimeNs = exeCtimeNs
        self.exeMtimeNs = exeMtimeNs; self.exeUpperLayer = exeUpperLayer; self.exeFromMemfd = exeFromMemfd
        self.argsTruncated = argsTruncated; self.pgid = pgid; self.sid = sid; self.vpid = vpid
        self.cgroupID = cgroupID; self.fromProcScan = fromProcScan
    }
}
