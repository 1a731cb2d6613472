import VigilABI

/// How an argument is typed and rendered (Falco's parameter types).
package enum ArgumentFormat: Sendable, Equatable {
    /// A file descriptor (signed). `-100` renders as `AT_FDCWD`; the fd's name
    /// comes from the process's fd table (see ``ArgumentResolver``).
    case fd
    /// A syscall result: `0`/positive, or a negative errno (`-2(ENOENT)`).
    case errno
    /// A signed decimal.
    case int
    /// An unsigned decimal.
    case uint
    /// An unsigned value rendered in hex (`0x7f00`).
    case hex
    /// An unsigned value rendered in octal with a leading 0 (`0644`).
    case octal
    /// A user id; rules resolve the name (`evt.arg.uid=nobody`).
    case uid
    /// A group id.
    case gid
    /// A process or thread id.
    case pid
    /// A path as passed (absolute, or relative to the cwd or a dirfd).
    case path
    /// A string.
    case string
    /// NUL-separated strings (argv), rendered space-separated.
    case argv
    /// A bitmask or enumeration with symbolic names.
    case flags(FlagSet)
    /// File mode bits: raw octal `0755`, resolved `S_IXOTH|...|S_IRUSR`.
    case mode
    /// A raw sockaddr stored in the record (`1.2.3.4:80`, a unix path).
    case sockaddr
    /// The socket tuple read from the kernel socket (`cip:cport->sip:sport`).
    case tuple
}

/// Which record fields of exec, fork and exit records an argument comes from.
package enum RecordField: Sendable, Equatable {
    /// Header fields.
    case tid, pid, ppid, uid, gid, comm
    /// Exec record fields.
    case execExe, execArgs, execExePath, execCwd, execTTY, execPgid, execLoginUID, execFlags, execCapEffective,
         execCapPermitted, execExeIno, execExeCtime, execExeMtime, execEuid, execVpid, execCgroupPath
    /// Fork record fields.
    case forkChildPid, forkChildTid, forkFlags
    /// Exit record fields.
    case exitStatus, exitCode, exitSignal, exitCore
}

/// Where an argument's value is stored in the record (see the syscall record
/// layout in vigil_abi.h and bpf/README.md).
package enum ArgumentSource: Sendable, Equatable {
    /// The syscall's return value (`ret`).
    case ret
    /// Raw syscall argument `args[i]` (i in 0...5).
    case arg(Int)
    /// The low 32 bits of `args[i]`, sign-extended (fds and ints passed as `int`).
    case arg32(Int)
    /// The first string/buffer (`str0`).
    case str0
    /// The second string/buffer (`str1`).
    case str1
    /// The second NUL-terminated string packed inside `str0` (mount's fstype).
    case str0Second
    /// The kernel socket tuple.
    case tuple
    /// A field of an exec, fork or exit record.
    case field(RecordField)
    /// Known to Falco but not captured by Vigil (reads as not set).
    case unavailable
}

/// One parameter of an event type: Falco's name, its format and where it is stored.
package struct ArgumentSpec: Sendable, Equatable {
    /// Falco's parameter name (`evt.arg.NAME`).
    package let name: String
    package let format: ArgumentFormat
    package let source: ArgumentSource

    package init(_ name: String, _ format: ArgumentFormat, _ source: ArgumentSource) {
        self.name = name; self.format = format; self.source = source
    }
}

/// The parameters of one event type, in Falco's order (`evt.arg[N]`, `evt.args`).
package struct SyscallSchema: Sendable {
    /// The event type.
    package let type: EventType
    /// Parameters in order.
    package let arguments: [ArgumentSpec]

    /// Index of the parameter named `name`, or nil.
    @inline(__always)
    package func index(of name: String) -> Int? {
        for i in arguments.indices where arguments[i].name == name { return i }
        return nil
    }

    /// The schema of `type` (an empty list of arguments for unknown types).
    @inline(__always)
    package static func of(_ type: EventType) -> SyscallSchema {
        table[Int(type.rawValue) & (EventType.count - 1)]
    }

    /// Every event type that has a schema.
    package static var all: [SyscallSchema] { table.filter { !$0.arguments.isEmpty } }

    /// Whether any event type has a parameter named `name` (for validating
    /// `evt.arg.NAME` in rule conditions).
    package static func isKnownArgumentName(_ name: String) -> Bool { knownNames.contains(name) }

    static let knownNames: Set<String> = Set(table.flatMap { $0.arguments.map(\.name) })

    static let table: [SyscallSchema] = {
        var t = (0..<EventType.count).map { SyscallSchema(type: EventType(rawValue: UInt16($0)), arguments: []) }
        func set(_ id: vigil_syscall, _ args: [ArgumentSpec]) {
            t[Int(id.rawValue)] = SyscallSchema(type: EventType(rawValue: UInt16(id.rawValue)), arguments: args)
        }
        typealias A = ArgumentSpec
        let res = A("res", .errno, .ret)
        let fdRet = A("fd", .fd, .ret)
        let dev = A("dev", .hex, .unavailable)
        let ino = A("ino", .uint, .unavailable)

        // Files.
        set(VIGIL_SYS_OPEN, [fdRet, A("name", .path, .str0), A("flags", .flags(.openFlags), .arg(1)),
                             A("mode", .octal, .arg(2)), dev, ino])
        set(VIGIL_SYS_OPENAT, [fdRet, A("dirfd", .fd, .arg32(0)), A("name", .path, .str0),
                               A("flags", .flags(.openFlags), .arg(2)), A("mode", .octal, .arg(3)), dev, ino])
        set(VIGIL_SYS_OPENAT2, [fdRet, A("dirfd", .fd, .arg32(0)), A("name", .path, .str0),
                                A("flags", .flags(.openFlags), .arg(2)), A("mode", .octal, .arg(3)),
                                A("resolve", .flags(.resolveFlags), .arg(4)), dev, ino])
        set(VIGIL_SYS_CREAT, [fdRet, A("name", .path, .str0), A("mode", .octal, .arg(1)), dev, ino])
        // Opens a file from a handle (name_to_handle_at): no path is passed; fd.name is the
        // path of the file the kernel opened.
        set(VIGIL_SYS_OPEN_BY_HANDLE_AT, [fdRet, A("mountfd", .fd, .arg32(0)), A("flags", .flags(.openFlags), .arg(2)),
                                          A("path", .path, .str1)])
        set(VIGIL_SYS_IO_URING_SETUP, [res, A("entries", .uint, .arg(0)), A("params", .hex, .arg(1))])
        set(VIGIL_SYS_LINK, [res, A("oldpath", .path, .str0), A("newpath", .path, .str1)])
        set(VIGIL_SYS_LINKAT, [res, A("olddir", .fd, .arg32(0)), A("oldpath", .path, .str0),
                               A("newdir", .fd, .arg32(2)), A("newpath", .path, .str1),
                               A("flags", .flags(.atFlags), .arg(4))])
        set(VIGIL_SYS_SYMLINK, [res, A("target", .path, .str0), A("linkpath", .path, .str1)])
        set(VIGIL_SYS_SYMLINKAT, [res, A("target", .path, .str0), A("linkdirfd", .fd, .arg32(1)),
                                  A("linkpath", .path, .str1)])
        set(VIGIL_SYS_RENAME, [res, A("oldpath", .path, .str0), A("newpath", .path, .str1)])
        set(VIGIL_SYS_RENAMEAT, [res, A("olddirfd", .fd, .arg32(0)), A("oldpath", .path, .str0),
                                 A("newdirfd", .fd, .arg32(2)), A("newpath", .path, .str1)])
        set(VIGIL_SYS_RENAMEAT2, [res, A("olddirfd", .fd, .arg32(0)), A("oldpath", .path, .str0),
                                  A("newdirfd", .fd, .arg32(2)), A("newpath", .path, .str1),
                                  A("flags", .flags(.renameFlags), .arg(4))])
        set(VIGIL_SYS_UNLINK, [res, A("path", .path, .str0)])
        set(VIGIL_SYS_UNLINKAT, [res, A("dirfd", .fd, .arg32(0)), A("name", .path, .str0),
                                 A("flags", .flags(.atFlags), .arg(2))])
        set(VIGIL_SYS_RMDIR, [res, A("path", .path, .str0)])
        set(VIGIL_SYS_CHMOD, [res, A("filename", .path, .str0), A("mode", .mode, .arg(1))])
        set(VIGIL_SYS_FCHMOD, [res, A("fd", .fd, .arg32(0)), A("mode", .mode, .arg(1))])
        set(VIGIL_SYS_FCHMODAT, [res, A("dirfd", .fd, .arg32(0)), A("filename", .path, .str0), A("mode", .mode, .arg(2))])
        set(VIGIL_SYS_MKDIR, [res, A("path", .path, .str0), A("mode", .octal, .arg(1))])
        set(VIGIL_SYS_MKDIRAT, [res, A("dirfd", .fd, .arg32(0)), A("path", .path, .str0), A("mode", .octal, .arg(2))])
        set(VIGIL_SYS_CHDIR, [res, A("path", .path, .str0)])
        set(VIGIL_SYS_FCHDIR, [res, A("fd", .fd, .arg32(0))])
        set(VIGIL_SYS_CHROOT, [res, A("path", .path, .str0)])

        // Sockets and fds.
        set(VIGIL_SYS_SOCKET, [fdRet, A("domain", .flags(.socketDomain), .arg(0)),
                               A("type", .flags(.socketType), .arg(1)), A("proto", .uint, .arg(2))])
        set(VIGIL_SYS_CONNECT, [res, A("tuple", .tuple, .tuple), A("fd", .fd, .arg32(0)), A("addr", .sockaddr, .str0)])
        set(VIGIL_SYS_ACCEPT, [fdRet, A("tuple", .tuple, .tuple)])
        set(VIGIL_SYS_ACCEPT4, [fdRet, A("tuple", .tuple, .tuple), A("flags", .flags(.socketFlags), .arg(3))])
        set(VIGIL_SYS_BIND, [res, A("addr", .sockaddr, .str0), A("fd", .fd, .arg32(0))])
        set(VIGIL_SYS_LISTEN, [res, A("fd", .fd, .arg32(0)), A("backlog", .int, .arg32(1))])
        set(VIGIL_SYS_SENDTO, [res, A("fd", .fd, .arg32(0)), A("size", .uint, .arg(2)), A("tuple", .tuple, .tuple),
                               A("addr", .sockaddr, .str0)])
        set(VIGIL_SYS_SENDMSG, [res, A("fd", .fd, .arg32(0)), A("tuple", .tuple, .tuple), A("addr", .sockaddr, .str0)])
        set(VIGIL_SYS_RECVFROM, [res, A("fd", .fd, .arg32(0)), A("size", .uint, .arg(2)), A("tuple", .tuple, .tuple)])
        set(VIGIL_SYS_RECVMSG, [res, A("fd", .fd, .arg32(0)), A("tuple", .tuple, .tuple)])
        set(VIGIL_SYS_DUP, [A("res", .fd, .ret), A("oldfd", .fd, .arg32(0))])
        set(VIGIL_SYS_DUP2, [A("res", .fd, .ret), A("oldfd", .fd, .arg32(0)), A("newfd", .fd, .arg32(1))])
        set(VIGIL_SYS_DUP3, [A("res", .fd, .ret), A("oldfd", .fd, .arg32(0)), A("newfd", .fd, .arg32(1)),
                             A("flags", .flags(.fdFlags), .arg(2))])
        set(VIGIL_SYS_CLOSE, [res, A("fd", .fd, .arg32(0))])
        set(VIGIL_SYS_PIPE, [res, A("fd1", .fd, .arg32(4)), A("fd2", .fd, .arg32(5)), ino])
        set(VIGIL_SYS_PIPE2, [res, A("fd1", .fd, .arg32(4)), A("fd2", .fd, .arg32(5)), ino,
                              A("flags", .flags(.fdFlags), .arg(1))])
        set(VIGIL_SYS_SOCKETPAIR, [res, A("fd1", .fd, .arg32(4)), A("fd2", .fd, .arg32(5)),
                                   A("domain", .flags(.socketDomain), .arg(0)),
                                   A("type", .flags(.socketType), .arg(1)), A("proto", .uint, .arg(2))])
        set(VIGIL_SYS_FCNTL, [A("res", .fd, .ret), A("fd", .fd, .arg32(0)), A("cmd", .flags(.fcntlCommand), .arg(1))])
        set(VIGIL_SYS_MEMFD_CREATE, [fdRet, A("name", .string, .str0), A("flags", .flags(.memfdFlags), .arg(1))])
        set(VIGIL_SYS_USERFAULTFD, [A("res", .fd, .ret), A("flags", .flags(.userfaultfdFlags), .arg(0))])

        // Privileges, processes, kernel.
        set(VIGIL_SYS_SETUID, [res, A("uid", .uid, .arg(0))])
        set(VIGIL_SYS_SETGID, [res, A("gid", .gid, .arg(0))])
        set(VIGIL_SYS_SETREUID, [res, A("ruid", .uid, .arg(0)), A("euid", .uid, .arg(1))])
        set(VIGIL_SYS_SETREGID, [res, A("rgid", .gid, .arg(0)), A("egid", .gid, .arg(1))])
        set(VIGIL_SYS_SETRESUID, [res, A("ruid", .uid, .arg(0)), A("euid", .uid, .arg(1)), A("suid", .uid, .arg(2))])
        set(VIGIL_SYS_SETRESGID, [res, A("rgid", .gid, .arg(0)), A("egid", .gid, .arg(1)), A("sgid", .gid, .arg(2))])
        set(VIGIL_SYS_CAPSET, [res, A("cap_inheritable", .hex, .unavailable),
                               A("cap_permitted", .flags(.capabilities), .arg(3)),
                               A("cap_effective", .flags(.capabilities), .arg(2))])
        set(VIGIL_SYS_PTRACE, [res, A("request", .flags(.ptraceRequest), .arg(0)), A("pid", .pid, .arg32(1)),
                               A("addr", .hex, .arg(2)), A("data", .hex, .arg(3))])
        set(VIGIL_SYS_INIT_MODULE, [res, A("img", .hex, .arg(0)), A("length", .uint, .arg(1)), A("uargs", .string, .str0)])
        set(VIGIL_SYS_FINIT_MODULE, [res, A("fd", .fd, .arg32(0)), A("uargs", .string, .str0),
                                     A("flags", .flags(.moduleFlags), .arg(2))])
        set(VIGIL_SYS_MOUNT, [res, A("dev", .string, .str0), A("dir", .path, .str1), A("type", .string, .str0Second),
                              A("flags", .flags(.mountFlags), .arg(3))])
        set(VIGIL_SYS_UMOUNT2, [res, A("name", .path, .str0), A("flags", .flags(.umountFlags), .arg(1))])
        set(VIGIL_SYS_SETNS, [res, A("fd", .fd, .arg32(0)), A("nstype", .flags(.cloneFlags), .arg(1))])
        set(VIGIL_SYS_UNSHARE, [res, A("flags", .flags(.cloneFlags), .arg(0))])
        set(VIGIL_SYS_BPF, [A("res_or_fd", .errno, .ret), A("cmd", .flags(.bpfCommand), .arg(0))])
        set(VIGIL_SYS_KILL, [res, A("pid", .pid, .arg32(0)), A("sig", .flags(.signal), .arg(1))])
        set(VIGIL_SYS_TKILL, [res, A("tid", .pid, .arg32(0)), A("sig", .flags(.signal), .arg(1))])
        set(VIGIL_SYS_TGKILL, [res, A("pid", .pid, .arg32(0)), A("tid", .pid, .arg32(1)), A("sig", .flags(.signal), .arg(2))])
        set(VIGIL_SYS_PRCTL, [res, A("option", .flags(.prctlOption), .arg(0)), A("arg2_str", .string, .unavailable),
                              A("arg2_int", .int, .arg(1))])

        // Exec: successful execs are exec records; failed ones are syscall records
        // whose str0 is the path. Arguments read from whichever the event is.
        let execArgs: [ArgumentSpec] = [
            res, A("exe", .string, .field(.execExe)), A("args", .argv, .field(.execArgs)),
            A("tid", .pid, .field(.tid)), A("pid", .pid, .field(.pid)), A("ptid", .pid, .field(.ppid)),
            A("cwd", .path, .field(.execCwd)), A("tty", .uint, .field(.execTTY)), A("pgid", .pid, .field(.execPgid)),
            A("loginuid", .uid, .field(.execLoginUID)), A("flags", .flags(.execFlags), .field(.execFlags)),
            A("cap_permitted", .flags(.capabilities), .field(.execCapPermitted)),
            A("cap_effective", .flags(.capabilities), .field(.execCapEffective)),
            A("exe_ino", .uint, .field(.execExeIno)), A("exe_ino_ctime", .uint, .field(.execExeCtime)),
            A("exe_ino_mtime", .uint, .field(.execExeMtime)), A("uid", .uid, .field(.uid)),
            A("trusted_exepath", .path, .field(.execExePath)), A("filename", .path, .str0),
            A("comm", .string, .field(.comm)), A("cgroups", .string, .field(.execCgroupPath)),
            A("gid", .gid, .field(.gid)),
        ]
        set(VIGIL_SYS_EXECVE, execArgs)
        set(VIGIL_SYS_EXECVEAT, execArgs + [A("dirfd", .fd, .arg32(0)), A("pathname", .path, .str0)])

        // Fork records (the header describes the parent).
        let cloneArgs: [ArgumentSpec] = [
            A("res", .pid, .field(.forkChildTid)), A("tid", .pid, .field(.tid)), A("pid", .pid, .field(.pid)),
            A("ptid", .pid, .field(.ppid)), A("flags", .flags(.cloneFlags), .field(.forkFlags)),
            A("uid", .uid, .field(.uid)), A("gid", .gid, .field(.gid)),
            A("child_pid", .pid, .field(.forkChildPid)), A("child_tid", .pid, .field(.forkChildTid)),
        ]
        set(VIGIL_SYS_CLONE, cloneArgs)
        set(VIGIL_SYS_CLONE3, cloneArgs)
        set(VIGIL_SYS_FORK, cloneArgs)
        set(VIGIL_SYS_VFORK, cloneArgs)

        t[Int(EventType.procexit.rawValue)] = SyscallSchema(type: .procexit, arguments: [
            A("status", .int, .field(.exitStatus)), A("ret", .int, .field(.exitCode)),
            A("sig", .flags(.signal), .field(.exitSignal)), A("core", .uint, .field(.exitCore)),
        ])
        return t
    }()
}
