/// Linux constants (uapi values) behind the symbolic tables. Values for the open
/// flags differ between architectures; everything else is generic.
package enum LinuxConstants {
    /// `AT_FDCWD`.
    package static let atFDCWD: Int64 = -100

    /// Open flags (`open(2)`), with this architecture's values.
    package static let O_WRONLY: UInt64 = 0o1
    package static let O_RDWR: UInt64 = 0o2
    package static let O_ACCMODE: UInt64 = 0o3
    package static let O_CREAT: UInt64 = 0o100
    package static let O_EXCL: UInt64 = 0o200
    package static let O_NOCTTY: UInt64 = 0o400
    package static let O_TRUNC: UInt64 = 0o1000
    package static let O_APPEND: UInt64 = 0o2000
    package static let O_NONBLOCK: UInt64 = 0o4000
    package static let O_DSYNC: UInt64 = 0o10000
    package static let O_ASYNC: UInt64 = 0o20000
    #if arch(arm64) || arch(arm)
    package static let O_DIRECTORY: UInt64 = 0o40000
    package static let O_NOFOLLOW: UInt64 = 0o100000
    package static let O_DIRECT: UInt64 = 0o200000
    package static let O_LARGEFILE: UInt64 = 0o400000
    #else
    package static let O_DIRECT: UInt64 = 0o40000
    package static let O_LARGEFILE: UInt64 = 0o100000
    package static let O_DIRECTORY: UInt64 = 0o200000
    package static let O_NOFOLLOW: UInt64 = 0o400000
    #endif
    package static let O_NOATIME: UInt64 = 0o1000000
    package static let O_CLOEXEC: UInt64 = 0o2000000
    package static let O_SYNC: UInt64 = 0o4000000 | 0o10000
    package static let O_PATH: UInt64 = 0o10000000
    package static let O_TMPFILE: UInt64 = 0o20000000 | O_DIRECTORY

    /// Open flag bits in rendering order (multi-bit names before their parts).
    static let openFlagBits: [(String, UInt64)] = [
        ("O_CREAT", O_CREAT), ("O_EXCL", O_EXCL), ("O_NOCTTY", O_NOCTTY), ("O_TRUNC", O_TRUNC),
        ("O_APPEND", O_APPEND), ("O_NONBLOCK", O_NONBLOCK), ("O_SYNC", O_SYNC), ("O_DSYNC", O_DSYNC),
        ("O_ASYNC", O_ASYNC), ("O_DIRECT", O_DIRECT), ("O_LARGEFILE", O_LARGEFILE),
        ("O_TMPFILE", O_TMPFILE), ("O_DIRECTORY", O_DIRECTORY), ("O_NOFOLLOW", O_NOFOLLOW),
        ("O_NOATIME", O_NOATIME), ("O_CLOEXEC", O_CLOEXEC), ("O_PATH", O_PATH),
    ]

    /// Address families used by the state (sockets, fd kinds).
    package static let AF_UNIX: UInt16 = 1
    package static let AF_INET: UInt16 = 2
    package static let AF_INET6: UInt16 = 10
    package static let AF_NETLINK: UInt16 = 16
    package static let AF_PACKET: UInt16 = 17

    static let addressFamilies: [(String, UInt64)] = [
        ("AF_UNSPEC", 0), ("AF_UNIX", 1), ("AF_INET", 2), ("AF_AX25", 3), ("AF_IPX", 4), ("AF_APPLETALK", 5),
        ("AF_NETROM", 6), ("AF_BRIDGE", 7), ("AF_ATMPVC", 8), ("AF_X25", 9), ("AF_INET6", 10), ("AF_ROSE", 11),
        ("AF_DECnet", 12), ("AF_NETBEUI", 13), ("AF_SECURITY", 14), ("AF_KEY", 15), ("AF_NETLINK", 16),
        ("AF_PACKET", 17), ("AF_ASH", 18), ("AF_ECONET", 19), ("AF_ATMSVC", 20), ("AF_RDS", 21), ("AF_SNA", 22),
        ("AF_IRDA", 23), ("AF_PPPOX", 24), ("AF_WANPIPE", 25), ("AF_LLC", 26), ("AF_IB", 27), ("AF_MPLS", 28),
        ("AF_CAN", 29), ("AF_TIPC", 30), ("AF_BLUETOOTH", 31), ("AF_IUCV", 32), ("AF_RXRPC", 33), ("AF_ISDN", 34),
        ("AF_PHONET", 35), ("AF_IEEE802154", 36), ("AF_CAIF", 37), ("AF_ALG", 38), ("AF_NFC", 39), ("AF_VSOCK", 40),
        ("AF_KCM", 41), ("AF_QIPCRTR", 42), ("AF_SMC", 43), ("AF_XDP", 44), ("AF_MCTP", 45),
        ("AF_LOCAL", 1),
    ]

    static let ptraceRequests: [(String, UInt64)] = [
        ("PTRACE_TRACEME", 0), ("PTRACE_PEEKTEXT", 1), ("PTRACE_PEEKDATA", 2), ("PTRACE_PEEKUSR", 3),
        ("PTRACE_POKETEXT", 4), ("PTRACE_POKEDATA", 5), ("PTRACE_POKEUSR", 6), ("PTRACE_CONT", 7),
        ("PTRACE_KILL", 8), ("PTRACE_SINGLESTEP", 9), ("PTRACE_GETREGS", 12), ("PTRACE_SETREGS", 13),
        ("PTRACE_GETFPREGS", 14), ("PTRACE_SETFPREGS", 15), ("PTRACE_ATTACH", 16), ("PTRACE_DETACH", 17),
        ("PTRACE_GETFPXREGS", 18), ("PTRACE_SETFPXREGS", 19), ("PTRACE_SYSCALL", 24), ("PTRACE_ARCH_PRCTL", 30),
        ("PTRACE_SYSEMU", 31), ("PTRACE_SYSEMU_SINGLESTEP", 32), ("PTRACE_SINGLEBLOCK", 33),
        ("PTRACE_SETOPTIONS", 0x4200), ("PTRACE_GETEVENTMSG", 0x4201), ("PTRACE_GETSIGINFO", 0x4202),
        ("PTRACE_SETSIGINFO", 0x4203), ("PTRACE_GETREGSET", 0x4204), ("PTRACE_SETREGSET", 0x4205),
        ("PTRACE_SEIZE", 0x4206), ("PTRACE_INTERRUPT", 0x4207), ("PTRACE_LISTEN", 0x4208),
        ("PTRACE_PEEKSIGINFO", 0x4209), ("PTRACE_GETSIGMASK", 0x420a), ("PTRACE_SETSIGMASK", 0x420b),
        ("PTRACE_SECCOMP_GET_FILTER", 0x420c), ("PTRACE_SECCOMP_GET_METADATA", 0x420d),
        ("PTRACE_GET_SYSCALL_INFO", 0x420e),
    ]

    static let mountFlags: [(String, UInt64)] = [
        ("MS_RDONLY", 1), ("MS_NOSUID", 2), ("MS_NODEV", 4), ("MS_NOEXEC", 8), ("MS_SYNCHRONOUS", 16),
        ("MS_REMOUNT", 32), ("MS_MANDLOCK", 64), ("MS_DIRSYNC", 128), ("MS_NOSYMFOLLOW", 256),
        ("MS_NOATIME", 1024), ("MS_NODIRATIME", 2048), ("MS_BIND", 4096), ("MS_MOVE", 8192), ("MS_REC", 16384),
        ("MS_SILENT", 32768), ("MS_POSIXACL", 1 << 16), ("MS_UNBINDABLE", 1 << 17), ("MS_PRIVATE", 1 << 18),
        ("MS_SLAVE", 1 << 19), ("MS_SHARED", 1 << 20), ("MS_RELATIME", 1 << 21), ("MS_KERNMOUNT", 1 << 22),
        ("MS_I_VERSION", 1 << 23), ("MS_STRICTATIME", 1 << 24), ("MS_LAZYTIME", 1 << 25),
    ]

    /// `CLONE_THREAD`: the new task is a thread of the caller's process.
    package static let CLONE_THREAD: UInt64 = 0x10000

    static let cloneFlags: [(String, UInt64)] = [
        ("CLONE_NEWTIME", 0x80), ("CLONE_VM", 0x100), ("CLONE_FS", 0x200), ("CLONE_FILES", 0x400),
        ("CLONE_SIGHAND", 0x800), ("CLONE_PIDFD", 0x1000), ("CLONE_PTRACE", 0x2000), ("CLONE_VFORK", 0x4000),
        ("CLONE_PARENT", 0x8000), ("CLONE_THREAD", 0x10000), ("CLONE_NEWNS", 0x20000), ("CLONE_SYSVSEM", 0x40000),
        ("CLONE_SETTLS", 0x80000), ("CLONE_PARENT_SETTID", 0x100000), ("CLONE_CHILD_CLEARTID", 0x200000),
        ("CLONE_DETACHED", 0x400000), ("CLONE_UNTRACED", 0x800000), ("CLONE_CHILD_SETTID", 0x1000000),
        ("CLONE_NEWCGROUP", 0x2000000), ("CLONE_NEWUTS", 0x4000000), ("CLONE_NEWIPC", 0x8000000),
        ("CLONE_NEWUSER", 0x10000000), ("CLONE_NEWPID", 0x20000000), ("CLONE_NEWNET", 0x40000000),
        ("CLONE_IO", 0x80000000),
    ]

    static let bpfCommands: [(String, UInt64)] = [
        "BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_UPDATE_ELEM", "BPF_MAP_DELETE_ELEM",
        "BPF_MAP_GET_NEXT_KEY", "BPF_PROG_LOAD", "BPF_OBJ_PIN", "BPF_OBJ_GET", "BPF_PROG_ATTACH",
        "BPF_PROG_DETACH", "BPF_PROG_TEST_RUN", "BPF_PROG_GET_NEXT_ID", "BPF_MAP_GET_NEXT_ID",
        "BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID", "BPF_OBJ_GET_INFO_BY_FD", "BPF_PROG_QUERY",
        "BPF_RAW_TRACEPOINT_OPEN", "BPF_BTF_LOAD", "BPF_BTF_GET_FD_BY_ID", "BPF_TASK_FD_QUERY",
        "BPF_MAP_LOOKUP_AND_DELETE_ELEM", "BPF_MAP_FREEZE", "BPF_BTF_GET_NEXT_ID", "BPF_MAP_LOOKUP_BATCH",
        "BPF_MAP_LOOKUP_AND_DELETE_BATCH", "BPF_MAP_UPDATE_BATCH", "BPF_MAP_DELETE_BATCH", "BPF_LINK_CREATE",
        "BPF_LINK_UPDATE", "BPF_LINK_GET_FD_BY_ID", "BPF_LINK_GET_NEXT_ID", "BPF_ENABLE_STATS",
        "BPF_ITER_CREATE", "BPF_LINK_DETACH", "BPF_PROG_BIND_MAP", "BPF_TOKEN_CREATE",
    ].enumerated().map { ($0.element, UInt64($0.offset)) }

    /// fcntl commands that duplicate an fd.
    package static let F_DUPFD: UInt64 = 0
    package static let F_DUPFD_CLOEXEC: UInt64 = 1030

    static let fcntlCommands: [(String, UInt64)] = [
        ("F_DUPFD", 0), ("F_GETFD", 1), ("F_SETFD", 2), ("F_GETFL", 3), ("F_SETFL", 4), ("F_GETLK", 5),
        ("F_SETLK", 6), ("F_SETLKW", 7), ("F_SETOWN", 8), ("F_GETOWN", 9), ("F_SETSIG", 10), ("F_GETSIG", 11),
        ("F_SETOWN_EX", 15), ("F_GETOWN_EX", 16), ("F_OFD_GETLK", 36), ("F_OFD_SETLK", 37), ("F_OFD_SETLKW", 38),
        ("F_SETLEASE", 1024), ("F_GETLEASE", 1025), ("F_NOTIFY", 1026), ("F_DUPFD_CLOEXEC", 1030),
        ("F_SETPIPE_SZ", 1031), ("F_GETPIPE_SZ", 1032), ("F_ADD_SEALS", 1033), ("F_GET_SEALS", 1034),
    ]

    static let prctlOptions: [(String, UInt64)] = [
        ("PR_SET_PDEATHSIG", 1), ("PR_GET_PDEATHSIG", 2), ("PR_GET_DUMPABLE", 3), ("PR_SET_DUMPABLE", 4),
        ("PR_GET_KEEPCAPS", 7), ("PR_SET_KEEPCAPS", 8), ("PR_SET_NAME", 15), ("PR_GET_NAME", 16),
        ("PR_GET_SECCOMP", 21), ("PR_SET_SECCOMP", 22), ("PR_CAPBSET_READ", 23), ("PR_CAPBSET_DROP", 24),
        ("PR_GET_SECUREBITS", 27), ("PR_SET_SECUREBITS", 28), ("PR_SET_MM", 35), ("PR_SET_CHILD_SUBREAPER", 36),
        ("PR_GET_CHILD_SUBREAPER", 37), ("PR_SET_NO_NEW_PRIVS", 38), ("PR_GET_NO_NEW_PRIVS", 39),
        ("PR_CAP_AMBIENT", 47), ("PR_SET_PTRACER", 0x59616d61),
    ]

    static let signals: [(String, UInt64)] = [
        "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
        "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
        "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
        "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ].enumerated().map { ($0.element, UInt64($0.offset + 1)) }

    /// Capability names by bit number (`CAP_CHOWN` = 0).
    package static let capabilityNames: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// Falco's `thread.cap_effective` rendering: capability names separated by spaces.
    package static func capabilityList(_ mask: UInt64) -> String {
        var out = ""
        for (i, n) in capabilityNames.enumerated() where mask & (UInt64(1) << UInt64(i)) != 0 {
            if !out.isEmpty { out += " " }
            out += n
        }
        return out
    }

    /// Errno names by value (index 0 unused).
    package static let errnoNames: [String] = [
        "", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD",
        "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR",
        "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS",
        "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP",
        "", "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI",
        "EL2HLT", "EBADE", "EBADR", "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", "", "EBFONT", "ENOSTR",
        "ENODATA", "ETIME", "ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM",
        "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD",
        "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE",
        "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN",
        "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT",
        "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM", "ENAVAIL", "EISNAM",
        "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED", "EOWNERDEAD",
        "ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
    ]

    /// The errno name for a negative syscall result (`-2` -> `ENOENT`); nil for
    /// non-negative or unknown values.
    package static func errnoName(_ ret: Int64) -> String? {
        guard ret < 0, ret > -Int64(errnoNames.count) else { return nil }
        let n = errnoNames[Int(-ret)]
        return n.isEmpty ? nil : n
    }

    /// Falco's `evt.res`: `SUCCESS` when the call succeeded (ret >= 0), the errno
    /// name for a negative errno, else the number.
    package static func resultText(_ ret: Int64) -> String {
        if ret >= 0 { return "SUCCESS" }
        if let n = errnoName(ret) { return n }
        return String(ret)
    }
}
