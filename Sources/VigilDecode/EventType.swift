import VigilABI

/// The event type of a decoded event: Falco's `evt.type` names.
///
/// Raw values are vigil's syscall ids (`enum vigil_syscall` in vigil_abi.h) for
/// syscall, exec and fork records; ``procexit`` is the exit record. Rule sets index
/// by this small integer (see ``EventType/count``).
package struct EventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    package let rawValue: UInt16
    package init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Number of distinct event types (array size for per-type tables).
    package static let count = 128
    /// Process exit (`procexit` in Falco).
    package static let procexit = EventType(rawValue: 100)
    /// Not an event type: in a capture interest set, asks the exec program to copy the
    /// environment of each new image (a loaded rule uses `proc.env`). It has no name, is in no
    /// rule's types and never appears on a record.
    package static let environmentCapture = EventType(rawValue: 101)

    /// Falco's name for this event type (`openat`, `execve`, `procexit`, ...), or `unknown`.
    package var name: String { EventType.names[Int(rawValue) & 127] }
    package var description: String { name }

    /// Looks up a type by its Falco name.
    package init?(name: String) {
        guard let v = EventType.byName[name] else { return nil }
        self = v
    }

    /// All types that have a name.
    package static var all: [EventType] {
        (0..<count).compactMap { names[$0] == "unknown" ? nil : EventType(rawValue: UInt16($0)) }
    }

    static let names: [String] = {
        var n = [String](repeating: "unknown", count: count)
        let table: [(Int32, String)] = [
            (Int32(VIGIL_SYS_OPEN.rawValue), "open"), (Int32(VIGIL_SYS_OPENAT.rawValue), "openat"),
            (Int32(VIGIL_SYS_OPENAT2.rawValue), "openat2"), (Int32(VIGIL_SYS_CREAT.rawValue), "creat"),
            (Int32(VIGIL_SYS_LINK.rawValue), "link"), (Int32(VIGIL_SYS_LINKAT.rawValue), "linkat"),
            (Int32(VIGIL_SYS_SYMLINK.rawValue), "symlink"), (Int32(VIGIL_SYS_SYMLINKAT.rawValue), "symlinkat"),
            (Int32(VIGIL_SYS_RENAME.rawValue), "rename"), (Int32(VIGIL_SYS_RENAMEAT.rawValue), "renameat"),
            (Int32(VIGIL_SYS_RENAMEAT2.rawValue), "renameat2"), (Int32(VIGIL_SYS_UNLINK.rawValue), "unlink"),
            (Int32(VIGIL_SYS_UNLINKAT.rawValue), "unlinkat"), (Int32(VIGIL_SYS_RMDIR.rawValue), "rmdir"),
            (Int32(VIGIL_SYS_CHMOD.rawValue), "chmod"), (Int32(VIGIL_SYS_FCHMOD.rawValue), "fchmod"),
            (Int32(VIGIL_SYS_FCHMODAT.rawValue), "fchmodat"), (Int32(VIGIL_SYS_MKDIR.rawValue), "mkdir"),
            (Int32(VIGIL_SYS_MKDIRAT.rawValue), "mkdirat"), (Int32(VIGIL_SYS_CHDIR.rawValue), "chdir"),
            (Int32(VIGIL_SYS_FCHDIR.rawValue), "fchdir"), (Int32(VIGIL_SYS_SOCKET.rawValue), "socket"),
            (Int32(VIGIL_SYS_CONNECT.rawValue), "connect"), (Int32(VIGIL_SYS_ACCEPT.rawValue), "accept"),
            (Int32(VIGIL_SYS_ACCEPT4.rawValue), "accept4"), (Int32(VIGIL_SYS_BIND.rawValue), "bind"),
            (Int32(VIGIL_SYS_LISTEN.rawValue), "listen"), (Int32(VIGIL_SYS_SENDTO.rawValue), "sendto"),
            (Int32(VIGIL_SYS_SENDMSG.rawValue), "sendmsg"), (Int32(VIGIL_SYS_RECVFROM.rawValue), "recvfrom"),
            (Int32(VIGIL_SYS_RECVMSG.rawValue), "recvmsg"), (Int32(VIGIL_SYS_DUP.rawValue), "dup"),
            (Int32(VIGIL_SYS_DUP2.rawValue), "dup2"), (Int32(VIGIL_SYS_DUP3.rawValue), "dup3"),
            (Int32(VIGIL_SYS_CLOSE.rawValue), "close"), (Int32(VIGIL_SYS_SETUID.rawValue), "setuid"),
            (Int32(VIGIL_SYS_SETGID.rawValue), "setgid"), (Int32(VIGIL_SYS_SETRESUID.rawValue), "setresuid"),
            (Int32(VIGIL_SYS_SETRESGID.rawValue), "setresgid"), (Int32(VIGIL_SYS_CAPSET.rawValue), "capset"),
            (Int32(VIGIL_SYS_PTRACE.rawValue), "ptrace"), (Int32(VIGIL_SYS_INIT_MODULE.rawValue), "init_module"),
            (Int32(VIGIL_SYS_FINIT_MODULE.rawValue), "finit_module"), (Int32(VIGIL_SYS_MOUNT.rawValue), "mount"),
            (Int32(VIGIL_SYS_UMOUNT2.rawValue), "umount2"), (Int32(VIGIL_SYS_SETNS.rawValue), "setns"),
            (Int32(VIGIL_SYS_UNSHARE.rawValue), "unshare"), (Int32(VIGIL_SYS_MEMFD_CREATE.rawValue), "memfd_create"),
            (Int32(VIGIL_SYS_BPF.rawValue), "bpf"), (Int32(VIGIL_SYS_KILL.rawValue), "kill"),
            (Int32(VIGIL_SYS_EXECVE.rawValue), "execve"), (Int32(VIGIL_SYS_EXECVEAT.rawValue), "execveat"),
            (Int32(VIGIL_SYS_CLONE.rawValue), "clone"), (Int32(VIGIL_SYS_CLONE3.rawValue), "clone3"),
            (Int32(VIGIL_SYS_FORK.rawValue), "fork"), (Int32(VIGIL_SYS_VFORK.rawValue), "vfork"),
            (Int32(VIGIL_SYS_USERFAULTFD.rawValue), "userfaultfd"), (Int32(VIGIL_SYS_PRCTL.rawValue), "prctl"),
            (Int32(VIGIL_SYS_TKILL.rawValue), "tkill"), (Int32(VIGIL_SYS_TGKILL.rawValue), "tgkill"),
            (Int32(VIGIL_SYS_PIPE.rawValue), "pipe"), (Int32(VIGIL_SYS_PIPE2.rawValue), "pipe2"),
            (Int32(VIGIL_SYS_SOCKETPAIR.rawValue), "socketpair"), (Int32(VIGIL_SYS_FCNTL.rawValue), "fcntl"),
            (Int32(VIGIL_SYS_CHROOT.rawValue), "chroot"), (Int32(VIGIL_SYS_SETREUID.rawValue), "setreuid"),
            (Int32(VIGIL_SYS_SETREGID.rawValue), "setregid"),
            (Int32(VIGIL_SYS_OPEN_BY_HANDLE_AT.rawValue), "open_by_handle_at"),
            (Int32(VIGIL_SYS_IO_URING_SETUP.rawValue), "io_uring_setup"),
            (100, "procexit"),
        ]
        for (id, name) in table { n[Int(id)] = name }
        return n
    }()

    static let byName: [String: EventType] = {
        var d: [String: EventType] = [:]
        for (i, n) in names.enumerated() where n != "unknown" { d[n] = EventType(rawValue: UInt16(i)) }
        return d
    }()
}
