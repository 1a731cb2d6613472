import VigilABI

/// Builds raw ABI records from values: synthetic event sources, rule tests,
/// decoder fixtures and benchmarks all go through the same bytes the kernel writes.
package struct RecordEncoder {
    /// Common header values.
    package struct Header {
        package var timestampBootNs: UInt64
        package var cpu: UInt32
        package var pid: UInt32
        package var tid: UInt32
        package var ppid: UInt32
        package var uid: UInt32
        package var gid: UInt32
        package var cgroupID: UInt64
        package var comm: String
        package var flags: UInt16

        package init(timestampBootNs: UInt64 = 0, cpu: UInt32 = 0, pid: UInt32, tid: UInt32? = nil, ppid: UInt32 = 0,
                    uid: UInt32 = 0, gid: UInt32 = 0, cgroupID: UInt64 = 0, comm: String = "", flags: UInt16 = 0) {
            self.timestampBootNs = timestampBootNs; self.cpu = cpu; self.pid = pid; self.tid = tid ?? pid
            self.ppid = ppid; self.uid = uid; self.gid = gid; self.cgroupID = cgroupID; self.comm = comm; self.flags = flags
        }
    }

    static func header(_ h: Header, kind: vigil_record_kind, size: Int) -> vigil_header {
        var hdr = vigil_header()
        hdr.kind = UInt16(kind.rawValue)
        hdr.flags = h.flags
        hdr.size = UInt32(size)
        hdr.ts_ns = h.timestampBootNs
        hdr.cpu = h.cpu; hdr.pid = h.pid; hdr.tid = h.tid; hdr.ppid = h.ppid
        hdr.uid = h.uid; hdr.gid = h.gid; hdr.cgroup_id = h.cgroupID
        withUnsafeMutableBytes(of: &hdr.comm) { p in
            let b = Array(h.comm.utf8.prefix(15))
            for (i, c) in b.enumerated() { p[i] = c }
        }
        return hdr
    }

    static func bytes<T>(of value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }

    /// A completed-syscall record. Strings are stored with a trailing NUL; pass
    /// `rawStr0`/`rawStr1` for binary buffers (sockaddrs) stored as-is.
    package static func syscall(_ h: Header, type: EventType, ret: Int64, args: [UInt64] = [],
                               str0: String? = nil, str1: String? = nil,
                               rawStr0: [UInt8]? = nil, rawStr1: [UInt8]? = nil,
                               tuple: vigil_sock_tuple = vigil_sock_tuple()) -> [UInt8] {
        let s0: [UInt8] = rawStr0 ?? (str0.map { Array($0.utf8) + [0] } ?? [])
        let s1: [UInt8] = rawStr1 ?? (str1.map { Array($0.utf8) + [0] } ?? [])
        var ev = vigil_syscall_event()
        let size = MemoryLayout<vigil_syscall_event>.size + s0.count + s1.count
        ev.hdr = header(h, kind: VIGIL_REC_SYSCALL, size: size)
        ev.ret = ret
        withUnsafeMutableBytes(of: &ev.args) { p in
            for (i, a) in args.prefix(6).enumerated() { p.storeBytes(of: a, toByteOffset: i * 8, as: UInt64.self) }
        }
        ev.syscall = type.rawValue
        ev.str0_len = UInt16(s0.count)
        ev.str1_len = UInt16(s1.count)
        ev.tuple = tuple
        return bytes(of: ev) + s0 + s1
    }

    /// Exec fields beyond the header.
    package struct Exec {
        package var type: EventType
        package var exePath: String
        package var argv: [String]
        package var cwd: String
        package var exeFlags: UInt32
        package var loginUID: UInt32
        package var tty: UInt32
        package var euid: UInt32
        package var egid: UInt32
        package var capEffective: UInt64
        package var capPermitted: UInt64
        package var exeIno: UInt64
        package var exeCtimeNs: UInt64
        package var exeMtimeNs: UInt64
        package var startTimeBootNs: UInt64
        package var pgid: UInt32
        package var sid: UInt32
        package var vpid: UInt32
        package var cgroupPath: String
        /// The environment (`NAME=value`); nil: not captured.
        package var env: [String]? = nil

        package init(type: EventType = EventType(name: "execve")!, exePath: String, argv: [String], cwd: String = "/",
                    exeFlags: UInt32 = 0, loginUID: UInt32 = .max, tty: UInt32 = 0, euid: UInt32 = 0, egid: UInt32 = 0,
                    capEffective: UInt64 = 0, capPermitted: UInt64 = 0, exeIno: UInt64 = 0, exeCtimeNs: UInt64 = 0,
                    exeMtimeNs: UInt64 = 0, startTimeBootNs: UInt64 = 0, pgid: UInt32 = 0, sid: UInt32 = 0, vpid: UInt32 = 0, cgroupPath: String = "/") {
            self.type = type; self.exePath = exePath; self.argv = argv; self.cwd = cwd; self.exeFlags = exeFlags
            self.loginUID = loginUID; self.tty = tty; self.euid = euid; self.egid = egid
            self.capEffective = capEffective; self.capPermitted = capPermitted; self.exeIno = exeIno
            self.exeCtimeNs = exeCtimeNs; self.exeMtimeNs = exeMtimeNs; self.startTimeBootNs = startTimeBootNs
            self.pgid = pgid; self.sid = sid; self.vpid = vpid; self.cgroupPath = cgroupPath
        }
    }

    /// A successful-exec record.
    package static func exec(_ h: Header, _ x: Exec) -> [UInt8] {
        let exe = Array(x.exePath.utf8) + [0]
        var argv: [UInt8] = []
        for a in x.argv { argv += Array(a.utf8) + [0] }
        let cwd = Array(x.cwd.utf8) + [0]
        let cg = Array(x.cgroupPath.utf8) + [0]
        var envBytes: [UInt8] = []
        for e in x.env ?? [] { envBytes += Array(e.utf8) + [0] }
        var ev = vigil_exec_event()
        let size = MemoryLayout<vigil_exec_event>.size + exe.count + argv.count + cwd.count + cg.count + envBytes.count
        ev.hdr = header(h, kind: VIGIL_REC_EXEC, size: size)
        ev.syscall = x.type.rawValue
        ev.exe_len = UInt16(exe.count); ev.args_len = UInt16(argv.count); ev.cwd_len = UInt16(cwd.count)
        ev.exe_flags = x.exeFlags; ev.loginuid = x.loginUID; ev.tty = x.tty; ev.old_tid = h.tid
        ev.euid = x.euid; ev.egid = x.egid; ev.cap_effective = x.capEffective; ev.cap_permitted = x.capPermitted
        ev.exe_ino = x.exeIno; ev.exe_ctime_ns = x.exeCtimeNs; ev.exe_mtime_ns = x.exeMtimeNs
        ev.start_time_ns = x.startTimeBootNs; ev.pgid = x.pgid; ev.sid = x.sid; ev.vpid = x.vpid
        ev.cgroup_len = UInt16(cg.count)
        ev.env_len = UInt16(envBytes.count)
        if x.env != nil { ev.exe_flags |= UInt32(VIGIL_EXE_ENV_CAPTURED) }
        return bytes(of: ev) + exe + argv + cwd + cg + envBytes
    }

    /// A fork/clone record (the header describes the parent).
    package static func fork(_ h: Header, childPid: UInt32, childTid: UInt32? = nil, isThread: Bool = false,
                            type: EventType? = nil, childStartBootNs: UInt64 = 0) -> [UInt8] {
        var ev = vigil_fork_event()
        ev.hdr = header(h, kind: VIGIL_REC_FORK, size: MemoryLayout<vigil_fork_event>.size)
        ev.child_pid = childPid; ev.child_tid = childTid ?? childPid
        ev.flags = isThread ? UInt32(VIGIL_FORK_THREAD) : 0
        ev.syscall = type?.rawValue ?? 0
        ev.child_start_time_ns = childStartBootNs
        return bytes(of: ev)
    }

    /// An exit record.
    package static func exit(_ h: Header, code: Int32, signal: Int32 = 0, groupDead: Bool = true) -> [UInt8] {
        var ev = vigil_exit_event()
        ev.hdr = header(h, kind: VIGIL_REC_EXIT, size: MemoryLayout<vigil_exit_event>.size)
        ev.exit_code = code; ev.signal = signal
        ev.flags = groupDead ? UInt32(VIGIL_EXIT_GROUP_DEAD) : 0
        return bytes(of: ev)
    }
}
