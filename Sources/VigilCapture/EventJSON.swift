#if canImport(Glibc)
import Glibc
#endif
import VigilABI
import VigilCore
import VigilDecode

/// Renders decoded events as one JSON object per line, keys named like Vigil's
/// rule fields (`evt.type`, `proc.pid`, `fd.name`, ...). Used by `vigil trace`.
/// Reuse one renderer per thread: it keeps its buffers between events.
package struct EventJSONRenderer {
    /// CLOCK_BOOTTIME -> wall-clock offset for `evt.time`.
    package var bootToWallOffsetNs: UInt64
    private let w = JSONWriter(capacity: 4096)

    package init(bootToWallOffsetNs: UInt64) { self.bootToWallOffsetNs = bootToWallOffsetNs }

    /// The keys `vigil trace` takes from the rules' field extractor when it keeps state (JSON
    /// key, rule field): with ``render(_:ruleFields:_:)``'s `ruleFields` the renderer leaves them
    /// out and the caller writes them, so trace and rules can never disagree. `proc.tid` shows
    /// `thread.tid`. The container fields are added only where a container is known (live capture).
    package static let ruleFieldKeys: [(key: String, field: String)] = [
        ("evt.type", "evt.type"), ("evt.rawres", "evt.rawres"), ("evt.res", "evt.res"),
        ("proc.pid", "proc.pid"), ("proc.tid", "thread.tid"), ("proc.ppid", "proc.ppid"), ("proc.name", "proc.name"),
        ("user.uid", "user.uid"), ("group.gid", "group.gid"),
        ("proc.exepath", "proc.exepath"), ("proc.exe", "proc.exe"), ("proc.args", "proc.args"),
        ("proc.cmdline", "proc.cmdline"), ("proc.cwd", "proc.cwd"), ("proc.pname", "proc.pname"),
        ("proc.pexepath", "proc.pexepath"), ("user.loginuid", "user.loginuid"), ("proc.tty", "proc.tty"),
        ("proc.vpid", "proc.vpid"), ("proc.sid", "proc.sid"), ("proc.exe_ino", "proc.exe_ino"),
        ("proc.exe_ino.ctime", "proc.exe_ino.ctime"), ("proc.exe_ino.mtime", "proc.exe_ino.mtime"),
        ("proc.is_exe_upper_layer", "proc.is_exe_upper_layer"), ("proc.is_exe_from_memfd", "proc.is_exe_from_memfd"),
        ("proc.is_exe_writable", "proc.is_exe_writable"),
        ("fd.num", "fd.num"), ("fd.name", "fd.name"), ("fd.nameraw", "fd.nameraw"), ("fd.typechar", "fd.typechar"),
        ("fd.ino", "fd.ino"), ("fd.dev", "fd.dev"), ("fd.l4proto", "fd.l4proto"), ("fd.cip", "fd.cip"),
        ("fd.cport", "fd.cport"), ("fd.sip", "fd.sip"), ("fd.sport", "fd.sport"),
    ]
    /// Container and pod keys (from the rules' extractor, live capture only).
    package static let containerFieldKeys: [(key: String, field: String)] = [
        ("container.id", "container.id"), ("container.name", "container.name"),
        ("container.image.repository", "container.image.repository"), ("container.image.tag", "container.image.tag"),
        ("k8s.ns.name", "k8s.ns.name"), ("k8s.pod.name", "k8s.pod.name"),
    ]

    /// Renders `e` from its record alone and passes the JSON bytes (no newline) to `body`.
    package mutating func render<R>(_ e: Event, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        render(e, ruleFields: nil, body)
    }

    /// Renders `e`. With `ruleFields`, the keys of ``ruleFieldKeys`` are left out and
    /// `ruleFields` writes them (from the rules' extractor, first in the object); the
    /// renderer writes only what the record alone says and rules do not compute
    /// (`evt.time`, `proc.argv`, `evt.args`, ...).
    package mutating func render<R>(_ e: Event, ruleFields: ((JSONWriter) -> Void)?, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        w.reset()
        w.beginObject()
        let recordOnly = ruleFields == nil
        let type = e.type
        // Rule fields first (evt.type leads the line either way).
        if let ruleFields { ruleFields(w) } else { w.key("evt.type"); w.string(type.name) }
        let wall = e.timestampBootNs &+ bootToWallOffsetNs
        w.key("evt.time"); w.time(wall)
        w.key("evt.rawtime"); w.uint(wall)
        w.key("evt.cpu"); w.uint(UInt64(e.cpu))
        if recordOnly && e.isSyscall {
            let r = e.ret
            w.key("evt.rawres"); w.int(r)
            w.key("evt.res")
            if r < 0, let name = LinuxConstants.errnoName(r) { w.string(name) } else { w.string("SUCCESS") }
        }
        if e.isTruncated { w.key("evt.is_truncated"); w.bool(true) }
        if e.isCompat { w.key("evt.is_compat"); w.bool(true) }
        if e.isIoUring { w.key("evt.is_io_uring"); w.bool(true) }
        if recordOnly {
            w.key("proc.pid"); w.uint(UInt64(e.pid))
            w.key("proc.tid"); w.uint(UInt64(e.tid))
            w.key("proc.ppid"); w.uint(UInt64(e.ppid))
            w.key("proc.name"); w.string(bytes: e.comm)
            w.key("user.uid"); w.uint(UInt64(e.uid))
            w.key("group.gid"); w.uint(UInt64(e.gid))
        }
        w.key("container.cgroup_id"); w.uint(e.cgroupID)
        if e.isExec { writeExec(e, recordOnly: recordOnly) }
        if recordOnly && e.isSyscall { writeFD(e, type) }
        writeArgs(e)
        w.endObject()
        return body(w.bytes)
    }

    private mutating func writeExec(_ e: Event, recordOnly: Bool) {
        let x = e.execInfo
        if recordOnly { w.key("proc.exepath"); w.string(bytes: e.exePath) }
        // argv: exact strings (an array keeps boundaries), plus Falco's space-joined forms.
        let argv = e.argvRaw
        var parts: [UnsafeRawBufferPointer] = []
        var start = 0
        for i in 0..<argv.count where argv[i] == 0 {
            parts.append(UnsafeRawBufferPointer(rebasing: argv[start..<i]))
            start = i + 1
        }
        if start < argv.count { parts.append(UnsafeRawBufferPointer(rebasing: argv[start..<argv.count])) }
        if recordOnly {
            w.key("proc.exe"); if let a0 = parts.first { w.string(bytes: a0) } else { w.string("") }
            w.key("proc.args"); writeJoined(parts.dropFirst())
            w.key("proc.cmdline"); writeJoined([e.comm] + parts.dropFirst())
        }
        w.key("proc.argv"); w.beginArray(); for p in parts { w.string(bytes: p) }; w.endArray()
        if recordOnly { w.key("proc.cwd"); w.string(bytes: e.cwd) }
        w.key("user.euid"); w.uint(UInt64(x.euid))
        if recordOnly {
            w.key("user.loginuid"); w.int(x.loginuid == .max ? -1 : Int64(x.loginuid))
            w.key("proc.tty"); w.uint(UInt64(x.tty))
            w.key("proc.vpid"); w.uint(UInt64(x.vpid))
        }
        w.key("proc.pgid"); w.uint(UInt64(x.pgid))
        if recordOnly { w.key("proc.sid"); w.uint(UInt64(x.sid)) }
        w.key("proc.exe_tid"); w.uint(UInt64(x.old_tid))
        w.key("proc.cap_effective"); w.uint(x.cap_effective)
        w.key("proc.cap_permitted"); w.uint(x.cap_permitted)
        if recordOnly {
            w.key("proc.exe_ino"); w.uint(x.exe_ino)
            w.key("proc.exe_ino.ctime"); w.uint(x.exe_ctime_ns)
            w.key("proc.exe_ino.mtime"); w.uint(x.exe_mtime_ns)
            w.key("proc.is_exe_upper_layer"); w.bool(x.exe_flags & UInt32(VIGIL_EXE_UPPER_LAYER) != 0)
            w.key("proc.is_exe_from_memfd"); w.bool(x.exe_flags & UInt32(VIGIL_EXE_FROM_MEMFD) != 0)
            w.key("proc.is_exe_writable"); w.bool(x.exe_flags & UInt32(VIGIL_EXE_WRITABLE) != 0)
        }
        if x.exe_flags & UInt32(VIGIL_EXE_ARGS_TRUNCATED) != 0 { w.key("proc.args_truncated"); w.bool(true) }
        w.key("proc.start_time"); w.uint(x.start_time_ns &+ bootToWallOffsetNs)
        w.key("container.cgroup"); w.string(bytes: e.cgroupPath)
        if e.environmentCaptured {
            let env = e.environmentRaw
            w.key("proc.env"); w.beginArray()
            var from = 0
            for i in 0..<env.count where env[i] == 0 {
                if i > from { w.string(bytes: UnsafeRawBufferPointer(rebasing: env[from..<i])) }
                from = i + 1
            }
            if from < env.count { w.string(bytes: UnsafeRawBufferPointer(rebasing: env[from..<env.count])) }
            w.endArray()
            w.key("proc.is_env_truncated"); w.bool(e.environmentTruncated)
        }
    }

    /// Writes `parts` joined by spaces as one JSON string (exec records only).
    private mutating func writeJoined<S: Sequence>(_ parts: S) where S.Element == UnsafeRawBufferPointer {
        var out: [UInt8] = []
        var first = true
        for p in parts {
            if !first { out.append(0x20) }
            first = false
            out.append(contentsOf: p)
        }
        out.withUnsafeBytes { w.string(bytes: $0) }
    }

    /// Writes fd.* fields known from the record alone (without state: no process table).
    private mutating func writeFD(_ e: Event, _ type: EventType) {
        let id = UInt32(type.rawValue)
        switch id {
        case VIGIL_SYS_OPEN.rawValue, VIGIL_SYS_OPENAT.rawValue, VIGIL_SYS_OPENAT2.rawValue, VIGIL_SYS_CREAT.rawValue,
             VIGIL_SYS_OPEN_BY_HANDLE_AT.rawValue:
            if e.ret >= 0 { w.key("fd.num"); w.int(e.ret) }
            let opened = e.openedPath
            let ref = e.fileRef
            // The file the kernel opened (its dentry's path), else the path as written.
            w.key("fd.name"); w.string(bytes: opened.count > 0 ? opened : e.str0)
            w.key("fd.nameraw"); w.string(bytes: e.str0)
            w.key("fd.typechar"); w.string("f")
            if ref.flags & UInt32(VIGIL_FILE_PRESENT) != 0 {
                w.key("fd.ino"); w.uint(ref.ino)
                w.key("fd.dev"); w.uint(UInt64(ref.dev))
            }
        case VIGIL_SYS_ACCEPT.rawValue, VIGIL_SYS_ACCEPT4.rawValue:
            if e.ret >= 0 { w.key("fd.num"); w.int(e.ret) }
            writeTuple(e, serverSide: true)
        case VIGIL_SYS_CONNECT.rawValue, VIGIL_SYS_SENDTO.rawValue, VIGIL_SYS_SENDMSG.rawValue,
             VIGIL_SYS_RECVFROM.rawValue, VIGIL_SYS_RECVMSG.rawValue:
            w.key("fd.num"); w.int(Int64(Int32(truncatingIfNeeded: e.arg(0))))
            writeTuple(e, serverSide: false)
        case VIGIL_SYS_BIND.rawValue, VIGIL_SYS_LISTEN.rawValue:
            w.key("fd.num"); w.int(Int64(Int32(truncatingIfNeeded: e.arg(0))))
            writeTuple(e, serverSide: true)
        case VIGIL_SYS_CLOSE.rawValue, VIGIL_SYS_DUP.rawValue, VIGIL_SYS_DUP2.rawValue, VIGIL_SYS_DUP3.rawValue,
             VIGIL_SYS_FCHMOD.rawValue, VIGIL_SYS_FCHDIR.rawValue, VIGIL_SYS_FCNTL.rawValue:
            w.key("fd.num"); w.int(Int64(Int32(truncatingIfNeeded: e.arg(0))))
        case VIGIL_SYS_SOCKET.rawValue:
            if e.ret >= 0 { w.key("fd.num"); w.int(e.ret) }
        default:
            break
        }
    }

    private mutating func writeTuple(_ e: Event, serverSide: Bool) {
        let t = SocketTuple(e.tuple)
        guard t.family == LinuxConstants.AF_INET || t.family == LinuxConstants.AF_INET6 else { return }
        let (cip, cport, sip, sport) = serverSide
            ? (t.remoteIP, t.remotePort, t.localIP, t.localPort)
            : (t.localIP, t.localPort, t.remoteIP, t.remotePort)
        w.key("fd.typechar"); w.string(t.family == LinuxConstants.AF_INET ? "4" : "6")
        w.key("fd.l4proto"); w.string(t.l4proto == 6 ? "tcp" : t.l4proto == 17 ? "udp" : t.l4proto == 1 ? "icmp" : "unknown")
        w.key("fd.cip"); w.string(cip.description)
        w.key("fd.cport"); w.uint(UInt64(cport))
        w.key("fd.sip"); w.string(sip.description)
        w.key("fd.sport"); w.uint(UInt64(sport))
        w.key("fd.name"); w.string(t.text(serverSide: serverSide))
    }

    private mutating func writeArgs(_ e: Event) {
        let schema = e.schema
        guard !schema.arguments.isEmpty else { return }
        w.key("evt.args")
        w.beginObject()
        for spec in schema.arguments {
            guard let v = e.value(of: spec) else { continue }
            w.key(string: spec.name)
            switch v {
            case .int(let i, _): w.int(i)
            case .uint(let u, _): w.uint(u)
            case .flags(let u, _): w.uint(u)
            case .bytes(let b, let f):
                if f == .argv {
                    w.beginArray()
                    var start = 0
                    for i in 0..<b.count where b[i] == 0 {
                        w.string(bytes: UnsafeRawBufferPointer(rebasing: b[start..<i])); start = i + 1
                    }
                    if start < b.count { w.string(bytes: UnsafeRawBufferPointer(rebasing: b[start..<b.count])) }
                    w.endArray()
                } else {
                    w.string(bytes: b)
                }
            case .sockaddr(let a): w.string(a.description)
            case .tuple(let t, let server): w.string(t.text(serverSide: server))
            }
        }
        w.endObject()
    }
}
