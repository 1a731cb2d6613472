#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import VigilABI
import VigilCapture
import VigilCore
import VigilDecode

/// The syscall arguments are read from the saved user registers at sys_exit (no sys_enter
/// program): every captured syscall's record must carry exactly what was passed, whether the
/// call succeeded or failed, and the selection data must send records for wanted syscalls only.
@Suite(.serialized) struct ExitArgumentsKernelTests {
    /// One call: what it does, the event type it must produce, and the exact arguments.
    struct Row: Sendable {
        let name: String
        let type: String
        /// Runs the call; returns its result (as the kernel's return value) and the expected args.
        let call: @Sendable () -> (ret: Int64, args: [Int: UInt64], str0: String?)
    }

    /// An `int` argument: the kernel reads the low 32 bits of the register.
    static func u(_ v: Int32) -> UInt64 { UInt64(UInt32(bitPattern: v)) }
    /// Whether recorded register `got` holds `want` (an `int` argument is compared on 32 bits).
    static func same(_ got: UInt64, _ want: UInt64) -> Bool { got == want || (want <= 0xffff_ffff && got & 0xffff_ffff == want) }
    static func p(_ ptr: UnsafeRawPointer) -> UInt64 { UInt64(UInt(bitPattern: ptr)) }
    static func errnoRet(_ r: Int32) -> Int64 { r < 0 ? -Int64(errno) : Int64(r) }
    /// glibc's syscall(3) with four integer arguments, for calls glibc may not wrap (fchmodat2).
    /// Its entry is an assembly stub that reads the registers the C calling convention fills, so
    /// calling it through a fixed-arity pointer passes the same registers as the variadic call.
    static func rawSyscall(_ nr: Int, _ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int {
        typealias Fn = @convention(c) (Int, Int, Int, Int, Int) -> Int
        guard let sym = dlsym(nil, "syscall") else { return -1 }
        return unsafeBitCast(sym, to: Fn.self)(nr, a, b, c, d)
    }

    /// The same with six arguments (process_vm_writev, which glibc declares only under _GNU_SOURCE).
    static func rawSyscall6(_ nr: Int, _ a: Int, _ b: Int, _ c: Int, _ d: Int, _ e: Int, _ f: Int) -> Int {
        typealias Fn = @convention(c) (Int, Int, Int, Int, Int, Int, Int) -> Int
        guard let sym = dlsym(nil, "syscall") else { return -1 }
        return unsafeBitCast(sym, to: Fn.self)(nr, a, b, c, d, e, f)
    }

    static func tmp(_ what: String) -> String { "/tmp/vigil-exitargs-\(what)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    static let rows: [Row] = [
        Row(name: "openat creates", type: "openat") {
            let path = tmp("open")
            defer { unlink(path) }
            return path.withCString { c in
                let fd = openat(-100, c, O_CREAT | O_WRONLY | O_CLOEXEC, 0o640)
                defer { if fd >= 0 { close(fd) } }
                return (errnoRet(fd), [0: u(-100), 1: p(c), 2: UInt64(O_CREAT | O_WRONLY | O_CLOEXEC), 3: 0o640], path)
            }
        },
        Row(name: "openat fails", type: "openat") {
            let path = tmp("missing") + "/none"
            return path.withCString { c in
                let fd = openat(-100, c, O_RDONLY | O_DIRECTORY, 0)
                return (errnoRet(fd), [0: u(-100), 1: p(c), 2: UInt64(O_RDONLY | O_DIRECTORY), 3: 0], path)
            }
        },
        Row(name: "linkat fails with 5 arguments", type: "linkat") {
            let a = tmp("lnk-a"), b = tmp("lnk-b")
            return a.withCString { ca in b.withCString { cb in
                let r = linkat(-100, ca, -100, cb, 0x400 /* AT_SYMLINK_FOLLOW */)
                return (errnoRet(r), [0: u(-100), 1: p(ca), 2: u(-100), 3: p(cb), 4: 0x400], a)
            } }
        },
        Row(name: "mkdirat", type: "mkdirat") {
            let d = tmp("dir")
            defer { rmdir(d) }
            return d.withCString { c in
                let r = mkdirat(-100, c, 0o711)
                return (errnoRet(r), [0: u(-100), 1: p(c), 2: 0o711], d)
            }
        },
        Row(name: "dup2", type: "dup2") {
            let fd = open("/dev/null", O_RDONLY)
            defer { close(fd); close(777) }
            let r = dup2(fd, 777)
            return (errnoRet(r), [0: UInt64(fd), 1: 777], nil)
        },
        Row(name: "fchmodat fails", type: "fchmodat") {
            let path = tmp("nochmod")
            return path.withCString { c in
                let r = fchmodat(-100, c, 0o604, 0)
                return (errnoRet(r), [0: u(-100), 1: p(c), 2: 0o604], path)
            }
        },
        Row(name: "fchmodat2 sets the setuid bit (ENOSYS before Linux 6.6)", type: "fchmodat2") {
            let path = tmp("chmod2")
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
            defer { unlink(path) }
            return path.withCString { c in
                let r = rawSyscall(452, -100, Int(bitPattern: c), 0o4755, 0)
                return (errnoRet(Int32(r)), [0: u(-100), 1: p(c), 2: 0o4755, 3: 0], path)
            }
        },
        Row(name: "truncate", type: "truncate") {
            let path = tmp("trunc")
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 { _ = write(fd, "0123456789", 10); close(fd) }
            defer { unlink(path) }
            return path.withCString { c in
                let r = truncate(c, 3)
                return (errnoRet(r), [0: p(c), 1: 3], path)
            }
        },
        Row(name: "ftruncate on an fd opened for appending", type: "ftruncate") {
            let path = tmp("ftrunc")
            let fd = open(path, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0o600)
            defer { if fd >= 0 { close(fd) }; unlink(path) }
            let r = ftruncate(fd, 0)
            return (errnoRet(r), [0: u(fd), 1: 0], nil)
        },
        Row(name: "process_vm_writev into this process", type: "process_vm_writev") {
            var src: [UInt8] = [7, 7, 7, 7], dst: [UInt8] = [0, 0, 0, 0]
            return src.withUnsafeMutableBytes { s in
                dst.withUnsafeMutableBytes { d in
                    var local = iovec(iov_base: s.baseAddress, iov_len: 4)
                    var remote = iovec(iov_base: d.baseAddress, iov_len: 4)
                    let r = withUnsafePointer(to: &local) { l in
                        withUnsafePointer(to: &remote) { rm in
                            rawSyscall6(311 /* x86-64 process_vm_writev */, Int(getpid()), Int(bitPattern: l), 1,
                                        Int(bitPattern: rm), 1, 0)
                        }
                    }
                    return (r < 0 ? -Int64(errno) : Int64(r), [0: UInt64(getpid()), 2: 1, 4: 1, 5: 0], nil)
                }
            }
        },
        Row(name: "mknod of a FIFO (raw syscall: glibc calls mknodat)", type: "mknod") {
            let path = tmp("mknod")
            defer { unlink(path) }
            return path.withCString { c in
                let r = rawSyscall(133 /* x86-64 mknod: glibc wraps mknodat only */, Int(bitPattern: c), Int(S_IFIFO | 0o600), 0, 0)
                return (errnoRet(Int32(r)), [0: p(c), 1: UInt64(S_IFIFO | 0o600), 2: 0], path)
            }
        },
        Row(name: "mknodat of a character device (/dev/null's 1:3)", type: "mknodat") {
            let path = tmp("mknodat")
            defer { unlink(path) }
            return path.withCString { c in
                let r = mknodat(-100, c, S_IFCHR | 0o600, 0x103)
                return (errnoRet(r), [0: u(-100), 1: p(c), 2: UInt64(S_IFCHR | 0o600), 3: 0x103 /* makedev(1, 3) */], path)
            }
        },
        Row(name: "kill signal 0", type: "kill") {
            let r = kill(getpid(), 0)
            return (errnoRet(r), [0: UInt64(getpid()), 1: 0], nil)
        },
        Row(name: "sendto with 6 arguments", type: "sendto") {
            let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(s) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(9).bigEndian
            let msg: [UInt8] = [1, 2, 3, 4, 5]
            return msg.withUnsafeBytes { m in
                withUnsafePointer(to: &addr) { ap in
                    ap.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                        let n = sendto(s, m.baseAddress, 5, Int32(MSG_DONTWAIT), sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                        return (Int64(n < 0 ? -Int(errno) : n),
                                [0: UInt64(s), 1: p(m.baseAddress!), 2: 5, 3: UInt64(MSG_DONTWAIT), 4: p(UnsafeRawPointer(sa)),
                                 5: UInt64(MemoryLayout<sockaddr_in>.size)], nil)
                    }
                }
            }
        },
    ]

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func argumentsReadAtExitEqualTheArgumentsPassed() throws {
        let s = try SharedCapture.get()
        let tid = gettid32()
        for row in Self.rows {
            let since = Timestamp.bootNanoseconds()
            let (ret, args, str0) = row.call()
            let type = try #require(EventType(name: row.type))
            let rec = s.recorder.wait { e in
                e.isSyscall && e.tid == tid && e.type == type && e.timestampBootNs >= since && e.ret == ret
                    && args.allSatisfy { Self.same(e.arg($0.key), $0.value) }
            }
            let seen = s.recorder.records.withLock { list in
                list.compactMap { r in try? r.withEvent { e -> String? in
                    guard e.isSyscall, e.tid == tid, e.type == type else { return nil }
                    return "ret \(e.ret) args \((0..<6).map { String(e.arg($0), radix: 16) }) ts \(e.timestampBootNs >= since)"
                }.get() }.compactMap { $0 }
            }
            let r = try #require(rec, "\(row.name): no \(row.type) record with ret \(ret) and args \(args); seen: \(seen)")
            try r.withEvent { e in
                if let str0 { #expect(e.str0.vigilString == str0, "\(row.name)") }
                #expect(e.headerFlags & UInt16(VIGIL_HF_COMPAT) == 0)
            }.get()
        }
    }

    /// The fork record names the parent's syscall, read from its saved registers at
    /// sched_process_fork.
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func forkRecordNamesTheParentsCloneSyscall() throws {
        let s = try SharedCapture.get()
        let pid = spawn([bytes("/bin/true")])
        #expect(waitExit(pid) == 0)
        let f = try #require(s.recorder.wait { $0.recordKind == UInt16(VIGIL_REC_FORK.rawValue) && $0.forkInfo.child_pid == UInt32(pid) },
                             "no fork record for child \(pid) (ring-full drops so far: \(s.capture.kernelStats().ringFull))")
        let clones = [VIGIL_SYS_CLONE, VIGIL_SYS_CLONE3, VIGIL_SYS_VFORK, VIGIL_SYS_FORK].map { UInt16($0.rawValue) }
        try f.withEvent { e in #expect(clones.contains(e.forkInfo.syscall), "syscall \(e.forkInfo.syscall)") }.get()
    }

    /// Only wanted syscalls produce records, and a change of interest widens or narrows the set
    /// for the next syscall. An end marker (a wanted open after the unwanted call, on the same
    /// thread) proves the unwanted record would have arrived by then.
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func onlyWantedSyscallsProduceRecordsAcrossInterestChanges() throws {
        // A capture of its own: the shared one serves other suites running at the same time.
        var o = BPFCaptureOptions()
        o.ignoreSelf = false
        let capture = try BPFCapture(options: o)
        let recorder = KernelRecorder()
        try capture.start(recorder)
        defer { capture.stop() }
        let s = (capture: capture, recorder: recorder)
        let openat = try #require(EventType(name: "openat"))
        let mkdiratType = try #require(EventType(name: "mkdirat"))
        let tid = gettid32()
        func mkdirRecord(_ d: String) -> Bool {
            s.recorder.records.withLock { list in
                list.contains { r in (try? r.withEvent { $0.tid == tid && $0.type == mkdiratType && $0.str0.vigilString == d }.get()) == true }
            }
        }
        func marker() throws {
            let m = Self.tmp("marker")
            close(open(m, O_CREAT | O_WRONLY, 0o600)); unlink(m)
            try #require(s.recorder.wait { $0.isSyscall && $0.type == openat && $0.str0.vigilString == m } != nil, "no record of the marker open")
        }
        // Narrow: only openat.
        try s.capture.setInterest([openat])
        let d1 = Self.tmp("narrow")
        mkdirat(-100, d1, 0o700); rmdir(d1)
        try marker()
        #expect(!mkdirRecord(d1), "mkdirat recorded while only openat was wanted")
        // Widen: openat and mkdirat.
        try s.capture.setInterest([openat, mkdiratType])
        let d2 = Self.tmp("wide")
        mkdirat(-100, d2, 0o700); rmdir(d2)
        try marker()
        #expect(mkdirRecord(d2), "mkdirat not recorded once wanted")
        // Narrow again.
        try s.capture.setInterest([openat])
        let d3 = Self.tmp("narrow-again")
        mkdirat(-100, d3, 0o700); rmdir(d3)
        try marker()
        #expect(!mkdirRecord(d3), "mkdirat recorded after it was dropped from the interest")
    }
}
