import Testing
import VigilABI
import VigilDecode
@testable import VigilState
import VigilCore

extension Stream {
    /// An exec whose record carries the environment `env` (as when a rule reads `proc.env`).
    @discardableResult
    mutating func exec(_ pid: UInt32, ppid: UInt32, _ path: String, _ argv: [String], env: [String]) -> ProcessTable.ApplyResult {
        var x = RecordEncoder.Exec(exePath: path, argv: argv, cwd: "/work", startTimeBootNs: ts)
        x.env = env
        let comm = String(String(path.split(separator: "/").last ?? "").prefix(15))
        return feed(RecordEncoder.exec(h(pid, ppid: ppid, comm: comm), x))
    }

    /// A successful `openat` of `path` returning `fd`.
    @discardableResult
    mutating func open(_ pid: UInt32, _ path: String, fd: Int64) -> ProcessTable.ApplyResult {
        sys(pid, "openat", ret: fd, ["name": path, "dirfd": "AT_FDCWD", "flags": "O_RDONLY"])
    }
}

/// What an exited process keeps: everything while its exit event is evaluated, then what its
/// children, its session and late events can still ask of it, for the grace period and within
/// the budget of exited entries.
@Suite struct ExitedProcessTests {
    static let env = (0..<40).map { "VARIABLE_\($0)=" + String(repeating: "v", count: 40) }

    @Test func exitEventSeesTheWholeProcessThenItIsTrimmed() throws {
        var s = Stream()
        s.exec(100, ppid: 1, "/usr/bin/python3", ["python3", "job.py"], env: Self.env)
        s.open(100, "/etc/hosts", fd: 3)
        s.open(100, "/var/log/job.log", fd: 4)
        let before = try #require(s.table[100]).estimatedBytes
        let r = s.exit(100, code: 2)
        // The exit event is evaluated with everything the process had.
        let p = try #require(r.process)
        #expect(p.hasExited && !p.isRetired)
        #expect(p.fds[3]?.name == "/etc/hosts" && p.fds[4]?.name == "/var/log/job.log")
        #expect(p.envValue("VARIABLE_7") == String(repeating: "v", count: 40))
        #expect(s.table.exitedCount == 1 && s.table.exitedBytes == 0)
        // The next event trims it: no fds, no environment (it never had children), the rest stays.
        s.sys(1, "close", ["fd": "9"])
        let q = try #require(s.table[100])
        #expect(q === p && q.isRetired && q.hasExited && q.exitCode == 2)
        #expect(q.fds.isEmpty)
        #expect(!q.envCaptured && q.envBlock.isEmpty)
        #expect(q.name == "python3" && q.exePath == "/usr/bin/python3" && q.args == ["job.py"] && q.cwd == "/work/")
        #expect(s.table.exitedCount == 1)
        #expect(s.table.exitedBytes == q.estimatedBytes)
        #expect(s.table.exitedBytes > 0 && s.table.exitedBytes * 3 < before, "trimmed \(s.table.exitedBytes) of \(before) bytes")
        #expect(s.table.stats.exitedEntries.value == 1 && s.table.stats.exitedBytes.value == Int64(s.table.exitedBytes))
        // A tick trims too (a quiet ring after the last exit).
        s.exec(101, ppid: 1, "/bin/sleep", ["sleep"], env: Self.env)
        s.exit(101)
        s.table.expire(now: s.ts)
        #expect(s.table[101]?.isRetired == true && s.table[101]?.envBlock.isEmpty == true)
        #expect(s.table.exitedCount == 2 && s.table.exitedBytes == s.table[100]!.estimatedBytes + s.table[101]!.estimatedBytes)
    }

    @Test func lateEventsAfterExitStillResolve() throws {
        var s = Stream()
        s.exec(200, ppid: 1, "/usr/sbin/nginx", ["nginx", "-g", "daemon off;"], env: Self.env)
        s.open(200, "/etc/nginx/nginx.conf", fd: 5)
        s.exit(200)
        // Events of the exited group arriving late (within the grace period) still find it.
        let late = s.open(200, "/etc/hosts", fd: 6)
        #expect(late.process?.pid == 200 && late.process?.exePath == "/usr/sbin/nginx")
        #expect(late.process?.args == ["-g", "daemon off;"])
        #expect(late.fd?.name == "/etc/hosts")
        let close = s.sys(200, "close", ["fd": "6"])
        #expect(close.process?.name == "nginx" && close.fd?.name == "/etc/hosts")
        #expect(s.table.stats.unknownProcesses.value == 0)
    }

    @Test func childrenResolveTheirExitedParentAndGrandparent() throws {
        var s = Stream()
        s.exec(300, ppid: 1, "/usr/sbin/sshd", ["sshd", "-D"], env: ["SSHD=1"])
        s.fork(300, child: 301)
        s.exec(301, ppid: 300, "/bin/bash", ["bash", "-c", "deploy.sh"], env: Self.env + ["LD_PRELOAD=/tmp/evil.so"])
        s.fork(301, child: 302)
        s.exec(302, ppid: 301, "/usr/bin/curl", ["curl", "http://x"], env: ["PATH=/bin"])
        // The parent and the grandparent exit before the child's next events.
        s.exit(301)
        s.exit(300)
        s.ts += 1_000_000_000  // within the 5 s grace period
        let r = s.open(302, "/etc/shadow", fd: 3)
        let child = try #require(r.process)
        let parent = try #require(s.table.ancestor(of: child, level: 1))
        #expect(parent.pid == 301 && parent.hasExited && parent.isRetired)
        #expect(parent.name == "bash" && parent.exePath == "/bin/bash" && parent.cmdline == "bash -c deploy.sh")
        // It had a child: its environment stays for proc.aenv; its fds go.
        #expect(parent.envValue("LD_PRELOAD") == "/tmp/evil.so")
        #expect(parent.fds.isEmpty)
        let grandparent = try #require(s.table.ancestor(of: child, level: 2))
        #expect(grandparent.pid == 300 && grandparent.name == "sshd" && grandparent.args == ["-D"])
        #expect(grandparent.envValue("SSHD") == "1")
        #expect(s.table.ancestors(of: child).map(\.pid) == [301, 300])
    }

    @Test func orphanAdoptedByASubreaperResolvesIt() throws {
        var s = Stream()
        s.exec(400, ppid: 1, "/usr/bin/tini", ["tini", "--"])  // a subreaper
        s.fork(400, child: 401)
        s.exec(401, ppid: 400, "/bin/sh", ["sh", "-c", "daemon &"])
        s.fork(401, child: 402)
        s.exec(402, ppid: 401, "/usr/bin/daemon", ["daemon"], env: ["A=1"])
        s.exit(401)
        // Before the kernel reparents it, the orphan's events still name the exited shell.
        let early = s.open(402, "/etc/passwd", fd: 3)
        #expect(s.table.parent(of: try #require(early.process))?.name == "sh")
        // Then its events carry the subreaper as parent (the header's real parent).
        let later = s.feed(try RecordEncoder.syscall(s.h(402, ppid: 400), type: EventType(name: "close")!, ret: 0, arguments: ["fd": "3"]))
        let orphan = try #require(later.process)
        #expect(s.table.parent(of: orphan)?.name == "tini")
        #expect(s.table.ancestor(of: orphan, level: 2) == nil)  // pid 1 is not in this table
    }

    @Test func onlyAProcessThatMayHaveChildrenKeepsItsEnvironment() throws {
        var s = Stream()
        s.exec(500, ppid: 1, "/bin/bash", ["bash"], env: Self.env)
        s.fork(500, child: 501)
        s.exec(501, ppid: 500, "/bin/true", ["true"], env: Self.env + ["X=1"])
        s.exit(501)
        s.exit(500)
        s.sys(1, "close", ["fd": "9"])
        #expect(s.table[500]?.mayHaveChildren == true && s.table[500]?.envCaptured == true)
        #expect(s.table[501]?.mayHaveChildren == false && s.table[501]?.envCaptured == false)
        // A process whose child the table met only through the child's own events (its fork
        // was lost) counts as a parent too.
        s.exec(600, ppid: 1, "/bin/sh", ["sh"], env: Self.env)
        s.exec(601, ppid: 600, "/bin/ls", ["ls"])  // no fork record seen
        s.exit(600)
        s.sys(1, "close", ["fd": "9"])
        #expect(s.table[600]?.envCaptured == true)
        // Threads are not children.
        s.exec(700, ppid: 1, "/usr/bin/app", ["app"], env: Self.env)
        s.fork(700, child: 701, thread: true)
        s.exit(700)
        s.sys(1, "close", ["fd": "9"])
        #expect(s.table[700]?.envCaptured == false)
    }

    @Test func theBudgetEvictsTheOldestExitFirstAndCountsIt() throws {
        var s = Stream(.init(resolveUnknownFromProc: false, maxExited: 3))
        for pid in UInt32(1000)..<1010 { s.exec(pid, ppid: 1, "/bin/x", ["x"]) }
        for pid in UInt32(1000)..<1005 { s.exit(pid) }
        s.sys(1, "close", ["fd": "9"])
        #expect(s.table.exitedCount == 3)
        #expect(s.table.stats.exitedEvictions.value == 2)
        #expect(s.table[1000] == nil && s.table[1001] == nil)
        for pid in UInt32(1002)..<1005 { #expect(s.table[pid]?.hasExited == true) }
        // Live processes are never taken for the budget.
        for pid in UInt32(1005)..<1010 { #expect(s.table[pid]?.hasExited == false) }
        #expect(s.table.stats.evictions.value == 0 && s.table.stats.expired.value == 0)
        #expect(s.table.exitedBytes == (1002..<1005).reduce(0) { $0 + s.table[UInt32($1)]!.estimatedBytes })
    }

    @Test func zeroGraceRemovesAnExitedProcessOnceItsExitWasEvaluated() throws {
        var s = Stream(.init(exitGracePeriodNs: 0, resolveUnknownFromProc: false))
        s.exec(800, ppid: 1, "/bin/x", ["x"], env: Self.env)
        let r = s.exit(800)
        #expect(r.process?.envValue("VARIABLE_1") != nil)
        #expect(s.table[800] != nil)  // while its exit event is evaluated
        s.sys(1, "close", ["fd": "9"])
        #expect(s.table[800] == nil)
        #expect(s.table.stats.expired.value == 1 && s.table.exitedCount == 0 && s.table.exitedBytes == 0)
    }

    @Test func expiryAndPidReuseKeepTheAccountsRight() throws {
        var s = Stream(.init(exitGracePeriodNs: 1_000_000, resolveUnknownFromProc: false))
        s.exec(900, ppid: 1, "/bin/a", ["a"], env: Self.env)
        s.exec(901, ppid: 1, "/bin/b", ["b"], env: Self.env)
        s.exit(900)
        s.exit(901)
        s.exit(901)  // a second last-thread exit (two threads saw the count at zero)
        s.sys(1, "close", ["fd": "9"])
        #expect(s.table.exitedCount == 2)
        // pid 901 reused before its grace ran out: the old entry leaves the accounts.
        s.fork(1, child: 901)
        s.exec(901, ppid: 1, "/bin/new", ["new"])
        #expect(s.table.exitedCount == 1 && s.table.exitedBytes == s.table[900]!.estimatedBytes)
        s.ts += 2_000_000
        s.sys(1, "close", ["fd": "9"])
        #expect(s.table[900] == nil && s.table[901]?.exePath == "/bin/new")
        #expect(s.table.exitedCount == 0 && s.table.exitedBytes == 0)
        #expect(s.table.stats.exitedEntries.value == 0 && s.table.stats.exitedBytes.value == 0)
        // An exited process inserted as such (not through an exit event) is not in the accounts.
        let ghost = ProcessInfo(pid: 950, ppid: 1)
        ghost.exitTimeBootNs = 5
        s.table.insert(ghost)
        s.table.remove(pid: 950)
        #expect(s.table.exitedCount == 0 && s.table.exitedBytes == 0)
    }

    @Test func anExecPassingOnItsInheritedEnvironmentSharesIt() throws {
        var s = Stream()
        s.exec(1100, ppid: 1, "/usr/bin/make", ["make"], env: Self.env)
        s.fork(1100, child: 1101)
        s.exec(1101, ppid: 1100, "/bin/true", ["true"], env: Self.env)
        s.fork(1100, child: 1102)
        s.exec(1102, ppid: 1100, "/bin/true", ["true"], env: Self.env + ["CHANGED=1"])
        var parentEnv = try #require(s.table[1100]).envBlock
        var same = try #require(s.table[1101]).envBlock
        var changed = try #require(s.table[1102]).envBlock
        let base = parentEnv.withUTF8 { $0.baseAddress }
        #expect(same.withUTF8 { $0.baseAddress } == base, "the same environment is one shared string")
        #expect(changed.withUTF8 { $0.baseAddress } != base)
        #expect(s.table[1102]?.envValue("CHANGED") == "1" && s.table[1101]?.envValue("CHANGED") == nil)
        #expect(same == parentEnv)
    }

    /// A sustained exec storm (fork, exec with the inherited environment, a few opens, exit):
    /// each exited process is kept in well under 1 KiB.
    @Test func anExecStormKeepsLittleOfItsExitedProcesses() throws {
        var s = Stream()
        s.exec(2, ppid: 1, "/usr/bin/storm", ["storm"], env: Self.env)
        var held = 0
        for pid in UInt32(10_000)..<12_000 {
            s.fork(2, child: pid)
            s.exec(pid, ppid: 2, "/bin/true", ["/bin/true", "vigil-exec-storm-bench"], env: Self.env + ["X=\(pid)"])
            s.open(pid, "/etc/ld.so.cache", fd: 3)
            s.open(pid, "/usr/lib/x86_64-linux-gnu/libc.so.6", fd: 4)
            held += s.table[pid]!.estimatedBytes
            s.exit(pid)
        }
        s.sys(2, "close", ["fd": "9"])
        #expect(s.table.exitedCount == 2000)
        #expect(s.table.exitedBytes < 2000 * 1024, "exited entries hold \(s.table.exitedBytes) bytes")
        #expect(s.table.exitedBytes * 4 < held, "exited entries hold \(s.table.exitedBytes) of \(held) bytes")
        for pid in UInt32(10_000)..<12_000 {
            let p = s.table[pid]!
            #expect(p.fds.isEmpty && !p.envCaptured && p.envBlock.isEmpty && p.cmdline == "true vigil-exec-storm-bench")
        }
    }
}
