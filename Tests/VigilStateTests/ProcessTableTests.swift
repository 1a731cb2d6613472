import Testing
import VigilABI
import VigilDecode
@testable import VigilState
import VigilCore

/// Feeds synthetic records (the same bytes the kernel writes) through the table.
struct Stream {
    let table: ProcessTable
    var ts: UInt64 = 1_000_000_000

    init(_ config: ProcessTable.Configuration = .init(resolveUnknownFromProc: false)) {
        table = ProcessTable(configuration: config)
    }

    /// A header as the kernel fills it: the parent defaults to what the table knows.
    func h(_ pid: UInt32, tid: UInt32? = nil, ppid: UInt32? = nil, uid: UInt32 = 0, comm: String = "", cg: UInt64 = 0) -> RecordEncoder.Header {
        RecordEncoder.Header(timestampBootNs: ts, pid: pid, tid: tid, ppid: ppid ?? table[pid]?.ppid ?? 1, uid: uid,
                             cgroupID: cg, comm: comm)
    }

    @discardableResult
    mutating func feed(_ bytes: [UInt8]) -> ProcessTable.ApplyResult {
        ts += 1000
        let t = table
        return try! OwnedRecord(bytes: bytes).withEvent { t.apply($0) }.get()
    }

    @discardableResult
    mutating func exec(_ pid: UInt32, ppid: UInt32, _ path: String, _ argv: [String], cwd: String = "/", uid: UInt32 = 0,
                       flags: UInt32 = 0, cgroupPath: String = "/", cg: UInt64 = 0) -> ProcessTable.ApplyResult {
        let comm = String(path.split(separator: "/").last ?? "").prefix(15)
        return feed(RecordEncoder.exec(h(pid, ppid: ppid, uid: uid, comm: String(comm), cg: cg),
                                       .init(exePath: path, argv: argv, cwd: cwd, exeFlags: flags, loginUID: 1000,
                                             euid: uid, startTimeBootNs: ts, cgroupPath: cgroupPath)))
    }

    @discardableResult
    mutating func fork(_ parent: UInt32, child: UInt32, thread: Bool = false) -> ProcessTable.ApplyResult {
        feed(RecordEncoder.fork(h(parent), childPid: thread ? parent : child, childTid: child, isThread: thread,
                                childStartBootNs: ts))
    }

    @discardableResult
    mutating func exit(_ pid: UInt32, code: Int32 = 0, groupDead: Bool = true) -> ProcessTable.ApplyResult {
        feed(RecordEncoder.exit(h(pid), code: code, groupDead: groupDead))
    }

    @discardableResult
    mutating func sys(_ pid: UInt32, _ type: String, ret: Int64 = 0, _ args: [String: String] = [:]) -> ProcessTable.ApplyResult {
        feed(try! RecordEncoder.syscall(h(pid), type: EventType(name: type)!, ret: ret, arguments: args))
    }
}

@Suite struct ProcessTableTests {
    @Test func forkExecExitAndAncestry() {
        var s = Stream()
        s.exec(100, ppid: 1, "/usr/sbin/nginx", ["nginx", "-g", "daemon off;"], cwd: "/srv")
        s.fork(100, child: 200)
        let child = s.table[200]!
        #expect(child.ppid == 100)
        #expect(child.exePath == "/usr/sbin/nginx")
        #expect(child.args == ["-g", "daemon off;"])
        #expect(child.cwd == "/srv/")
        s.exec(200, ppid: 100, "/bin/sh", ["sh", "-c", "cat /etc/shadow"])
        s.fork(200, child: 300)
        let r = s.exec(300, ppid: 200, "/usr/bin/cat", ["cat", "/etc/shadow"], cwd: "/tmp")
        let cat = r.process!
        #expect(cat.pid == 300 && cat.name == "cat" && cat.exe == "cat" && cat.args == ["/etc/shadow"])
        #expect(cat.cwd == "/tmp/")
        #expect(cat.loginUID == 1000)
        #expect(s.table.ancestor(of: cat, level: 1)?.exePath == "/bin/sh")
        #expect(s.table.ancestor(of: cat, level: 2)?.exePath == "/usr/sbin/nginx")
        #expect(s.table.ancestor(of: cat, level: 3) == nil)  // pid 1 unknown here
        #expect(s.table.ancestors(of: cat).map(\.pid) == [200, 100])
        #expect(s.table.ancestor(of: cat, level: 0) === cat)

        s.exit(300, code: 3)
        #expect(s.table[300]?.hasExited == true)
        #expect(s.table[300]?.exitCode == 3)
        // Late events still resolve during the grace period.
        let late = s.sys(300, "openat", ret: 3, ["name": "/etc/hosts", "dirfd": "AT_FDCWD"])
        #expect(late.process?.pid == 300)
        #expect(late.fd?.name == "/etc/hosts")
    }

    @Test func graceEvictionAndStats() {
        var s = Stream(.init(exitGracePeriodNs: 1_000_000, resolveUnknownFromProc: false))
        s.exec(10, ppid: 1, "/bin/a", ["a"])
        s.exec(11, ppid: 1, "/bin/b", ["b"])
        s.exit(10)
        #expect(s.table[10] != nil)
        s.ts += 2_000_000
        s.sys(11, "close", ["fd": "5"])
        #expect(s.table[10] == nil)
        #expect(s.table[11] != nil)
        #expect(s.table.stats.expired.value == 1)
        #expect(s.table.stats.exits.value == 1)
        #expect(s.table.stats.execs.value == 2)
    }

    @Test func replayKeepsGracePeriodsInEventTime() {
        var s = Stream(.init(exitGracePeriodNs: 1_000_000, resolveUnknownFromProc: false))
        s.exec(10, ppid: 1, "/bin/a", ["a"])
        s.exit(10)
        // The wall clock is far ahead of a recorded capture's timestamps.
        s.table.expire(now: .max / 2)
        #expect(s.table[10] != nil)
        s.ts += 2_000_000
        s.sys(1, "close", ["fd": "5"])
        s.table.expire(now: .max / 2)
        #expect(s.table[10] == nil)
    }

    @Test func pidReuseAfterExitIsNotEvictedByTheOldExit() {
        var s = Stream(.init(exitGracePeriodNs: 1_000_000, resolveUnknownFromProc: false))
        s.exec(10, ppid: 1, "/bin/a", ["a"])
        s.exit(10)
        // pid 10 reused by a new process before the old one's grace ran out.
        s.fork(1, child: 10)
        s.exec(10, ppid: 1, "/bin/new", ["new"])
        s.ts += 2_000_000
        s.sys(10, "close", ["fd": "5"])
        #expect(s.table[10]?.exePath == "/bin/new")
        #expect(s.table[10]?.hasExited == false)
    }

    @Test func hardCapEvictsExitedFirstThenLeastRecent() {
        var s = Stream(.init(maxProcesses: 64, exitGracePeriodNs: .max / 2, resolveUnknownFromProc: false))
        for pid in UInt32(1000)..<1040 { s.exec(pid, ppid: 1, "/bin/x", ["x"]) }
        for pid in UInt32(1000)..<1010 { s.exit(pid) }
        for pid in UInt32(2000)..<2030 { s.exec(pid, ppid: 1, "/bin/y", ["y"]) }
        #expect(s.table.count <= 64)
        #expect(s.table.stats.evictions.value > 0)
        // Exited ones went first: every live process of the first batch is still there.
        for pid in UInt32(1010)..<1040 { #expect(s.table[pid] != nil, "live \(pid) evicted") }
        for pid in UInt32(3000)..<3100 { s.exec(pid, ppid: 1, "/bin/z", ["z"]) }
        #expect(s.table.count <= 64)
        #expect(s.table[3099] != nil)
        #expect(s.table[1010] == nil)  // least recently seen live entries go next
    }

    @Test func threadsMapToTheirProcessAndShareFDs() {
        var s = Stream()
        s.exec(50, ppid: 1, "/usr/bin/java", ["java"])
        s.fork(50, child: 51, thread: true)
        #expect(s.table[51] == nil)
        #expect(s.table[50]?.threadCount == 2)
        // An open from the thread (tid 51) lands in the process's fd table.
        let r = s.feed(try! RecordEncoder.syscall(s.h(50, tid: 51), type: EventType(name: "open")!, ret: 7,
                                                 arguments: ["name": "/data/x", "flags": "O_RDONLY"]))
        #expect(r.process?.pid == 50)
        #expect(s.table[50]?.fds[7]?.name == "/data/x")
        s.exit(50, groupDead: false)
        #expect(s.table[50]?.hasExited == false)
        #expect(s.table[50]?.threadCount == 1)
    }

    @Test func forkCopiesFDsAndExecClosesCloexec() {
        var s = Stream()
        s.exec(60, ppid: 1, "/bin/bash", ["bash"], cwd: "/home/u")
        s.sys(60, "openat", ret: 3, ["dirfd": "AT_FDCWD", "name": "log.txt", "flags": "O_WRONLY|O_APPEND"])
        s.sys(60, "openat", ret: 4, ["dirfd": "AT_FDCWD", "name": "/etc/passwd", "flags": "O_RDONLY|O_CLOEXEC"])
        s.fork(60, child: 61)
        #expect(s.table[61]?.fds[3]?.name == "/home/u/log.txt")
        #expect(s.table[61]?.fds[4]?.name == "/etc/passwd")
        // The child's own changes do not touch the parent.
        s.sys(61, "close", ["fd": "3"])
        #expect(s.table[61]?.fds[3] == nil)
        #expect(s.table[60]?.fds[3] != nil)
        s.exec(61, ppid: 60, "/usr/bin/tee", ["tee"])
        #expect(s.table[61]?.fds[4] == nil)   // O_CLOEXEC closed on exec
        #expect(s.table[61]?.fds[3] == nil)
        #expect(s.table[60]?.fds[4] != nil)
    }

    @Test func execReplacesImageAndKeepsIdentity() {
        var s = Stream()
        s.exec(70, ppid: 1, "/bin/sh", ["sh"], cgroupPath: "/kubepods.slice/x", cg: 77)
        let before = s.table[70]!
        s.exec(70, ppid: 1, "/usr/bin/python3", ["python3", "-c", "print(1)"],
               flags: UInt32(VIGIL_EXE_UPPER_LAYER | VIGIL_EXE_FROM_MEMFD | VIGIL_EXE_WRITABLE), cg: 77)
        let p = s.table[70]!
        #expect(p === before)
        #expect(p.exePath == "/usr/bin/python3" && p.args == ["-c", "print(1)"])
        #expect(p.exeUpperLayer && p.exeFromMemfd && p.exeWritable)
        #expect(p.cgroupID == 77)
        #expect(p.cmdline == "python3 -c print(1)")
    }

    @Test func unknownProcessCreatedFromHeader() {
        var s = Stream()
        let r = s.feed(try! RecordEncoder.syscall(s.h(4242, ppid: 7, uid: 33, comm: "worker", cg: 99),
                                                 type: EventType(name: "setuid")!, arguments: ["uid": "0"]))
        #expect(r.process?.name == "worker")
        #expect(r.process?.ppid == 7)
        #expect(r.process?.uid == 33)
        #expect(r.process?.cgroupID == 99)
        #expect(s.table.stats.unknownProcesses.value == 1)
    }

    @Test func ancestryCycleGuard() {
        let t = ProcessTable(configuration: .init(maxAncestryDepth: 50, resolveUnknownFromProc: false))
        let a = ProcessInfo(pid: 1, ppid: 3), b = ProcessInfo(pid: 2, ppid: 1), c = ProcessInfo(pid: 3, ppid: 2)
        t.insert(a); t.insert(b); t.insert(c)
        // 3 -> 2 -> 1 -> 3 ...: the walk stops when it comes back.
        #expect(t.ancestors(of: c).map(\.pid) == [2, 1])
        #expect(t.ancestor(of: c, level: 3) == nil)
        var n = 0
        t.forEachAncestor(of: a) { _, _ in n += 1; return true }
        #expect(n == 2)
        // A cycle not through the start is bounded by the depth limit.
        let d = ProcessInfo(pid: 4, ppid: 1)
        t.insert(d)
        var m = 0
        t.forEachAncestor(of: d) { _, _ in m += 1; return true }
        #expect(m == 50)
        // Deep chains: any depth up to the limit.
        let deep = ProcessTable(configuration: .init(maxAncestryDepth: 1000, resolveUnknownFromProc: false))
        for i in UInt32(1)...600 { deep.insert(ProcessInfo(pid: i, ppid: i - 1)) }
        #expect(deep.ancestor(of: deep[600]!, level: 599)?.pid == 1)
        #expect(deep.ancestors(of: deep[600]!).count == 599)
    }
}

@Suite struct ProcessTableRobustnessTests {
    /// Corrupted records that still decode must never crash the table.
    @Test func corruptedStreamNeverCrashes() throws {
        let table = ProcessTable(configuration: .init(maxProcesses: 256, exitGracePeriodNs: 1000, maxFDsPerProcess: 32,
                                                      resolveUnknownFromProc: false))
        var rng = SystemRandomNumberGenerator()
        let h = RecordEncoder.Header(timestampBootNs: 100, pid: 5, ppid: 1, comm: "x")
        let base: [[UInt8]] = [
            RecordEncoder.exec(h, .init(exePath: "/bin/sh", argv: ["sh", "-c", "x"], cwd: "/")),
            RecordEncoder.fork(h, childPid: 6),
            RecordEncoder.exit(h, code: 0),
            try RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: 3, arguments: ["dirfd": "4", "name": "../x", "flags": "O_RDONLY"]),
            try RecordEncoder.syscall(h, type: EventType(name: "accept4")!, ret: 5, arguments: ["tuple": "1.2.3.4:5->6.7.8.9:10"]),
            try RecordEncoder.syscall(h, type: EventType(name: "sendto")!, ret: 5, arguments: ["fd": "5", "addr": "1.1.1.1:53"]),
            try RecordEncoder.syscall(h, type: EventType(name: "dup2")!, ret: 1, arguments: ["oldfd": "5", "newfd": "1"]),
            try RecordEncoder.syscall(h, type: EventType(name: "chdir")!, arguments: ["path": "../../a/./b"]),
        ]
        var applied = 0
        for _ in 0..<20_000 {
            var b = base[Int.random(in: 0..<base.count, using: &rng)]
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let i = Int.random(in: 0..<b.count, using: &rng)
                // Keep the size field sane most of the time so corrupted bodies get through decoding.
                if i >= 4 && i < 8 && Bool.random(using: &rng) { continue }
                b[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
            }
            try b.withUnsafeBytes { raw in
                if case .success(let e) = Event.decode(raw) { _ = table.apply(e); applied += 1 }
                _ = try #require(raw.count >= 0)
            }
        }
        #expect(applied > 1000)
        #expect(table.count <= 256)
    }
}

@Suite struct SyntheticWorkloadTests {
    /// The benchmark workload is coherent: every process it uses is known to the table.
    @Test func workloadAppliesCleanly() {
        let w = SyntheticWorkload(count: 20_000, processes: 32)
        #expect(w.records.count >= 20_000)
        let table = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
        var n = 0, withFD = 0
        w.forEachEvent { e in
            let r = table.apply(e)
            n += 1
            if r.fd != nil { withFD += 1 }
        }
        #expect(n == w.records.count)
        #expect(withFD > n / 3)
        #expect(table.stats.unknownProcesses.value == 0)
        #expect(table.stats.execs.value > 32)
        #expect(table.stats.exits.value > 0)
    }
}

@Suite struct PrivilegeTrackingTests {
    @Test func setuidFamilyAndCapsetUpdateTheProcess() {
        var s = Stream()
        s.exec(10, ppid: 1, "/usr/bin/sudo", ["sudo", "id"], uid: 1000)
        #expect(s.table[10]?.euid == 1000)
        s.sys(10, "setresuid", ["ruid": "0", "euid": "0", "suid": "0"])
        #expect(s.table[10]?.euid == 0)
        s.sys(10, "setreuid", ["ruid": "-1", "euid": "33"])
        #expect(s.table[10]?.euid == 33)
        s.sys(10, "setuid", ret: -1, ["uid": "0"])   // EPERM: unchanged
        #expect(s.table[10]?.euid == 33)
        s.sys(10, "setuid", ["uid": "0"])
        #expect(s.table[10]?.euid == 0)
        s.sys(10, "setresgid", ["rgid": "-1", "egid": "27", "sgid": "-1"])
        #expect(s.table[10]?.egid == 27)
        s.sys(10, "capset", ["cap_effective": "CAP_SYS_ADMIN|CAP_NET_RAW", "cap_permitted": "CAP_SYS_ADMIN|CAP_NET_RAW"])
        #expect(s.table[10]?.capEffective == (1 << 21 | 1 << 13))
        #expect(s.table[10]?.capPermitted == (1 << 21 | 1 << 13))
    }
}

@Suite struct InheritTests {
    @Test func childInheritsImageButKeepsIdentity() {
        let parent = ProcessInfo(pid: 10, ppid: 1, name: "bash", exe: "bash", exePath: "/bin/bash", args: ["-l"], cwd: "/root/",
                                 uid: 5, gid: 6, euid: 7, egid: 8, loginUID: 1000, tty: 34816, capEffective: 3, startTimeBootNs: 111,
                                 exeIno: 42, pgid: 10, sid: 9, vpid: 10, cgroupID: 77)
        parent.fds[3] = FDInfo(kind: .file, name: "/x")
        parent.exitCode = 4
        parent.threadCount = 9
        parent.fromProcScan = true
        parent.mayHaveChildren = true
        parent.lastSeenBootNs = 999
        let child = ProcessInfo(pid: 20, ppid: 10, startTimeBootNs: 222)
        child.lastSeenBootNs = 333
        child.inherit(from: parent)
        // What is the child's own stays (the table's bookkeeping too).
        #expect(!child.mayHaveChildren && !child.isRetired && child.lastSeenBootNs == 333 && child.exitTimeBootNs == 0)
        #expect(child.pid == 20 && child.ppid == 10 && child.startTimeBootNs == 222 && child.vpid == 0)
        #expect(child.exitCode == 0 && child.threadCount == 1 && !child.fromProcScan && !child.hasExited)
        #expect(child.exePath == "/bin/bash" && child.args == ["-l"] && child.cwd == "/root/" && child.name == "bash")
        #expect(child.uid == 5 && child.gid == 6 && child.euid == 7 && child.egid == 8 && child.loginUID == 1000)
        #expect(child.tty == 34816 && child.capEffective == 3 && child.exeIno == 42 && child.pgid == 10 && child.sid == 9)
        #expect(child.cgroupID == 77 && child.fds[3]?.name == "/x")
        // Independent afterwards.
        child.fds[3] = nil
        child.args.append("x")
        #expect(parent.fds[3] != nil && parent.args == ["-l"])
    }
}
