import VigilABI
import VigilDecode

/// Where an event argument's value comes from in a Vigil record, and how it is
/// rendered (Falco's argument names). Used by `evt.arg.*`, `evt.args` and the
/// rule-test event builder.
struct ArgSpec: Sendable {
    enum Source: Sendable, Equatable { case raw(Int), str0, str1, ret, tuple, exeFlags, str0Second }
    enum Format: Sendable, Equatable {
        case int, uint, hex, fd, mode, string, openFlags, ptraceRequest, socketDomain, socketType, bpfCmd, cloneFlags
        case mountFlags, sockaddr, tuple, execFlags, signal, prctlOption, capMask, nstype
    }
    let name: String
    let source: Source
    let format: Format
    init(_ name: String, _ source: Source, _ format: Format) { self.name = name; self.source = source; self.format = format }
}

enum EventArgSchema {
    static let table: [UInt16: [ArgSpec]] = {
        func s(_ a: [ArgSpec]) -> [ArgSpec] { a }
        let res = ArgSpec("res", .ret, .int)
        let fdres = ArgSpec("fd", .ret, .fd)
        var t: [String: [ArgSpec]] = [
            "open": [fdres, ArgSpec("name", .str0, .string), ArgSpec("flags", .raw(1), .openFlags), ArgSpec("mode", .raw(2), .mode)],
            "openat": [fdres, ArgSpec("dirfd", .raw(0), .fd), ArgSpec("name", .str0, .string), ArgSpec("flags", .raw(2), .openFlags), ArgSpec("mode", .raw(3), .mode)],
            "openat2": [fdres, ArgSpec("dirfd", .raw(0), .fd), ArgSpec("name", .str0, .string), ArgSpec("flags", .raw(2), .openFlags), ArgSpec("mode", .raw(3), .mode), ArgSpec("resolve", .raw(4), .hex)],
            "creat": [fdres, ArgSpec("name", .str0, .string), ArgSpec("mode", .raw(1), .mode)],
            "link": [res, ArgSpec("oldpath", .str0, .string), ArgSpec("newpath", .str1, .string)],
            "linkat": [res, ArgSpec("olddir", .raw(0), .fd), ArgSpec("oldpath", .str0, .string), ArgSpec("newdir", .raw(2), .fd), ArgSpec("newpath", .str1, .string), ArgSpec("flags", .raw(4), .hex)],
            "symlink": [res, ArgSpec("target", .str0, .string), ArgSpec("linkpath", .str1, .string)],
            "symlinkat": [res, ArgSpec("target", .str0, .string), ArgSpec("linkdirfd", .raw(1), .fd), ArgSpec("linkpath", .str1, .string)],
            "rename": [res, ArgSpec("oldpath", .str0, .string), ArgSpec("newpath", .str1, .string)],
            "renameat": [res, ArgSpec("olddirfd", .raw(0), .fd), ArgSpec("oldpath", .str0, .string), ArgSpec("newdirfd", .raw(2), .fd), ArgSpec("newpath", .str1, .string)],
            "renameat2": [res, ArgSpec("olddirfd", .raw(0), .fd), ArgSpec("oldpath", .str0, .string), ArgSpec("newdirfd", .raw(2), .fd), ArgSpec("newpath", .str1, .string), ArgSpec("flags", .raw(4), .hex)],
            "unlink": [res, ArgSpec("path", .str0, .string)],
            "unlinkat": [res, ArgSpec("dirfd", .raw(0), .fd), ArgSpec("name", .str0, .string), ArgSpec("flags", .raw(2), .hex)],
            "rmdir": [res, ArgSpec("path", .str0, .string)],
            "chmod": [res, ArgSpec("filename", .str0, .string), ArgSpec("mode", .raw(1), .mode)],
            "fchmod": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("mode", .raw(1), .mode)],
            "fchmodat": [res, ArgSpec("dirfd", .raw(0), .fd), ArgSpec("filename", .str0, .string), ArgSpec("mode", .raw(2), .mode)],
            "mkdir": [res, ArgSpec("path", .str0, .string), ArgSpec("mode", .raw(1), .mode)],
            "mkdirat": [res, ArgSpec("dirfd", .raw(0), .fd), ArgSpec("path", .str0, .string), ArgSpec("mode", .raw(2), .mode)],
            "chdir": [res, ArgSpec("path", .str0, .string)],
            "fchdir": [res, ArgSpec("fd", .raw(0), .fd)],
            "chroot": [res, ArgSpec("path", .str0, .string)],
            "socket": [fdres, ArgSpec("domain", .raw(0), .socketDomain), ArgSpec("type", .raw(1), .socketType), ArgSpec("proto", .raw(2), .int)],
            "connect": [res, ArgSpec("tuple", .tuple, .tuple), ArgSpec("fd", .raw(0), .fd), ArgSpec("addr", .str0, .sockaddr)],
            "accept": [fdres, ArgSpec("tuple", .tuple, .tuple)],
            "accept4": [fdres, ArgSpec("tuple", .tuple, .tuple), ArgSpec("flags", .raw(3), .hex)],
            "bind": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("addr", .str0, .sockaddr)],
            "listen": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("backlog", .raw(1), .int)],
            "sendto": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("size", .raw(2), .uint), ArgSpec("tuple", .tuple, .tuple)],
            "sendmsg": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("tuple", .tuple, .tuple)],
            "recvfrom": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("size", .raw(2), .uint), ArgSpec("tuple", .tuple, .tuple)],
            "recvmsg": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("tuple", .tuple, .tuple)],
            "dup": [res, ArgSpec("oldfd", .raw(0), .fd)],
            "dup2": [res, ArgSpec("oldfd", .raw(0), .fd), ArgSpec("newfd", .raw(1), .fd)],
            "dup3": [res, ArgSpec("oldfd", .raw(0), .fd), ArgSpec("newfd", .raw(1), .fd), ArgSpec("flags", .raw(2), .hex)],
            "close": [res, ArgSpec("fd", .raw(0), .fd)],
            "setuid": [res, ArgSpec("uid", .raw(0), .int)],
            "setgid": [res, ArgSpec("gid", .raw(0), .int)],
            "setreuid": [res, ArgSpec("ruid", .raw(0), .int), ArgSpec("euid", .raw(1), .int)],
            "setregid": [res, ArgSpec("rgid", .raw(0), .int), ArgSpec("egid", .raw(1), .int)],
            "setresuid": [res, ArgSpec("ruid", .raw(0), .int), ArgSpec("euid", .raw(1), .int), ArgSpec("suid", .raw(2), .int)],
            "setresgid": [res, ArgSpec("rgid", .raw(0), .int), ArgSpec("egid", .raw(1), .int), ArgSpec("sgid", .raw(2), .int)],
            "capset": [res, ArgSpec("cap_effective", .raw(2), .capMask), ArgSpec("cap_permitted", .raw(3), .capMask)],
            "ptrace": [res, ArgSpec("request", .raw(0), .ptraceRequest), ArgSpec("pid", .raw(1), .int), ArgSpec("addr", .raw(2), .hex), ArgSpec("data", .raw(3), .hex)],
            "init_module": [res, ArgSpec("length", .raw(1), .uint), ArgSpec("uargs", .str0, .string)],
            "finit_module": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("uargs", .str0, .string), ArgSpec("flags", .raw(2), .hex)],
            "mount": [res, ArgSpec("dev", .str0, .string), ArgSpec("dir", .str1, .string), ArgSpec("type", .str0Second, .string), ArgSpec("flags", .raw(3), .mountFlags)],
            "umount2": [res, ArgSpec("name", .str0, .string), ArgSpec("flags", .raw(1), .hex)],
            "setns": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("nstype", .raw(1), .nstype)],
            "unshare": [res, ArgSpec("flags", .raw(0), .cloneFlags)],
            "memfd_create": [fdres, ArgSpec("name", .str0, .string), ArgSpec("flags", .raw(1), .hex)],
            "bpf": [ArgSpec("res_or_fd", .ret, .int), ArgSpec("cmd", .raw(0), .bpfCmd)],
            "kill": [res, ArgSpec("pid", .raw(0), .int), ArgSpec("sig", .raw(1), .signal)],
            "tkill": [res, ArgSpec("tid", .raw(0), .int), ArgSpec("sig", .raw(1), .signal)],
            "tgkill": [res, ArgSpec("pid", .raw(0), .int), ArgSpec("tid", .raw(1), .int), ArgSpec("sig", .raw(2), .signal)],
            "execve": [res, ArgSpec("filename", .str0, .string), ArgSpec("flags", .exeFlags, .execFlags)],
            "execveat": [res, ArgSpec("dirfd", .raw(0), .fd), ArgSpec("pathname", .str0, .string), ArgSpec("flags", .exeFlags, .execFlags)],
            "clone": [res, ArgSpec("flags", .raw(0), .cloneFlags)],
            "clone3": [res],
            "fork": [res], "vfork": [res],
            "userfaultfd": [res, ArgSpec("flags", .raw(0), .hex)],
            "prctl": [res, ArgSpec("option", .raw(0), .prctlOption), ArgSpec("arg2_int", .raw(1), .int)],
            "pipe": [res, ArgSpec("fd1", .raw(4), .fd), ArgSpec("fd2", .raw(5), .fd)],
            "pipe2": [res, ArgSpec("fd1", .raw(4), .fd), ArgSpec("fd2", .raw(5), .fd), ArgSpec("flags", .raw(1), .hex)],
            "socketpair": [res, ArgSpec("domain", .raw(0), .socketDomain), ArgSpec("type", .raw(1), .socketType), ArgSpec("proto", .raw(2), .int), ArgSpec("fd1", .raw(4), .fd), ArgSpec("fd2", .raw(5), .fd)],
            "fcntl": [res, ArgSpec("fd", .raw(0), .fd), ArgSpec("cmd", .raw(1), .int)],
            "procexit": [ArgSpec("status", .ret, .int)],
        ]
        _ = s
        var out: [UInt16: [ArgSpec]] = [:]
        for (name, specs) in t { if let ty = EventType(name: name) { out[ty.rawValue] = specs } }
        t.removeAll()
        return out
    }()

    /// The argument named `name` of event type `type`, and its index.
    static func spec(_ type: EventType, named name: String) -> (Int, ArgSpec)? {
        guard let specs = table[type.rawValue] else { return nil }
        for (i, s) in specs.enumerated() where s.name == name { return (i, s) }
        return nil
    }

    /// Every argument name used by any event type.
    static let allNames: Set<String> = Set(table.values.flatMap { $0.map(\.name) })

    // MARK: symbolic names

    static let openFlagNames: [(UInt64, String)] = [
        (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"), (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o40000, "O_DIRECT"), (0o100000, "O_LARGEFILE"),
        (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"), (0o20200000, "O_TMPFILE"),
    ]
    static let ptraceRequests: [UInt64: String] = [
        0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSR", 4: "PTRACE_POKETEXT",
        5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSR", 7: "PTRACE_CONT", 8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP",
        12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 24: "PTRACE_SYSCALL",
        0x4200: "PTRACE_SETOPTIONS", 0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT",
    ]
    static let socketDomains: [UInt64: String] = [1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"]
    static let socketTypes: [UInt64: String] = [1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET"]
    static let bpfCmds: [UInt64: String] = [0: "BPF_MAP_CREATE", 1: "BPF_MAP_LOOKUP_ELEM", 2: "BPF_MAP_UPDATE_ELEM", 3: "BPF_MAP_DELETE_ELEM",
                                            4: "BPF_MAP_GET_NEXT_KEY", 5: "BPF_PROG_LOAD", 6: "BPF_OBJ_PIN", 7: "BPF_OBJ_GET",
                                            8: "BPF_PROG_ATTACH", 9: "BPF_PROG_DETACH", 28: "BPF_LINK_CREATE"]
    static let cloneFlagNames: [(UInt64, String)] = [
        (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"), (0x2000, "CLONE_PTRACE"),
        (0x4000, "CLONE_VFORK"), (0x8000, "CLONE_PARENT"), (0x10000, "CLONE_THREAD"), (0x20000, "CLONE_NEWNS"),
        (0x2000000, "CLONE_NEWCGROUP"), (0x4000000, "CLONE_NEWUTS"), (0x8000000, "CLONE_NEWIPC"), (0x10000000, "CLONE_NEWUSER"),
        (0x20000000, "CLONE_NEWPID"), (0x40000000, "CLONE_NEWNET"),
    ]
    static let mountFlagNames: [(UInt64, String)] = [
        (1, "RDONLY"), (2, "NOSUID"), (4, "NODEV"), (8, "NOEXEC"), (16, "SYNCHRONOUS"), (32, "REMOUNT"), (4096, "BIND"),
        (8192, "MOVE"), (16384, "REC"), (1 << 18, "PRIVATE"), (1 << 20, "SHARED"),
    ]
    static let execFlagNames: [(UInt64, String)] = [
        (UInt64(VIGIL_EXE_WRITABLE), "EXE_WRITABLE"), (UInt64(VIGIL_EXE_UPPER_LAYER), "EXE_UPPER_LAYER"),
        (UInt64(VIGIL_EXE_FROM_MEMFD), "EXE_FROM_MEMFD"),
    ]
    static let signalNames: [UInt64: String] = [1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT", 9: "SIGKILL", 10: "SIGUSR1",
                                                12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP"]
    static let prctlOptions: [UInt64: String] = [1: "PR_SET_PDEATHSIG", 4: "PR_SET_DUMPABLE", 15: "PR_SET_NAME", 16: "PR_GET_NAME",
                                                 22: "PR_SET_SECCOMP", 36: "PR_SET_CHILD_SUBREAPER", 38: "PR_SET_NO_NEW_PRIVS"]
    static let nsTypes: [UInt64: String] = [0: "ALL", 0x20000: "CLONE_NEWNS", 0x2000000: "CLONE_NEWCGROUP", 0x4000000: "CLONE_NEWUTS",
                                            0x8000000: "CLONE_NEWIPC", 0x10000000: "CLONE_NEWUSER", 0x20000000: "CLONE_NEWPID", 0x40000000: "CLONE_NEWNET"]

    /// Parses a symbolic or numeric value for the rule-test event builder (`O_RDONLY|O_CLOEXEC`, `PTRACE_ATTACH`, `0x10`).
    static func parseValue(_ s: String, format: ArgSpec.Format) -> UInt64? {
        if let v = parseNumber(s) { return v }
        func flags(_ table: [(UInt64, String)], extra: [String: UInt64] = [:]) -> UInt64? {
            var v: UInt64 = 0
            for part in s.split(separator: "|").map({ $0.trimmingSpaces }) {
                if let e = extra[part] { v |= e; continue }
                if let n = parseNumber(part) { v |= n; continue }
                guard let f = table.first(where: { $0.1 == part }) else { return nil }
                v |= f.0
            }
            return v
        }
        func named(_ table: [UInt64: String]) -> UInt64? { table.first(where: { $0.value == s })?.key }
        switch format {
        case .openFlags: return flags(openFlagNames, extra: ["O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2])
        case .ptraceRequest: return named(ptraceRequests)
        case .socketDomain: return named(socketDomains)
        case .socketType: return named(socketTypes)
        case .bpfCmd: return named(bpfCmds)
        case .cloneFlags: return flags(cloneFlagNames)
        case .mountFlags: return flags(mountFlagNames)
        case .execFlags: return flags(execFlagNames)
        case .signal: return named(signalNames)
        case .prctlOption: return named(prctlOptions)
        case .nstype: return named(nsTypes)
        case .capMask:
            var v: UInt64 = 0
            for part in s.split(whereSeparator: { $0 == "|" || $0 == " " }) {
                guard let i = Capabilities.names.firstIndex(of: String(part)) else { return nil }
                v |= 1 << UInt64(i)
            }
            return v
        default: return nil
        }
    }

    static func parseNumber(_ s: String) -> UInt64? {
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) }
        if s.hasPrefix("-"), let v = Int64(s) { return UInt64(bitPattern: v) }
        if s.count > 1, s.hasPrefix("0"), let v = UInt64(s.dropFirst(), radix: 8) { return v }
        return UInt64(s)
    }
}

/// Linux capability names by bit number.
enum Capabilities {
    static let names: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]
}

extension Substring {
    var trimmingSpaces: String {
        var s = self[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
