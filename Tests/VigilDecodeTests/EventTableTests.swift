import Testing
import VigilABI
import VigilDecode

/// The syscall table of vigil_abi.h as the Swift side sees it: every row parses, and the
/// tables derived from it (names, argument schema) equal the hand-written tables they replaced
/// (kept here, frozen, as the reference: Falco's parameter names and order are a contract).
@Suite struct EventTableTests {
    @Test func everyRowParsesWithUniqueIdsAndNames() throws {
        let rows = EventTable.rows
        #expect(rows.count >= 71)
        let ids = rows.map(\.type.rawValue)
        #expect(Set(ids).count == ids.count)
        let names = rows.map(\.name).filter { !$0.isEmpty }
        #expect(Set(names).count == names.count)
        for r in rows {
            #expect(Int(r.type.rawValue) < EventType.count)
            #expect(r.captureKind <= VIGIL_CAPTURE_CAPDATA_ARG1, "\(r.name)")
            // Record-only event types have no syscall number; syscalls have one somewhere.
            if r.type.rawValue >= UInt16(VIGIL_SYS_MAX.rawValue) {
                #expect(r.x86_64 == nil && r.i386.isEmpty && r.arm64 == nil)
            } else {
                #expect(r.x86_64 != nil || !r.i386.isEmpty || r.arm64 != nil, "\(r.name)")
            }
        }
        #expect(EventTable.row(EventType(rawValue: UInt16(VIGIL_SYS_OPENAT.rawValue)))?.name == "openat")
        #expect(EventTable.row(.procexit)?.name == "procexit")
        #expect(EventTable.row(EventType(rawValue: 99)) == nil)
        // Only accept's tuple is the returned fd's (seen from the server side).
        let server = (0..<EventType.count).filter { EventTable.tupleIsServerSide[$0] }.map { EventType(rawValue: UInt16($0)).name }
        #expect(server == ["accept", "accept4"])
    }

    @Test func namesEqualTheHandWrittenTable() {
        for (id, name) in Self.legacyNames {
            #expect(EventType(rawValue: UInt16(id)).name == name)
            #expect(EventType(name: name)?.rawValue == UInt16(id))
        }
        #expect(EventType.all.count == Self.legacyNames.count)
        #expect(EventType(name: "socketcall") == nil)
        #expect(EventType.procexit.rawValue == 100)
        #expect(EventType.count == 128)
    }

    @Test func schemaEqualsTheHandWrittenTable() {
        let legacy = Self.legacySchema()
        for t in 0..<EventType.count {
            let type = EventType(rawValue: UInt16(t))
            #expect(SyscallSchema.of(type).arguments == legacy[t], "\(type.name)")
        }
        #expect(SyscallSchema.all.count == legacy.filter { !$0.isEmpty }.count)
    }

    @Test func argumentColumnErrorsNameTheRowAndItem() {
        #expect(throws: EventTableError(row: "r", item: "fd", reason: "expected name:format=source")) {
            try EventTable.parseArguments("fd", row: "r")
        }
        #expect(throws: EventTableError(row: "r", item: "fd:file=ret", reason: "unknown format 'file'")) {
            try EventTable.parseArguments("fd:file=ret", row: "r")
        }
        #expect(throws: EventTableError(row: "r", item: "a:flags(nope)=arg(1)", reason: "unknown format 'flags(nope)'")) {
            try EventTable.parseArguments("a:flags(nope)=arg(1)", row: "r")
        }
        #expect(throws: EventTableError(row: "r", item: "a:int=arg(6)", reason: "unknown source 'arg(6)'")) {
            try EventTable.parseArguments("a:int=arg(6)", row: "r")
        }
        #expect(throws: EventTableError(row: "r", item: "a:int=field(nope)", reason: "unknown source 'field(nope)'")) {
            try EventTable.parseArguments("a:int=field(nope)", row: "r")
        }
        #expect(throws: EventTableError(row: "r", item: "a:int=ret", reason: "parameter 'a' given twice")) {
            try EventTable.parseArguments("a:int=arg(0) a:int=ret", row: "r")
        }
        let ok = try? EventTable.parseArguments("res:errno=ret  flags:flags(openFlags)=arg32(2) f:uid=field(execEuid)", row: "r")
        #expect(ok == [ArgumentSpec("res", .errno, .ret), ArgumentSpec("flags", .flags(.openFlags), .arg32(2)),
                       ArgumentSpec("f", .uid, .field(.execEuid))])
        #expect((try? EventTable.parseArguments("", row: "r")) == [])
    }

    @Test func traceGroupsAndStateNeedsEqualTheHandWrittenLists() {
        #expect(Set(EventTable.groups.keys) == Set(Self.legacyGroups.keys))
        for (g, names) in Self.legacyGroups {
            #expect(EventTable.groups[g] == Set(names.compactMap { EventType(name: $0) }), "group \(g)")
            #expect(names.allSatisfy { EventType(name: $0) != nil })
        }
        let always = EventTable.types(withState: VIGIL_STATE_ALWAYS)
        #expect(always == Set(Self.legacyStateTypes.compactMap { EventType(name: $0) }))
        #expect(always.count == Self.legacyStateTypes.count)
        let lifecycle = ["execve", "execveat", "clone", "clone3", "fork", "vfork", "procexit"]
        #expect(EventTable.types(withState: VIGIL_STATE_PROCESS) == Set(lifecycle.compactMap { EventType(name: $0) }))
    }

    // MARK: the hand-written tables the rows replaced (frozen reference)

    static let legacyGroups: [String: [String]] = [
        "open": ["open", "openat", "openat2", "creat"],
        "exec": ["execve", "execveat"],
        "fork": ["clone", "clone3", "fork", "vfork"],
        "clone": ["clone", "clone3", "fork", "vfork"],
        "exit": ["procexit"],
        "file": ["open", "openat", "openat2", "creat", "link", "linkat", "symlink", "symlinkat", "rename",
                 "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "chmod", "fchmod", "fchmodat", "mkdir",
                 "mkdirat", "chdir", "fchdir", "chroot", "memfd_create", "fchmodat2", "truncate", "ftruncate",
                 "mknod", "mknodat"],
        "network": ["socket", "connect", "accept", "accept4", "bind", "listen", "sendto", "sendmsg", "recvfrom",
                    "recvmsg", "socketpair"],
        "process": ["execve", "execveat", "clone", "clone3", "fork", "vfork", "procexit", "kill", "tkill",
                    "tgkill", "ptrace", "prctl", "process_vm_writev"],
        "privilege": ["setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid", "capset",
                      "init_module", "finit_module", "mount", "umount2", "setns", "unshare", "bpf", "userfaultfd"],
    ]

    static let legacyStateTypes = ["execve", "execveat", "clone", "clone3", "fork", "vfork", "procexit",
                     "open", "openat", "openat2", "creat", "close", "dup", "dup2", "dup3", "fcntl",
                     "socket", "connect", "accept", "accept4", "bind", "listen", "socketpair", "pipe", "pipe2",
                     "chdir", "fchdir", "memfd_create", "setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid", "capset"]

    static let legacyNames: [(Int, String)] = [
        (Int(VIGIL_SYS_OPEN.rawValue), "open"),
        (Int(VIGIL_SYS_OPENAT.rawValue), "openat"),
        (Int(VIGIL_SYS_OPENAT2.rawValue), "openat2"),
        (Int(VIGIL_SYS_CREAT.rawValue), "creat"),
        (Int(VIGIL_SYS_LINK.rawValue), "link"),
        (Int(VIGIL_SYS_LINKAT.rawValue), "linkat"),
        (Int(VIGIL_SYS_SYMLINK.rawValue), "symlink"),
        (Int(VIGIL_SYS_SYMLINKAT.rawValue), "symlinkat"),
        (Int(VIGIL_SYS_RENAME.rawValue), "rename"),
        (Int(VIGIL_SYS_RENAMEAT.rawValue), "renameat"),
        (Int(VIGIL_SYS_RENAMEAT2.rawValue), "renameat2"),
        (Int(VIGIL_SYS_UNLINK.rawValue), "unlink"),
        (Int(VIGIL_SYS_UNLINKAT.rawValue), "unlinkat"),
        (Int(VIGIL_SYS_RMDIR.rawValue), "rmdir"),
        (Int(VIGIL_SYS_CHMOD.rawValue), "chmod"),
        (Int(VIGIL_SYS_FCHMOD.rawValue), "fchmod"),
        (Int(VIGIL_SYS_FCHMODAT.rawValue), "fchmodat"),
        (Int(VIGIL_SYS_MKDIR.rawValue), "mkdir"),
        (Int(VIGIL_SYS_MKDIRAT.rawValue), "mkdirat"),
        (Int(VIGIL_SYS_CHDIR.rawValue), "chdir"),
        (Int(VIGIL_SYS_FCHDIR.rawValue), "fchdir"),
        (Int(VIGIL_SYS_SOCKET.rawValue), "socket"),
        (Int(VIGIL_SYS_CONNECT.rawValue), "connect"),
        (Int(VIGIL_SYS_ACCEPT.rawValue), "accept"),
        (Int(VIGIL_SYS_ACCEPT4.rawValue), "accept4"),
        (Int(VIGIL_SYS_BIND.rawValue), "bind"),
        (Int(VIGIL_SYS_LISTEN.rawValue), "listen"),
        (Int(VIGIL_SYS_SENDTO.rawValue), "sendto"),
        (Int(VIGIL_SYS_SENDMSG.rawValue), "sendmsg"),
        (Int(VIGIL_SYS_RECVFROM.rawValue), "recvfrom"),
        (Int(VIGIL_SYS_RECVMSG.rawValue), "recvmsg"),
        (Int(VIGIL_SYS_DUP.rawValue), "dup"),
        (Int(VIGIL_SYS_DUP2.rawValue), "dup2"),
        (Int(VIGIL_SYS_DUP3.rawValue), "dup3"),
        (Int(VIGIL_SYS_CLOSE.rawValue), "close"),
        (Int(VIGIL_SYS_SETUID.rawValue), "setuid"),
        (Int(VIGIL_SYS_SETGID.rawValue), "setgid"),
        (Int(VIGIL_SYS_SETRESUID.rawValue), "setresuid"),
        (Int(VIGIL_SYS_SETRESGID.rawValue), "setresgid"),
        (Int(VIGIL_SYS_CAPSET.rawValue), "capset"),
        (Int(VIGIL_SYS_PTRACE.rawValue), "ptrace"),
        (Int(VIGIL_SYS_INIT_MODULE.rawValue), "init_module"),
        (Int(VIGIL_SYS_FINIT_MODULE.rawValue), "finit_module"),
        (Int(VIGIL_SYS_MOUNT.rawValue), "mount"),
        (Int(VIGIL_SYS_UMOUNT2.rawValue), "umount2"),
        (Int(VIGIL_SYS_SETNS.rawValue), "setns"),
        (Int(VIGIL_SYS_UNSHARE.rawValue), "unshare"),
        (Int(VIGIL_SYS_MEMFD_CREATE.rawValue), "memfd_create"),
        (Int(VIGIL_SYS_BPF.rawValue), "bpf"),
        (Int(VIGIL_SYS_KILL.rawValue), "kill"),
        (Int(VIGIL_SYS_EXECVE.rawValue), "execve"),
        (Int(VIGIL_SYS_EXECVEAT.rawValue), "execveat"),
        (Int(VIGIL_SYS_CLONE.rawValue), "clone"),
        (Int(VIGIL_SYS_CLONE3.rawValue), "clone3"),
        (Int(VIGIL_SYS_FORK.rawValue), "fork"),
        (Int(VIGIL_SYS_VFORK.rawValue), "vfork"),
        (Int(VIGIL_SYS_USERFAULTFD.rawValue), "userfaultfd"),
        (Int(VIGIL_SYS_PRCTL.rawValue), "prctl"),
        (Int(VIGIL_SYS_TKILL.rawValue), "tkill"),
        (Int(VIGIL_SYS_TGKILL.rawValue), "tgkill"),
        (Int(VIGIL_SYS_PIPE.rawValue), "pipe"),
        (Int(VIGIL_SYS_PIPE2.rawValue), "pipe2"),
        (Int(VIGIL_SYS_SOCKETPAIR.rawValue), "socketpair"),
        (Int(VIGIL_SYS_FCNTL.rawValue), "fcntl"),
        (Int(VIGIL_SYS_CHROOT.rawValue), "chroot"),
        (Int(VIGIL_SYS_SETREUID.rawValue), "setreuid"),
        (Int(VIGIL_SYS_SETREGID.rawValue), "setregid"),
        (Int(VIGIL_SYS_OPEN_BY_HANDLE_AT.rawValue), "open_by_handle_at"),
        (Int(VIGIL_SYS_IO_URING_SETUP.rawValue), "io_uring_setup"),
        (Int(VIGIL_SYS_FCHMODAT2.rawValue), "fchmodat2"),
        (Int(VIGIL_SYS_TRUNCATE.rawValue), "truncate"),
        (Int(VIGIL_SYS_FTRUNCATE.rawValue), "ftruncate"),
        (Int(VIGIL_SYS_PROCESS_VM_WRITEV.rawValue), "process_vm_writev"),
        (Int(VIGIL_SYS_MKNOD.rawValue), "mknod"),
        (Int(VIGIL_SYS_MKNODAT.rawValue), "mknodat"),
        (100, "procexit"),
    ]

    static func legacySchema() -> [[ArgumentSpec]] {
        var t = [[ArgumentSpec]](repeating: [], count: EventType.count)
        func set(_ id: vigil_syscall, _ args: [ArgumentSpec]) { t[Int(id.rawValue)] = args }
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
        set(VIGIL_SYS_FCHMODAT2, [res, A("dirfd", .fd, .arg32(0)), A("filename", .path, .str0), A("mode", .mode, .arg(2)),
                                  A("flags", .flags(.atFlags), .arg(3))])
        set(VIGIL_SYS_TRUNCATE, [res, A("path", .path, .str0), A("length", .uint, .arg(1))])
        set(VIGIL_SYS_FTRUNCATE, [res, A("fd", .fd, .arg32(0)), A("length", .uint, .arg(1))])
        set(VIGIL_SYS_PROCESS_VM_WRITEV, [res, A("pid", .pid, .arg32(0)), A("liovcnt", .uint, .arg(2)),
                                          A("riovcnt", .uint, .arg(4)), A("flags", .uint, .arg(5))])
        set(VIGIL_SYS_MKNOD, [res, A("path", .path, .str0), A("mode", .octal, .arg(1)), A("dev", .hex, .arg(2))])
        set(VIGIL_SYS_MKNODAT, [res, A("dirfd", .fd, .arg32(0)), A("path", .path, .str0), A("mode", .octal, .arg(2)),
                                A("dev", .hex, .arg(3))])
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

        t[Int(EventType.procexit.rawValue)] = [
            A("status", .int, .field(.exitStatus)), A("ret", .int, .field(.exitCode)),
            A("sig", .flags(.signal), .field(.exitSignal)), A("core", .uint, .field(.exitCore)),
        ]
        return t
    }
}
