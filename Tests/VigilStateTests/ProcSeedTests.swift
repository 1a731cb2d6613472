#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilDecode
@testable import VigilState
import VigilCore

/// Seeding from this machine's real /proc.
@Suite(.serialized) struct ProcSeedTests {
    /// Spawns `sleep 37.5` in `cwd` (through `sh -c 'cd DIR && exec sleep 37.5'`, so
    /// the sleep's parent is this process) and returns its pid (killed by the caller).
    func spawnSleep(cwd: String) throws -> pid_t {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sh"), strdup("-c"), strdup("cd \(cwd) && exec sleep 37.5"), nil]
        defer { for a in argv { free(a) } }
        let rc = posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ)
        try #require(rc == 0, "posix_spawn failed: \(rc)")
        return pid
    }

    @Test func seedsAProcessStartedBeforeTheTable() throws {
        let pid = try spawnSleep(cwd: "/tmp")
        defer { kill(pid, SIGKILL); var st: Int32 = 0; waitpid(pid, &st, 0) }
        // Wait until the child has exec'd (its exe link points at sleep).
        var tries = 0
        while SysFiles.readLink("/proc/\(pid)/exe")?.hasSuffix("sleep") != true && tries < 200 { usleep(5000); tries += 1 }

        let table = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
        let n = table.seedFromProc()
        #expect(n > 2)
        let p = try #require(table[UInt32(pid)])
        #expect(p.fromProcScan)
        #expect(p.name == "sleep")
        #expect(p.exe == "sleep")
        #expect(p.args == ["37.5"])
        #expect(p.exePath.hasSuffix("/sleep"))
        #expect(p.cwd == "/tmp/")
        #expect(p.ppid == UInt32(getpid()))
        #expect(p.uid == getuid() && p.euid == geteuid() && p.gid == getgid())
        #expect(p.startTimeBootNs > 0)
        #expect(p.exeIno != 0)
        // Its parent (this test process) is in the table too, so ancestry works.
        let me = try #require(table.parent(of: p))
        #expect(me.pid == UInt32(getpid()))
        #expect(table.ancestors(of: p).count >= 1)
        // stdin/stdout/stderr are inherited fds.
        #expect(!p.fds.isEmpty)
        #expect(table.stats.seeded.value == UInt64(n))
    }

    @Test func cgroupIDMatchesTheV2Directory() throws {
        let cg = CgroupFS()
        guard let mount = cg.mountPoint else {
            print("skipped: no cgroup2 mount in /proc/self/mountinfo")
            return
        }
        let text = try #require(SysFiles.readText("/proc/self/cgroup"))
        let path = try #require(CgroupFS.v2Path(inProcCgroup: text))
        let id = try #require(cg.cgroupID(path: path))
        #expect(id != 0)
        let me = try #require(ProcScanner().readProcess(pid: UInt32(getpid())))
        #expect(me.cgroupPath == path)
        #expect(me.cgroupID == id)
        #expect(SysFiles.statFile(mount) != nil)
    }

    @Test func mountinfoParsing() {
        let text = """
        22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
        30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
        31 25 0:27 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu
        """
        #expect(CgroupFS.cgroup2MountPoint(in: text) == "/sys/fs/cgroup/unified")
        #expect(CgroupFS.cgroup2MountPoint(in: "40 1 0:30 / /my\\040cg rw - cgroup2 none rw") == "/my cg")
        #expect(CgroupFS.cgroup2MountPoint(in: "22 1 8:1 / / rw - ext4 /dev/sda1 rw") == nil)
        #expect(CgroupFS.v2Path(inProcCgroup: "12:cpu:/x\n0::/user.slice/a.scope\n") == "/user.slice/a.scope")
    }

    @Test func unknownProcessIsFilledFromProc() throws {
        let pid = try spawnSleep(cwd: "/")
        defer { kill(pid, SIGKILL); var st: Int32 = 0; waitpid(pid, &st, 0) }
        var tries = 0
        while SysFiles.readLink("/proc/\(pid)/exe")?.hasSuffix("sleep") != true && tries < 200 { usleep(5000); tries += 1 }
        let table = ProcessTable()  // resolves unknown pids from /proc
        let rec = RecordEncoder.syscall(.init(pid: UInt32(pid), ppid: UInt32(getpid()), comm: "sleep"),
                                        type: EventType(name: "close")!, ret: 0, args: [3])
        let r = try OwnedRecord(bytes: rec).withEvent { table.apply($0) }.get()
        #expect(r.process?.exePath.hasSuffix("/sleep") == true)
        #expect(r.process?.args == ["37.5"])
        #expect(table.stats.unknownProcesses.value == 1)
    }

    @Test func procNetParsing() {
        var table: [UInt64: FDInfo] = [:]
        let tcp = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0
           1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0 20 4 30 10 -1
           2: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0 20 4 30 10 -1
        """
        ProcScanner.parseInetSockets(tcp, v6: false, l4proto: 6, into: &table)
        #expect(table[1111]?.name == "0.0.0.0:8080" && table[1111]?.isServerSide == true)
        #expect(table[2222]?.name == "127.0.0.1:54321->127.0.0.1:8080" && table[2222]?.isServerSide == true)
        #expect(table[3333]?.name == "127.0.0.1:54321->127.0.0.1:8080" && table[3333]?.isServerSide == false)
        let tcp6 = """
          sl  local_address                         remote_address                        st
           0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1
        """
        ProcScanner.parseInetSockets(tcp6, v6: true, l4proto: 6, into: &table)
        #expect(table[4444]?.name == "::1:22")
        let unix = """
        Num       RefCount Protocol Flags    Type St Inode Path
        0000000000000000: 00000002 00000000 00010000 0001 01 5555 /run/systemd/notify
        """
        ProcScanner.parseUnixSockets(unix, into: &table)
        #expect(table[5555]?.kind == .unix && table[5555]?.name == "/run/systemd/notify")
    }
}

@Suite struct ProcSocketSeedTests {
    /// A listening socket and a file opened before the scan show up in this process's fd table.
    @Test func seedsOwnSocketsAndFiles() throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(s >= 0)
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        addr.sin_port = 0
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(rc == 0)
        try #require(listen(s, 4) == 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        let f = open("/etc/hostname", O_RDONLY)
        defer { if f >= 0 { close(f) } }

        let me = try #require(ProcScanner().readProcess(pid: UInt32(getpid())))
        let sock = try #require(me.fds[s])
        #expect(sock.kind == .ipv4)
        #expect(sock.l4proto == 6)
        #expect(sock.isServerSide)
        #expect(sock.serverPort == port)
        #expect(sock.name == "127.0.0.1:\(port)")
        let cx = open("/etc/hostname", O_RDONLY | O_CLOEXEC)
        defer { if cx >= 0 { close(cx) } }
        let me2 = try #require(ProcScanner().readProcess(pid: UInt32(getpid())))
        if cx >= 0 { #expect(me2.fds[cx]?.isCloseOnExec == true) }
        if f >= 0 { #expect(me2.fds[f]?.isCloseOnExec == false) }
        if f >= 0 {
            #expect(me.fds[f]?.kind == .file)
            #expect(me.fds[f]?.name == SysFiles.readLink("/proc/self/fd/\(f)"))
        }
        // Without socket resolution the socket is present but undescribed.
        let quick = try #require(ProcScanner(resolveSockets: false).readProcess(pid: UInt32(getpid())))
        #expect(quick.fds[s]?.kind == .unknown)
    }
}

@Suite struct StaleEntryTests {
    /// A process whose exit was lost is removed once /proc shows it gone; live ones stay.
    @Test func missedExitsAreRemovedAgainstProc() throws {
        let base = "/tmp/vigil-stale-\(getpid())"
        defer { _ = system("rm -rf '\(base)'") }
        mkdir(base, 0o755)
        for pid in ["100", "101"] { mkdir(base + "/" + pid, 0o755) }
        func writeStat(_ pid: String, start: UInt64) {
            let f = fopen(base + "/" + pid + "/stat", "w")!
            fputs("\(pid) (x y) S 1 \(pid) \(pid) 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 \(start) 0 0\n", f)
            fclose(f)
        }
        let tick = 1_000_000_000 / SysFiles.clockTicks
        writeStat("100", start: 500)
        writeStat("101", start: 900)  // pid 101 was reused by a process started later
        let t = ProcessTable(configuration: .init(resolveUnknownFromProc: false, procRoot: base, staleAfterNs: 1_000_000_000))
        for (pid, start) in [(UInt32(100), UInt64(500)), (101, 700), (102, 800)] {
            let p = ProcessInfo(pid: pid, ppid: 1, startTimeBootNs: start * tick)
            p.lastSeenBootNs = 1
            t.insert(p)
        }
        let fresh = ProcessInfo(pid: 103, ppid: 1)
        fresh.lastSeenBootNs = 10_000_000_000
        t.insert(fresh)
        #expect(t.removeStale(now: 10_500_000_000) == 2)
        #expect(t[100] != nil)   // still running, same start time
        #expect(t[100]?.lastSeenBootNs == 10_500_000_000)  // not checked again before another quiet period
        #expect(t.removeStale(now: 10_600_000_000) == 0)
        #expect(t[101] == nil)   // reused pid
        #expect(t[102] == nil)   // gone
        #expect(t[103] != nil)   // recently seen: not checked
        #expect(t.stats.stale.value == 2)
    }
}
