import CLibBPF
import Testing
import VigilABI
import VigilCapture
import VigilCore
import VigilDecode

/// The ids of `vigil_select.nr`: native ids, the 32-bit table above VIGIL_NR_COMPAT_BASE,
/// and the flag that lets syscalls neither table knows skip the compat check.
@Suite struct SyscallTableTests {
    @Test func kernelTableHoldsNativeAndI386NumbersAndTheCompatFlag() {
        let t = Dictionary(uniqueKeysWithValues: SyscallTable.kernelTable().map { ($0.key, $0.value) })
        let base = UInt32(VIGIL_NR_COMPAT_BASE)
        #if arch(x86_64)
        // openat: native 257; i386 295.
        #expect(t[257].map { $0 & 0xffff } == VIGIL_SYS_OPENAT.rawValue)
        #expect(t[base + 295] == VIGIL_SYS_OPENAT.rawValue)
        // i386 open is 5 (native 5 is fstat, not captured): only the compat flag natively.
        #expect(t[5] == VIGIL_NR_HAS_COMPAT)
        #expect(t[base + 5] == VIGIL_SYS_OPEN.rawValue)
        // socketcall is demultiplexed in the kernel.
        #expect(t[base + 102] == VIGIL_SYS_SOCKETCALL.rawValue)
        // getppid (110) is in neither table: one lookup and out, no compat check.
        #expect(t[110] == nil)
        #expect(t[UInt32(SYS_open_by_handle_at)].map { $0 & 0xffff } == VIGIL_SYS_OPEN_BY_HANDLE_AT.rawValue)
        #expect(t[UInt32(SYS_io_uring_setup)].map { $0 & 0xffff } == VIGIL_SYS_IO_URING_SETUP.rawValue)
        #endif
        #expect(t.keys.allSatisfy { $0 < UInt32(VIGIL_NR_MAX) })
    }
}

/// The number columns of vigil_abi.h's syscall table, checked against the kernel's own
/// headers (linux-libc-dev) and against the hand-written tables they replaced.
@Suite struct SyscallNumberColumnTests {
    /// `__NR_name` (and `__NR3264_name`, `SYS_NAME`) values of a uapi header.
    static func numbers(_ path: String) -> [String: Int32]? {
        guard let text = try? FileReader.readText(path) else { return nil }
        var out: [String: Int32] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 3, f[0] == "#define", let v = Int32(f[2]) else { continue }
            for prefix in ["__NR_", "__NR3264_", "SYS_"] where f[1].hasPrefix(prefix) {
                out[String(f[1].dropFirst(prefix.count))] = v
            }
        }
        return out
    }

    @Test func numbersEqualTheKernelHeaders() throws {
        let dir = "/usr/include/x86_64-linux-gnu/asm"
        guard var x64 = Self.numbers(dir + "/unistd_64.h"), var i386 = Self.numbers(dir + "/unistd_32.h"),
              var generic = Self.numbers("/usr/include/asm-generic/unistd.h"),
              let net = Self.numbers("/usr/include/linux/net.h") else {
            Issue.record("linux-libc-dev headers missing (/usr/include/asm-generic, \(dir), linux/net.h)")
            return
        }
        // Syscalls newer than the installed linux-libc-dev: their numbers from the kernel's
        // syscall tables (the same on x86-64, i386 and arm64), used only when the header lacks them.
        let newer: [String: Int32] = ["fchmodat2": 452]
        for (name, nr) in newer {
            if x64[name] == nil { x64[name] = nr }
            if i386[name] == nil { i386[name] = nr }
            if generic[name] == nil { generic[name] = nr }
        }
        for r in EventTable.rows where !r.name.isEmpty && r.type != .procexit {
            #expect(r.x86_64 == x64[r.name], "\(r.name) x86_64")
            #expect(r.arm64 == generic[r.name], "\(r.name) arm64")
            // i386: the current number first (setuid32, fcntl64 where they exist), then the older one.
            let current = i386[r.name + "32"] ?? i386[r.name + "64"] ?? i386[r.name]
            let older = current == i386[r.name] ? nil : i386[r.name]
            #expect(r.i386 == [current, older].compactMap { $0 }, "\(r.name) i386")
            #expect(r.socketcall == net[r.name.uppercased()].map(UInt32.init) ?? 0, "\(r.name) socketcall")
        }
        let socketcall = EventTable.row(EventType(rawValue: UInt16(VIGIL_SYS_SOCKETCALL.rawValue)))
        #expect(socketcall?.i386 == [i386["socketcall"]].compactMap { $0 })
        #expect(socketcall?.capture == VIGIL_CAPTURE_DEMUX)
    }

    #if arch(x86_64)
    @Test func entriesEqualTheHandWrittenTables() {
        let native: [(Int32, vigil_syscall)] = [
            (Int32(SYS_openat), VIGIL_SYS_OPENAT), (Int32(SYS_openat2), VIGIL_SYS_OPENAT2),
            (Int32(SYS_linkat), VIGIL_SYS_LINKAT), (Int32(SYS_symlinkat), VIGIL_SYS_SYMLINKAT),
            (Int32(SYS_renameat), VIGIL_SYS_RENAMEAT), (Int32(SYS_renameat2), VIGIL_SYS_RENAMEAT2),
            (Int32(SYS_unlinkat), VIGIL_SYS_UNLINKAT), (Int32(SYS_fchmod), VIGIL_SYS_FCHMOD),
            (Int32(SYS_fchmodat), VIGIL_SYS_FCHMODAT), (Int32(SYS_mkdirat), VIGIL_SYS_MKDIRAT),
            (Int32(SYS_chdir), VIGIL_SYS_CHDIR), (Int32(SYS_fchdir), VIGIL_SYS_FCHDIR),
            (Int32(SYS_socket), VIGIL_SYS_SOCKET), (Int32(SYS_connect), VIGIL_SYS_CONNECT),
            (Int32(SYS_accept), VIGIL_SYS_ACCEPT), (Int32(SYS_accept4), VIGIL_SYS_ACCEPT4),
            (Int32(SYS_bind), VIGIL_SYS_BIND), (Int32(SYS_listen), VIGIL_SYS_LISTEN),
            (Int32(SYS_sendto), VIGIL_SYS_SENDTO), (Int32(SYS_sendmsg), VIGIL_SYS_SENDMSG),
            (Int32(SYS_recvfrom), VIGIL_SYS_RECVFROM), (Int32(SYS_recvmsg), VIGIL_SYS_RECVMSG),
            (Int32(SYS_dup), VIGIL_SYS_DUP), (Int32(SYS_dup3), VIGIL_SYS_DUP3),
            (Int32(SYS_close), VIGIL_SYS_CLOSE), (Int32(SYS_setuid), VIGIL_SYS_SETUID),
            (Int32(SYS_setgid), VIGIL_SYS_SETGID), (Int32(SYS_setresuid), VIGIL_SYS_SETRESUID),
            (Int32(SYS_setresgid), VIGIL_SYS_SETRESGID), (Int32(SYS_setreuid), VIGIL_SYS_SETREUID),
            (Int32(SYS_setregid), VIGIL_SYS_SETREGID), (Int32(SYS_capset), VIGIL_SYS_CAPSET),
            (Int32(SYS_ptrace), VIGIL_SYS_PTRACE), (Int32(SYS_init_module), VIGIL_SYS_INIT_MODULE),
            (Int32(SYS_finit_module), VIGIL_SYS_FINIT_MODULE), (Int32(SYS_mount), VIGIL_SYS_MOUNT),
            (Int32(SYS_umount2), VIGIL_SYS_UMOUNT2), (Int32(SYS_setns), VIGIL_SYS_SETNS),
            (Int32(SYS_unshare), VIGIL_SYS_UNSHARE), (Int32(SYS_memfd_create), VIGIL_SYS_MEMFD_CREATE),
            (Int32(SYS_bpf), VIGIL_SYS_BPF), (Int32(SYS_kill), VIGIL_SYS_KILL),
            (Int32(SYS_execve), VIGIL_SYS_EXECVE), (Int32(SYS_execveat), VIGIL_SYS_EXECVEAT),
            (Int32(SYS_clone), VIGIL_SYS_CLONE), (Int32(SYS_clone3), VIGIL_SYS_CLONE3),
            (Int32(SYS_userfaultfd), VIGIL_SYS_USERFAULTFD), (Int32(SYS_prctl), VIGIL_SYS_PRCTL),
            (Int32(SYS_tkill), VIGIL_SYS_TKILL), (Int32(SYS_tgkill), VIGIL_SYS_TGKILL),
            (Int32(SYS_pipe2), VIGIL_SYS_PIPE2), (Int32(SYS_socketpair), VIGIL_SYS_SOCKETPAIR),
            (Int32(SYS_fcntl), VIGIL_SYS_FCNTL), (Int32(SYS_chroot), VIGIL_SYS_CHROOT),
            (Int32(SYS_open_by_handle_at), VIGIL_SYS_OPEN_BY_HANDLE_AT),
            (Int32(SYS_io_uring_setup), VIGIL_SYS_IO_URING_SETUP),
            (Int32(SYS_open), VIGIL_SYS_OPEN), (Int32(SYS_creat), VIGIL_SYS_CREAT),
            (Int32(SYS_link), VIGIL_SYS_LINK), (Int32(SYS_symlink), VIGIL_SYS_SYMLINK),
            (Int32(SYS_rename), VIGIL_SYS_RENAME), (Int32(SYS_unlink), VIGIL_SYS_UNLINK),
            (Int32(SYS_rmdir), VIGIL_SYS_RMDIR), (Int32(SYS_chmod), VIGIL_SYS_CHMOD),
            (Int32(SYS_mkdir), VIGIL_SYS_MKDIR), (Int32(SYS_dup2), VIGIL_SYS_DUP2),
            (Int32(SYS_fork), VIGIL_SYS_FORK), (Int32(SYS_vfork), VIGIL_SYS_VFORK),
            (Int32(SYS_pipe), VIGIL_SYS_PIPE),
            (452 /* fchmodat2: not in older headers */, VIGIL_SYS_FCHMODAT2),
            (Int32(SYS_truncate), VIGIL_SYS_TRUNCATE), (Int32(SYS_ftruncate), VIGIL_SYS_FTRUNCATE),
            (311, VIGIL_SYS_PROCESS_VM_WRITEV), (133, VIGIL_SYS_MKNOD),
            (259, VIGIL_SYS_MKNODAT),
        ]
        let compat: [(Int32, vigil_syscall)] = [
            (2, VIGIL_SYS_FORK), (5, VIGIL_SYS_OPEN), (6, VIGIL_SYS_CLOSE), (8, VIGIL_SYS_CREAT),
            (9, VIGIL_SYS_LINK), (10, VIGIL_SYS_UNLINK), (11, VIGIL_SYS_EXECVE), (12, VIGIL_SYS_CHDIR),
            (15, VIGIL_SYS_CHMOD), (21, VIGIL_SYS_MOUNT), (23, VIGIL_SYS_SETUID), (26, VIGIL_SYS_PTRACE),
            (37, VIGIL_SYS_KILL), (38, VIGIL_SYS_RENAME), (39, VIGIL_SYS_MKDIR), (40, VIGIL_SYS_RMDIR),
            (41, VIGIL_SYS_DUP), (42, VIGIL_SYS_PIPE), (46, VIGIL_SYS_SETGID), (52, VIGIL_SYS_UMOUNT2),
            (55, VIGIL_SYS_FCNTL), (61, VIGIL_SYS_CHROOT), (63, VIGIL_SYS_DUP2), (70, VIGIL_SYS_SETREUID),
            (71, VIGIL_SYS_SETREGID), (83, VIGIL_SYS_SYMLINK), (94, VIGIL_SYS_FCHMOD),
            (102, VIGIL_SYS_SOCKETCALL), (120, VIGIL_SYS_CLONE), (128, VIGIL_SYS_INIT_MODULE),
            (133, VIGIL_SYS_FCHDIR), (164, VIGIL_SYS_SETRESUID), (170, VIGIL_SYS_SETRESGID),
            (172, VIGIL_SYS_PRCTL), (185, VIGIL_SYS_CAPSET), (190, VIGIL_SYS_VFORK),
            (203, VIGIL_SYS_SETREUID), (204, VIGIL_SYS_SETREGID), (208, VIGIL_SYS_SETRESUID),
            (210, VIGIL_SYS_SETRESGID), (213, VIGIL_SYS_SETUID), (214, VIGIL_SYS_SETGID),
            (221, VIGIL_SYS_FCNTL), (238, VIGIL_SYS_TKILL), (270, VIGIL_SYS_TGKILL),
            (295, VIGIL_SYS_OPENAT), (296, VIGIL_SYS_MKDIRAT), (301, VIGIL_SYS_UNLINKAT),
            (302, VIGIL_SYS_RENAMEAT), (303, VIGIL_SYS_LINKAT), (304, VIGIL_SYS_SYMLINKAT),
            (306, VIGIL_SYS_FCHMODAT), (310, VIGIL_SYS_UNSHARE), (330, VIGIL_SYS_DUP3),
            (331, VIGIL_SYS_PIPE2), (342, VIGIL_SYS_OPEN_BY_HANDLE_AT), (346, VIGIL_SYS_SETNS),
            (350, VIGIL_SYS_FINIT_MODULE), (353, VIGIL_SYS_RENAMEAT2), (356, VIGIL_SYS_MEMFD_CREATE),
            (357, VIGIL_SYS_BPF), (358, VIGIL_SYS_EXECVEAT), (359, VIGIL_SYS_SOCKET),
            (360, VIGIL_SYS_SOCKETPAIR), (361, VIGIL_SYS_BIND), (362, VIGIL_SYS_CONNECT),
            (363, VIGIL_SYS_LISTEN), (364, VIGIL_SYS_ACCEPT4), (369, VIGIL_SYS_SENDTO),
            (370, VIGIL_SYS_SENDMSG), (371, VIGIL_SYS_RECVFROM), (372, VIGIL_SYS_RECVMSG),
            (374, VIGIL_SYS_USERFAULTFD), (425, VIGIL_SYS_IO_URING_SETUP), (435, VIGIL_SYS_CLONE3),
            (437, VIGIL_SYS_OPENAT2),
            (92, VIGIL_SYS_TRUNCATE), (93, VIGIL_SYS_FTRUNCATE), (193, VIGIL_SYS_TRUNCATE),
            (194, VIGIL_SYS_FTRUNCATE), (452, VIGIL_SYS_FCHMODAT2),
            (348, VIGIL_SYS_PROCESS_VM_WRITEV), (14, VIGIL_SYS_MKNOD), (297, VIGIL_SYS_MKNODAT),
        ]
        func pairs(_ t: [(Int32, vigil_syscall)]) -> Set<[UInt32]> { Set(t.map { [UInt32($0.0), $0.1.rawValue] }) }
        #expect(Set(SyscallTable.entries.map { [UInt32($0.nr), $0.id] }) == pairs(native))
        #expect(SyscallTable.entries.count == native.count)
        #expect(Set(SyscallTable.compatEntries.map { [UInt32($0.nr), $0.id] }) == pairs(compat))
        #expect(SyscallTable.compatEntries.count == compat.count)
    }
    #endif
}
