import CLibBPF
import Testing
import VigilABI
import VigilCapture
import VigilDecode

/// The selection data sys_exit reads: which kernel numbers are wanted, for which interest.
@Suite struct KernelSelectionTests {
    let config = vigil_config(agent_tgid: 1, ignore_agent: 1, max_args_bytes: 4096, wakeup_mask: 63, max_env_bytes: 0, wakeup_bytes: 262144)

    @Test func onlyWantedSyscallsAreFlaggedAndUnknownOnesAreZero() {
        let openat = EventType(name: "openat")!
        let sel = KernelSelection(interest: [openat], config: config)
        #expect(sel.nr.count == Int(VIGIL_NR_MAX))
        #expect(sel.type.count == Int(VIGIL_EVENT_TYPE_MAX.rawValue))
        #if arch(x86_64)
        #expect(sel.nr[257] == VIGIL_SYS_OPENAT.rawValue | VIGIL_NR_WANTED)       // native openat
        #expect(sel.nr[110] == 0)                                                   // getppid: unknown
        #expect(sel.nr[83] & (VIGIL_NR_WANTED | VIGIL_NR_COMPAT_WANTED) == 0)       // mkdir: known, unwanted
        #expect(sel.nr[83] & VIGIL_NR_ID_MASK == VIGIL_SYS_MKDIR.rawValue)
        // i386 openat (295) is wanted: its native twin slot says so; i386 open (5) is not.
        let base = Int(VIGIL_NR_COMPAT_BASE)
        #expect(sel.nr[base + 295] == VIGIL_SYS_OPENAT.rawValue | VIGIL_NR_WANTED)
        #expect(sel.nr[295] & VIGIL_NR_COMPAT_WANTED != 0)
        #expect(sel.nr[5] & VIGIL_NR_COMPAT_WANTED == 0)
        #endif
        #expect(sel.type[Int(VIGIL_SYS_OPENAT.rawValue)] == UInt8(VIGIL_INTEREST_WANTED))
        #expect(sel.type[Int(VIGIL_SYS_EXECVE.rawValue)] == 0)
        #expect(sel.isWanted(nativeNumber: -1) == false)
    }

    @Test func forksAreRecordedBySchedProcessForkNeverAtSysExit() {
        let sel = KernelSelection(interest: [EventType(name: "clone")!, EventType(name: "execve")!], config: config)
        for id in [VIGIL_SYS_CLONE, VIGIL_SYS_CLONE3, VIGIL_SYS_FORK, VIGIL_SYS_VFORK, VIGIL_SYS_EXECVEAT] {
            #expect(sel.type[Int(id.rawValue)] == UInt8(VIGIL_INTEREST_WANTED))
        }
        #if arch(x86_64)
        #expect(sel.nr[56] & VIGIL_NR_WANTED == 0)     // clone
        #expect(sel.nr[435] & VIGIL_NR_WANTED == 0)    // clone3
        #expect(sel.nr[59] & VIGIL_NR_WANTED != 0)     // execve: failed ones are syscall records
        #endif
    }

    @Test func socketcallIsWantedWhenAnyCallItCarriesIs() {
        let none = KernelSelection(interest: [EventType(name: "openat")!], config: config)
        let some = KernelSelection(interest: [EventType(name: "connect")!], config: config)
        #expect(none.type[Int(VIGIL_SYS_SOCKETCALL.rawValue)] == 0)
        #expect(some.type[Int(VIGIL_SYS_SOCKETCALL.rawValue)] == UInt8(VIGIL_INTEREST_WANTED))
        #if arch(x86_64)
        #expect(some.nr[Int(VIGIL_NR_COMPAT_BASE) + 102] & VIGIL_NR_WANTED != 0)
        #expect(none.nr[Int(VIGIL_NR_COMPAT_BASE) + 102] & VIGIL_NR_WANTED == 0)
        #endif
    }

    @Test func bytesFollowTheCLayout() {
        let sel = KernelSelection(interest: [EventType(name: "openat")!], config: config)
        let b = sel.bytes()
        #expect(b.count == MemoryLayout<vigil_select>.size)
        let cfgSize = MemoryLayout<vigil_config>.size
        #expect(b.count == cfgSize + 4 * Int(VIGIL_NR_MAX) + Int(VIGIL_EVENT_TYPE_MAX.rawValue)
                + Int(VIGIL_FAILED_PATH_MAX) * Int(VIGIL_FAILED_PATH_BYTES))
        let wake = b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: MemoryLayout<vigil_config>.offset(of: \vigil_config.wakeup_mask)!, as: UInt32.self) }
        #expect(wake == 63)
        let bytes = b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: MemoryLayout<vigil_config>.offset(of: \vigil_config.wakeup_bytes)!, as: UInt32.self) }
        #expect(bytes == 262144)
        #if arch(x86_64)
        let slot = b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: cfgSize + 4 * 257, as: UInt32.self) }
        #expect(slot == VIGIL_SYS_OPENAT.rawValue | VIGIL_NR_WANTED)
        #endif
        #expect(b[cfgSize + 4 * Int(VIGIL_NR_MAX) + Int(VIGIL_SYS_OPENAT.rawValue)] == UInt8(VIGIL_INTEREST_WANTED))
    }

    /// Failed calls are dropped per type, native and 32-bit apart, only for the types the interest
    /// names; never on socketcall (its calls are checked after the demultiplexing).
    @Test func failedCallsAreDroppedOnlyWhereTheInterestSays() {
        let openat = EventType(name: "openat")!, connect = EventType(name: "connect")!, dup2 = EventType(name: "dup2")!
        let socketcall = EventType(rawValue: UInt16(VIGIL_SYS_SOCKETCALL.rawValue))
        let interest = KernelInterest(types: [openat, connect, dup2], dropFailed: [openat, dup2, socketcall], dropFailedCompat: [dup2, connect])
        let sel = KernelSelection(interest: interest, config: config)
        let wanted = UInt8(VIGIL_INTEREST_WANTED), native = UInt8(VIGIL_INTEREST_DROP_FAILED), compat = UInt8(VIGIL_INTEREST_DROP_FAILED_COMPAT)
        #expect(sel.type[Int(VIGIL_SYS_OPENAT.rawValue)] == wanted | native)
        #expect(sel.type[Int(VIGIL_SYS_DUP2.rawValue)] == wanted | native | compat)
        #expect(sel.type[Int(VIGIL_SYS_CONNECT.rawValue)] == wanted | compat)
        #expect(sel.type[Int(VIGIL_SYS_SOCKETCALL.rawValue)] == wanted)
        #expect(sel.dropsFailures(of: openat) && !sel.dropsFailures(of: openat, compat: true))
        #expect(!sel.dropsFailures(of: connect) && sel.dropsFailures(of: connect, compat: true))
        // A set literal drops nothing; the nr slots are untouched by the failure flags.
        let all = KernelSelection(interest: [openat, connect, dup2], config: config)
        #expect(all.type[Int(VIGIL_SYS_OPENAT.rawValue)] == wanted && all.type[Int(VIGIL_SYS_DUP2.rawValue)] == wanted)
        #expect(all.nr == sel.nr)
    }

    /// While a reload switches rule sets the selection is the union of both needs: a type's
    /// failures are dropped only when neither side sends them.
    @Test func unionDropsOnlyWhatNeitherSideSends() {
        let openat = EventType(name: "openat")!, creat = EventType(name: "creat")!, dup = EventType(name: "dup")!
        let a = KernelInterest(types: [openat, creat], dropFailed: [openat, creat], dropFailedCompat: [openat])
        let b = KernelInterest(types: [openat, dup], dropFailed: [dup], dropFailedCompat: [openat, dup])
        let u = a.union(b)
        #expect(u.types == [openat, creat, dup])
        #expect(u.dropFailed == [creat, dup])       // openat: b sends its native failures
        #expect(u.dropFailedCompat == [openat, dup]) // creat: a sends its 32-bit failures
        #expect(u == b.union(a))
        #expect(a.union(a) == a)
        #expect(u.sendsFailures(of: openat) && !u.sendsFailures(of: openat, compat: true))
        #expect(!u.sendsFailures(of: EventType(name: "mkdir")!))
        #expect(Set(u.droppedFailureNames) == ["openat(32-bit)", "creat(native)", "dup"])
        // Dropped types outside the types are ignored; insert sends everything of a type.
        var c = KernelInterest(types: [openat], dropFailed: [openat, dup])
        #expect(c.dropFailed == [openat])
        c.insert(openat)
        #expect(c.dropFailed.isEmpty)
        // Only syscalls that can fail as a record can be dropped: not the clone family, socketcall or procexit.
        #expect(KernelInterest.failableTypes.contains(openat) && KernelInterest.failableTypes.contains(EventType(name: "execve")!))
        for n in ["clone", "clone3", "fork", "vfork", "procexit"] { #expect(!KernelInterest.failableTypes.contains(EventType(name: n)!), "\(n)") }
        #expect(!KernelInterest.failableTypes.contains(EventType(rawValue: UInt16(VIGIL_SYS_SOCKETCALL.rawValue))))
    }

    /// Read-only opens without the path as passed: only open and openat of the types, the flag on
    /// those types' entries, kept by a union only when both sides have it, dropped by insert.
    @Test func readOnlyOpenNamesAreLeftOutOnlyWhereTheInterestSays() {
        let open = EventType(name: "open")!, openat = EventType(name: "openat")!, openat2 = EventType(name: "openat2")!
        let creat = EventType(name: "creat")!, close = EventType(name: "close")!
        let a = KernelInterest(types: [open, openat, openat2, creat], openNameWriteOnly: [open, openat, openat2, creat, close])
        #expect(a.openNameWriteOnly == [open, openat])
        #expect(KernelInterest(types: [openat], openNameWriteOnly: [open, openat]).openNameWriteOnly == [openat])
        let flag = UInt8(VIGIL_INTEREST_OPEN_NAME_WRITE_ONLY)
        let sel = KernelSelection(interest: a, config: vigil_config())
        for t in [open, openat] { #expect(sel.type[Int(t.rawValue)] & flag != 0, "\(t.name)") }
        for t in [openat2, creat] { #expect(sel.type[Int(t.rawValue)] & flag == 0, "\(t.name)") }
        #expect(KernelSelection(interest: [open, openat], config: vigil_config()).type[Int(openat.rawValue)] & flag == 0)
        let b = KernelInterest(types: [openat], openNameWriteOnly: [])
        #expect(a.union(b).openNameWriteOnly == [open])
        #expect(a.union(a) == a && a.union(b) == b.union(a))
        var c = a
        c.insert(openat)
        #expect(c.openNameWriteOnly == [open])
        #expect(a.description.contains("read-only opens without the path as passed for: open,openat"))
    }

    /// The failed-open path filter: flags per type (native and 32-bit apart, only the open family,
    /// never with a drop flag of the same kind), the paths NUL-padded in their slots, each path
    /// keeping its slot across selections, and a path entering a slot only while no type filters.
    @Test func failedOpenPathsFillSlotsThatStayPut() {
        let openat = EventType(name: "openat")!, open = EventType(name: "open")!, chmod = EventType(name: "chmod")!
        let kcore = Array("/proc/kcore".utf8), mem = Array("/dev/mem".utf8), port = Array("/dev/port".utf8)
        let a = KernelInterest(types: [openat, open, chmod], dropFailedCompat: [openat],
                               failedPathTypes: [openat, chmod], failedPathTypesCompat: [openat, open], failedPaths: [kcore, mem])
        // chmod cannot filter by path (not an open); openat's 32-bit failures are dropped anyway.
        #expect(a.failedPathTypes == [openat] && a.failedPathTypesCompat == [open])
        let sa = KernelSelection(interest: a, config: config)
        let wanted = UInt8(VIGIL_INTEREST_WANTED), paths = UInt8(VIGIL_INTEREST_FAILED_PATHS), pathsCompat = UInt8(VIGIL_INTEREST_FAILED_PATHS_COMPAT)
        #expect(sa.type[Int(VIGIL_SYS_OPENAT.rawValue)] == wanted | paths | UInt8(VIGIL_INTEREST_DROP_FAILED_COMPAT))
        #expect(sa.type[Int(VIGIL_SYS_OPEN.rawValue)] == wanted | pathsCompat)
        #expect(sa.type[Int(VIGIL_SYS_CHMOD.rawValue)] == wanted)
        #expect(sa.filtersFailuresByPath(of: openat) && !sa.filtersFailuresByPath(of: openat, compat: true))
        #expect(sa.failedPath.count == Int(VIGIL_FAILED_PATH_MAX))
        #expect(sa.failedPath.compactMap { $0 }.count == 2 && sa.addsPaths(to: []) && sa.filtersFailedPaths)
        // The bytes: each path NUL-padded in its 64-byte entry, unused entries zero.
        let b = sa.bytes()
        let base = MemoryLayout<vigil_select>.offset(of: \vigil_select.failed_path)!
        for (i, p) in sa.failedPath.enumerated() {
            let entry = Array(b[(base + i * 64)..<(base + i * 64 + 64)])
            let want = (p ?? []) + [UInt8](repeating: 0, count: 64 - (p?.count ?? 0))
            #expect(entry == want, "slot \(i)")
        }
        // A narrower set keeps /proc/kcore in its slot; a new path takes a free slot.
        let b2 = KernelInterest(types: [openat], failedPathTypes: [openat], failedPaths: [kcore, port])
        let sb = KernelSelection(interest: b2, config: config, previousPaths: sa.failedPath)
        let k = sa.failedPath.firstIndex(of: kcore)!
        #expect(sb.failedPath[k] == kcore)
        #expect(!sb.failedPath.contains(mem) && sb.failedPath.contains(port))
        #expect(sb.addsPaths(to: sa.failedPath) && !sb.addsPaths(to: sb.failedPath))
        // Written before it: the same slots, no type filtering by path (every failure sent).
        let first = sb.sendingEveryFailure
        #expect(first.failedPath == sb.failedPath && !first.filtersFailedPaths)
        #expect(first.type[Int(VIGIL_SYS_OPENAT.rawValue)] == wanted)
        // Only removals: one write is enough.
        let c = KernelSelection(interest: KernelInterest(types: [openat], failedPathTypes: [openat], failedPaths: [port]),
                                config: config, previousPaths: sb.failedPath)
        #expect(!c.addsPaths(to: sb.failedPath) && c.failedPath.compactMap { $0 } == [port])
    }

    /// What the kernel's filter can hold: normal absolute paths up to the bound (others are sent
    /// by the kernel anyway and left out), no filter at all when one is too long, holds U+FFFD or
    /// there are too many; the union of two interests filters by path only where neither sends
    /// every failure.
    @Test func pathFiltersHoldOnlyWhatTheKernelCanCompare() {
        let openat = EventType(name: "openat")!, creat = EventType(name: "creat")!
        func interest(_ paths: [String]) -> KernelInterest {
            KernelInterest(types: [openat], failedPathTypes: [openat], failedPaths: Set(paths.map { Array($0.utf8) }))
        }
        let mixed = interest(["/proc/kcore", "kcore", "/proc/../proc/kcore", "/tmp/", "/a//b", ""])
        #expect(mixed.failedPathNames == ["/proc/kcore"] && mixed.filtersFailuresByPath(of: openat))
        let bound = "/" + String(repeating: "x", count: KernelInterest.failedPathMaxBytes - 1)
        #expect(interest([bound]).failedPathNames == [bound])
        #expect(!interest([bound + "x"]).filtersFailuresByPath(of: openat) && interest([bound + "x"]).failedPaths.isEmpty)
        #expect(interest([bound + "x"]).sendsEveryFailure(of: openat))
        #expect(!interest(["/tmp/caf\u{FFFD}"]).filtersFailuresByPath(of: openat))
        let many = (0...KernelInterest.failedPathMaxCount).map { "/p\($0)" }
        #expect(!interest(many).filtersFailuresByPath(of: openat) && interest(Array(many.dropLast())).filtersFailuresByPath(of: openat))
        // Union: paths of both; every failure where either side sends every one; dropped only where neither sends any.
        let a = interest(["/dev/mem"])
        let b = KernelInterest(types: [openat, creat], failedPathTypes: [openat], failedPaths: [Array("/dev/kmem".utf8)])
        let drop = KernelInterest(types: [openat], dropFailed: [openat])
        #expect(a.union(b).failedPathNames == ["/dev/kmem", "/dev/mem"] && a.union(b).filtersFailuresByPath(of: openat))
        #expect(a.union(drop).filtersFailuresByPath(of: openat) && a.union(drop).failedPathNames == ["/dev/mem"])
        #expect(drop.union(drop).dropFailed == [openat] && !drop.union(drop).filtersFailuresByPath(of: openat))
        #expect(a.union([openat]).sendsEveryFailure(of: openat))
        #expect(a.union(b).sendsEveryFailure(of: creat) && a.union(b) == b.union(a))
        var c = a
        c.insert(openat)
        #expect(c.sendsEveryFailure(of: openat) && c.failedPaths.isEmpty)
        #expect(a.description.contains("failures sent only for 1 paths for: openat"))
    }
}
