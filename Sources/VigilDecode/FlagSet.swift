/// Identifies one symbolic table (``FlagTable``) by a small value, so typed
/// argument values carry it without reference counting.
package enum FlagSet: UInt8, Sendable, CaseIterable {
    /// open/openat/openat2 flags: `O_RDONLY|O_CREAT|O_CLOEXEC` (access mode first).
    case openFlags
    /// Flags without an access mode (dup3, pipe2): `O_CLOEXEC|O_NONBLOCK`.
    case fdFlags
    /// File mode permission bits as chmod renders them: `S_IRUSR|S_IXUSR|S_ISUID`.
    case fileMode
    /// Address families: `AF_INET`, `AF_PACKET`, ...
    case socketDomain
    /// Socket type and its flags: `SOCK_STREAM|SOCK_CLOEXEC`.
    case socketType
    /// accept4/socket flags: `SOCK_NONBLOCK|SOCK_CLOEXEC`.
    case socketFlags
    /// ptrace requests: `PTRACE_ATTACH`, `PTRACE_TRACEME`, ...
    case ptraceRequest
    /// `AT_*` flags of the *at syscalls: `AT_REMOVEDIR`, `AT_SYMLINK_FOLLOW`, ...
    case atFlags
    /// renameat2 flags: `RENAME_NOREPLACE|RENAME_EXCHANGE|RENAME_WHITEOUT`.
    case renameFlags
    /// mount flags: `MS_BIND|MS_REC|...` (the magic number in the high bits is ignored).
    case mountFlags
    /// umount2 flags: `MNT_FORCE|MNT_DETACH|...`.
    case umountFlags
    /// clone/unshare/setns namespace flags: `CLONE_NEWNS|CLONE_NEWPID|...`.
    case cloneFlags
    /// memfd_create flags: `MFD_CLOEXEC|MFD_ALLOW_SEALING|...`.
    case memfdFlags
    /// bpf commands: `BPF_PROG_LOAD`, `BPF_MAP_CREATE`, ...
    case bpfCommand
    /// fcntl commands: `F_DUPFD`, `F_SETFL`, ...
    case fcntlCommand
    /// prctl options: `PR_SET_NAME`, `PR_SET_DUMPABLE`, ...
    case prctlOption
    /// Signals: `SIGKILL`, `SIGTERM`, ...
    case signal
    /// finit_module flags: `MODULE_INIT_IGNORE_MODVERSIONS|...`.
    case moduleFlags
    /// openat2 resolve flags: `RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|...`.
    case resolveFlags
    /// Exec flags (Falco's execve `flags`): `EXE_WRITABLE|EXE_UPPER_LAYER|EXE_FROM_MEMFD`.
    case execFlags
    /// userfaultfd flags: `O_CLOEXEC|O_NONBLOCK|UFFD_USER_MODE_ONLY`.
    case userfaultfdFlags
    /// Linux capabilities as a bit mask: `CAP_CHOWN|CAP_SYS_ADMIN|...`.
    case capabilities
    /// Errno names by positive value: `ENOENT`, `EACCES`, ...
    case errno

    /// The table itself.
    package var table: FlagTable { FlagSet.tables[Int(rawValue)] }

    static let tables: [FlagTable] = FlagSet.allCases.map { $0.makeTable() }

    private func makeTable() -> FlagTable {
        switch self {
        case .openFlags:
            return FlagTable("open flags", bitmask: true, LinuxConstants.openFlagBits,
                             fieldMask: 3, fieldNames: [("O_RDONLY", 0), ("O_WRONLY", 1), ("O_RDWR", 2)])
        case .fdFlags:
            return FlagTable("fd flags", bitmask: true, LinuxConstants.openFlagBits)
        case .fileMode:
            return FlagTable("file mode", bitmask: true, [
                ("S_IXOTH", 0o1), ("S_IWOTH", 0o2), ("S_IROTH", 0o4),
                ("S_IXGRP", 0o10), ("S_IWGRP", 0o20), ("S_IRGRP", 0o40),
                ("S_IXUSR", 0o100), ("S_IWUSR", 0o200), ("S_IRUSR", 0o400),
                ("S_ISVTX", 0o1000), ("S_ISGID", 0o2000), ("S_ISUID", 0o4000),
            ])
        case .socketDomain:
            return FlagTable("socket domain", bitmask: false, LinuxConstants.addressFamilies)
        case .socketType:
            return FlagTable("socket type", bitmask: true, [("SOCK_NONBLOCK", 0o4000), ("SOCK_CLOEXEC", 0o2000000)],
                             fieldMask: 0xf, fieldNames: [
                                ("SOCK_STREAM", 1), ("SOCK_DGRAM", 2), ("SOCK_RAW", 3), ("SOCK_RDM", 4),
                                ("SOCK_SEQPACKET", 5), ("SOCK_DCCP", 6), ("SOCK_PACKET", 10),
                             ])
        case .socketFlags:
            return FlagTable("socket flags", bitmask: true, [("SOCK_NONBLOCK", 0o4000), ("SOCK_CLOEXEC", 0o2000000)])
        case .ptraceRequest:
            return FlagTable("ptrace request", bitmask: false, LinuxConstants.ptraceRequests)
        case .atFlags:
            return FlagTable("at flags", bitmask: true, [
                ("AT_SYMLINK_NOFOLLOW", 0x100), ("AT_REMOVEDIR", 0x200), ("AT_SYMLINK_FOLLOW", 0x400),
                ("AT_NO_AUTOMOUNT", 0x800), ("AT_EMPTY_PATH", 0x1000),
            ])
        case .renameFlags:
            return FlagTable("rename flags", bitmask: true, [("RENAME_NOREPLACE", 1), ("RENAME_EXCHANGE", 2), ("RENAME_WHITEOUT", 4)])
        case .mountFlags:
            return FlagTable("mount flags", bitmask: true, LinuxConstants.mountFlags, ignoredMask: 0xFFFF_FFFF_0000_0000 | 0xC0ED_0000)
        case .umountFlags:
            return FlagTable("umount flags", bitmask: true, [("MNT_FORCE", 1), ("MNT_DETACH", 2), ("MNT_EXPIRE", 4), ("UMOUNT_NOFOLLOW", 8)])
        case .cloneFlags:
            return FlagTable("clone flags", bitmask: true, LinuxConstants.cloneFlags)
        case .memfdFlags:
            return FlagTable("memfd flags", bitmask: true, [
                ("MFD_CLOEXEC", 1), ("MFD_ALLOW_SEALING", 2), ("MFD_HUGETLB", 4), ("MFD_NOEXEC_SEAL", 8), ("MFD_EXEC", 0x10),
            ])
        case .bpfCommand:
            return FlagTable("bpf command", bitmask: false, LinuxConstants.bpfCommands)
        case .fcntlCommand:
            return FlagTable("fcntl command", bitmask: false, LinuxConstants.fcntlCommands)
        case .prctlOption:
            return FlagTable("prctl option", bitmask: false, LinuxConstants.prctlOptions)
        case .signal:
            return FlagTable("signal", bitmask: false, LinuxConstants.signals)
        case .moduleFlags:
            return FlagTable("module flags", bitmask: true, [
                ("MODULE_INIT_IGNORE_MODVERSIONS", 1), ("MODULE_INIT_IGNORE_VERMAGIC", 2), ("MODULE_INIT_COMPRESSED_FILE", 4),
            ])
        case .resolveFlags:
            return FlagTable("resolve flags", bitmask: true, [
                ("RESOLVE_NO_XDEV", 1), ("RESOLVE_NO_MAGICLINKS", 2), ("RESOLVE_NO_SYMLINKS", 4),
                ("RESOLVE_BENEATH", 8), ("RESOLVE_IN_ROOT", 0x10), ("RESOLVE_CACHED", 0x20),
            ])
        case .execFlags:
            // Vigil's VIGIL_EXE_* bits under Falco's names.
            return FlagTable("exec flags", bitmask: true, [
                ("EXE_UPPER_LAYER", 1), ("EXE_FROM_MEMFD", 2), ("EXE_WRITABLE", 0x20),
            ])
        case .userfaultfdFlags:
            return FlagTable("userfaultfd flags", bitmask: true, [
                ("UFFD_USER_MODE_ONLY", 1), ("O_NONBLOCK", 0o4000), ("O_CLOEXEC", 0o2000000),
            ])
        case .capabilities:
            return FlagTable("capabilities", bitmask: true,
                             LinuxConstants.capabilityNames.enumerated().map { ($0.element, UInt64(1) << UInt64($0.offset)) })
        case .errno:
            return FlagTable("errno", bitmask: false, LinuxConstants.errnoNames.enumerated().compactMap {
                $0.element.isEmpty ? nil : ($0.element, UInt64($0.offset))
            })
        }
    }
}
