#if canImport(Glibc)
import Glibc
#endif
import CLibBPF
import Foundation
import Synchronization
import Testing
import VigilABI
import VigilCapture
import VigilCore
import VigilDecode
import VigilState

/// Whether the kernel tests run: as root, or forced with VIGIL_CI=1 (then they
/// must pass, and fail when BPF cannot be loaded).
let kernelTestsEnabled: Bool = geteuid() == 0 || getenv("VIGIL_CI").map { String(cString: $0) == "1" } == true

/// Keeps copies of the records of this test process and its children.
final class KernelRecorder: RecordConsumer, @unchecked Sendable {
    let me = UInt32(getpid())
    let records = Mutex<[OwnedRecord]>([])

    /// Descendants of this process seen in fork records (reader thread only).
    var family: Set<UInt32> = []

    func consume(_ event: Event) {
        let record = event.bytes
        let pid = record.loadUnaligned(fromByteOffset: 20, as: UInt32.self)
        let ppid = record.loadUnaligned(fromByteOffset: 28, as: UInt32.self)
        let mine = pid == me || family.contains(pid)
        guard mine || ppid == me || family.contains(ppid) else { return }
        if mine && record.loadUnaligned(fromByteOffset: 0, as: UInt16.self) == UInt16(VIGIL_REC_FORK.rawValue) {
            family.insert(record.loadUnaligned(fromByteOffset: 64, as: UInt32.self))
        }
        let copy = OwnedRecord(copying: record)
        records.withLock { $0.append(copy) }
    }

    /// Waits up to `timeout` seconds for a record matching `match`. The records are matched
    /// outside the lock, each once (only those added since the last look are copied out), so
    /// the reader thread's appends never wait for a scan: a reader held up by a long scan let
    /// the ring fill and lose the very record a test waited for.
    func wait(timeout: Double = 5, _ match: (Event) -> Bool) -> OwnedRecord? {
        let deadline = Timestamp.bootNanoseconds() + UInt64(timeout * 1e9)
        var scanned = 0
        while true {
            let fresh = records.withLock { list in list.count > scanned ? Array(list[scanned...]) : [] }
            scanned += fresh.count
            if let found = fresh.first(where: { r in (try? r.withEvent { match($0) }.get()) == true }) { return found }
            if Timestamp.bootNanoseconds() >= deadline { return nil }
            usleep(5_000)
        }
    }
}

/// One capture shared by every kernel test (loading takes a while; tests are serialized).
final class SharedCapture: @unchecked Sendable {
    let capture: BPFCapture
    let recorder = KernelRecorder()

    private init() throws {
        var o = BPFCaptureOptions()
        o.ignoreSelf = false  // the tests generate the events themselves
        o.maxArgsBytes = 4096
        capture = try BPFCapture(options: o)
        try capture.start(recorder)
    }

    static let shared: Result<SharedCapture, any Error> = Result { try SharedCapture() }

    static func get() throws -> SharedCapture { try shared.get() }
}

/// This thread's id (from /proc/thread-self -> "PID/task/TID").
func gettid32() -> UInt32 {
    var buf = [CChar](repeating: 0, count: 128)
    let n = readlink("/proc/thread-self", &buf, 127)
    guard n > 0 else { return 0 }
    let s = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return UInt32(s.split(separator: "/").last ?? "") ?? 0
}

/// Spawns `argv` (raw bytes per argument, so invalid UTF-8 can be passed) and returns its pid.
func spawn(_ argv: [[UInt8]], env: [String] = []) -> pid_t {
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { a in
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: a.count + 1)
        for (i, b) in a.enumerated() { p[i] = CChar(bitPattern: b) }
        p[a.count] = 0
        return p
    }
    cargs.append(nil)
    var cenv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) }
    cenv.append(nil)
    defer { for p in cargs { p?.deallocate() }; for p in cenv { free(p) } }
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let rc = posix_spawn(&pid, cargs[0]!, &actions, nil, &cargs, &cenv)
    return rc == 0 ? pid : -1
}

func waitExit(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xff
}

func argvList(_ e: Event) -> [[UInt8]] {
    var parts = Array(e.argvRaw).split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
    if parts.last == [] { parts.removeLast() }
    return parts
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite(.serialized) struct KernelCaptureTests {
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func execGivesExeArgvParentAndUser() throws {
        let s = try SharedCapture.get()
        let pid = spawn([bytes("/bin/sh"), bytes("-c"), bytes("exec /usr/bin/env A=1 /bin/echo x \"y z\"")])
        #expect(pid > 0)
        #expect(waitExit(pid) == 0)
        let env = s.recorder.wait { $0.isExec && $0.pid == UInt32(pid) && $0.exePath.vigilString == "/usr/bin/env" }
        let r = try #require(env, "no exec record for /usr/bin/env (pid \(pid))")
        try r.withEvent { e in
            #expect(argvList(e) == [bytes("/usr/bin/env"), bytes("A=1"), bytes("/bin/echo"), bytes("x"), bytes("y z")])
            #expect(e.ppid == UInt32(getpid()))
            #expect(e.uid == getuid())
            #expect(e.gid == getgid())
            #expect(e.type == EventType(name: "execve"))
            var cwd = [CChar](repeating: 0, count: 4096)
            getcwd(&cwd, cwd.count)
            #expect(e.cwd.vigilString == cStringText(cwd))
            #expect(e.execInfo.exe_ino != 0)
        }.get()
        // The shell exec'd /usr/bin/env which exec'd /bin/echo: same pid, exe resolved through the /bin symlink.
        var resolved = [CChar](repeating: 0, count: 4096)
        realpath("/bin/echo", &resolved)
        let echo = s.recorder.wait { $0.isExec && $0.pid == UInt32(pid) && $0.comm.vigilString == "echo" }
        let er = try #require(echo)
        try er.withEvent { e in
            #expect(e.exePath.vigilString == cStringText(resolved))
            #expect(argvList(e) == [bytes("/bin/echo"), bytes("x"), bytes("y z")])
            #expect(e.ppid == UInt32(getpid()))
        }.get()
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func openCreateGivesPathFlagsAndFD() throws {
        let s = try SharedCapture.get()
        let path = "/tmp/vigil-open-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let tid = gettid32()
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        #expect(fd >= 0)
        defer { close(fd); unlink(path) }
        let r = try #require(s.recorder.wait { $0.isSyscall && $0.str0.vigilString == path }, "no open record for \(path)")
        try r.withEvent { e in
            #expect(e.type == EventType(name: "openat"))
            #expect(e.ret == Int64(fd))
            #expect(e.tid == tid)
            #expect(e.pid == UInt32(getpid()))
            #expect(Int32(truncatingIfNeeded: e.arg(0)) == -100)          // AT_FDCWD
            #expect(e.arg(2) & 0o3777777 == UInt64(O_CREAT | O_WRONLY))   // flags as passed
            #expect(e.arg(3) == 0o600)                                    // mode
        }.get()
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func connectGivesAddressAndPort() throws {
        let s = try SharedCapture.get()
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(server) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, len) } }
        listen(server, 4)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(server, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        let tid = gettid32()
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, len) } }
        #expect(rc == 0)
        let accepted = accept(server, nil, nil)
        defer { close(accepted) }

        let r = try #require(s.recorder.wait { e in
            e.type == EventType(name: "connect") && e.tid == tid && e.tuple.dport == port
        }, "no connect record to port \(port)")
        try r.withEvent { e in
            #expect(e.ret == 0)
            #expect(Int32(truncatingIfNeeded: e.arg(0)) == client)
            let t = SocketTuple(e.tuple)
            #expect(t.family == UInt16(AF_INET))
            #expect(t.l4proto == 6)
            #expect(t.remoteIP.description == "127.0.0.1")
            #expect(t.remotePort == port)
            #expect(t.localIP.description == "127.0.0.1")
            #expect(t.localPort != 0)
            // The raw sockaddr passed by the caller.
            let sa = try #require(SocketAddress(raw: e.str0Raw))
            #expect(sa.ip.description == "127.0.0.1")
            #expect(sa.port == port)
        }.get()
        let a = try #require(s.recorder.wait { e in
            (e.type == EventType(name: "accept") || e.type == EventType(name: "accept4")) && e.tid == tid
                && e.ret == Int64(accepted)
        }, "no accept record")
        try a.withEvent { e in
            let t = SocketTuple(e.tuple)
            #expect(t.localPort == port)         // server side: local end is the listener's port
            #expect(t.remoteIP.description == "127.0.0.1")
        }.get()
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func forkAndExitGiveChildPidAndExitCode() throws {
        let s = try SharedCapture.get()
        let pid = spawn([bytes("/bin/sh"), bytes("-c"), bytes("exit 7")])
        #expect(pid > 0)
        #expect(waitExit(pid) == 7)
        let f = try #require(s.recorder.wait { $0.recordKind == UInt16(VIGIL_REC_FORK.rawValue) && $0.forkInfo.child_pid == UInt32(pid) },
                             "no fork record for child \(pid)")
        try f.withEvent { e in
            #expect(e.pid == UInt32(getpid()))
            #expect(e.forkInfo.child_tid == UInt32(pid))
            #expect(e.forkInfo.flags & UInt32(VIGIL_FORK_THREAD) == 0)
        }.get()
        let x = try #require(s.recorder.wait { $0.type == .procexit && $0.pid == UInt32(pid) }, "no exit record for \(pid)")
        try x.withEvent { e in
            #expect(e.exitInfo.exit_code == 7)
            #expect(e.exitInfo.signal == 0)
            #expect(e.exitInfo.flags & UInt32(VIGIL_EXIT_GROUP_DEAD) != 0)
        }.get()
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func hostileArgvArrivesIntactAndTracePrintsValidJSON() throws {
        let s = try SharedCapture.get()
        let marker = bytes("vigil-argv-\(UInt32.random(in: 0...UInt32.max))")
        let hostile: [[UInt8]] = [bytes("/bin/echo"), marker, bytes("line1\nline2"), bytes("q\"u'o\\te"),
                                  [0xFF, 0xFE, 0x41, 0xC3], bytes("\u{1b}[31mred"), bytes("")]
        let pid = spawn(hostile)
        #expect(waitExit(pid) == 0)
        let r = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(pid) }, "no exec record for \(pid)")
        try r.withEvent { e in #expect(argvList(e) == hostile) }.get()

        // Render it as `vigil trace` does; must be one valid JSON line with the same argv.
        let json: [UInt8] = try r.withEvent { e in
            var renderer = EventJSONRenderer(bootToWallOffsetNs: 0)
            return renderer.render(e) { Array($0) }
        }.get()
        #expect(!json.contains(0x0A))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        let argv = try #require(obj["proc.argv"] as? [String])
        #expect(argv.count == hostile.count)
        #expect(argv[2] == "line1\nline2")
        #expect(argv[3] == "q\"u'o\\te")
        #expect(argv[4] == "\u{FFFD}\u{FFFD}A\u{FFFD}")

        // And through the real binary: `vigil trace --read` of a capture file holding the record.
        let vigil = try #require(findVigilBinary(), "vigil binary not found next to the test bundle")
        let path = tempPath("hostile")
        defer { unlink(path) }
        do {
            let w = try CaptureFileWriter(path: path)
            r.bytes.withUnsafeBytes { w.write($0) }
            w.finish()
        }
        let out = try runProcess(vigil, ["trace", "--read", path])
        #expect(out.status == 0)
        let lines = out.stdout.split(separator: 0x0A)
        #expect(lines.count == 1)
        for line in lines {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            #expect((o["proc.argv"] as? [String])?[2] == "line1\nline2")
            #expect(o["evt.type"] as? String == "execve")
        }
        let statsLine = try #require(out.stderr.split(separator: 0x0A).last)
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(statsLine)) as? [String: Any])
        let inner = try #require(stats["stats"] as? [String: Any])
        #expect((inner["events_received"] as? [String: Any])?["execve"] as? Int == 1)
        #expect(inner["decode_errors"] as? Int == 0)
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func interestChangesTakeEffectAtRuntime() throws {
        let s = try SharedCapture.get()
        let all = s.capture.interest
        defer { try? s.capture.setInterest(all) }
        // The shared capture sees the whole machine and its ring can overflow under another
        // program's storm: the checks below mean something only for a try in which the kernel lost
        // no event, so a try with losses is done again (at most 5 tries in all).
        var tries = 0
        while true {
            tries += 1
            let dropsBefore = s.capture.stats().kernelDrops
            try s.capture.setInterest([.procexit])
            let p1 = "/tmp/vigil-interest-off-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            close(open(p1, O_CREAT | O_WRONLY, 0o600)); unlink(p1)
            try s.capture.setInterest(all)
            let p2 = "/tmp/vigil-interest-on-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            close(open(p2, O_CREAT | O_WRONLY, 0o600)); unlink(p2)
            let sawOn = s.recorder.wait { $0.isSyscall && $0.str0.vigilString == p2 } != nil
            let sawOff = s.recorder.wait(timeout: 0.2) { $0.isSyscall && $0.str0.vigilString == p1 } != nil
            let lost = s.capture.stats().kernelDrops - dropsBefore
            if lost > 0 && tries < 5 { continue }
            #expect(lost == 0, "the kernel lost events during each of \(tries) tries (\(lost) in the last)")
            #expect(sawOn)
            #expect(!sawOff)
            break
        }
        let st = s.capture.stats()
        #expect(st.kernel.submitted > 0)
        #expect(st.decodeErrors == 0)
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func processStartedBeforeTheAgentHasItsAncestryFromProc() throws {
        let s = try SharedCapture.get()
        let tag = "vigil-ancestry-\(UInt32.random(in: 0...UInt32.max))"
        // The shell starts before the table exists ("before the agent"); its child execs after.
        // The shell stays alive until the table is seeded (a zombie has no exe or args in /proc).
        let gate = tempPath("gate")
        close(open(gate, O_CREAT | O_WRONLY, 0o600))
        defer { unlink(gate) }
        let sh = spawn([bytes("/bin/sh"), bytes("-c"),
                        bytes("sleep 0.3; /bin/echo \(tag); while [ -e \(gate) ]; do sleep 0.05; done; true")])
        // Wait until the child has really exec'd the shell (under load a fixed sleep may not be enough).
        for _ in 0..<500 {
            var buf = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/\(sh)/exe", &buf, 4095)
            if n > 0, String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self).hasSuffix("sh") { break }
            usleep(10_000)
        }
        let table = ProcessTable()
        _ = table.seedFromProc()
        unlink(gate)
        #expect(waitExit(sh) == 0)
        let r = try #require(s.recorder.wait { e in
            e.isExec && e.ppid == UInt32(sh) && argvList(e).last == bytes(tag)
        }, "no exec record for the shell's child")
        let applied = try r.withEvent { table.apply($0) }.get()
        let child = try #require(applied.process)
        let chain = table.ancestors(of: child)
        #expect(chain.count >= 2)
        #expect(chain.first?.pid == UInt32(sh))
        #expect(chain.first?.exePath.hasSuffix("sh") == true || chain.first?.exePath.hasSuffix("dash") == true)
        #expect(chain.first?.args.contains { $0.contains(tag) } == true)
        #expect(chain.dropFirst().first?.pid == UInt32(getpid()))
    }

    @Test(.enabled(if: kernelTestsEnabled && access("/usr/bin/setpriv", X_OK) == 0,
                   "needs root and setpriv to drop privileges"))
    func withoutPrivilegesTraceSaysWhichCapabilitiesAreMissing() throws {
        let vigil = try #require(findVigilBinary(), "vigil binary not found next to the test bundle")
        let out = try runProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                      "--inh-caps=-all", "--bounding-set=-all", vigil, "trace"])
        #expect(out.status == 1)
        let err = String(decoding: out.stderr, as: UTF8.self)
        #expect(err.contains("CAP_BPF"))
        #expect(err.contains("CAP_PERFMON"))
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func overlayUpperLayerAndMemfdExecutablesAreFlagged() throws {
        let s = try SharedCapture.get()
        let binary = try #require(FileManager.default.contents(atPath: "/bin/true"))
        // memfd: python3 writes /bin/true into a memfd and execs it (fileless execution).
        let py = "import os; fd=os.memfd_create('vigiltest', 0); os.write(fd, open('/bin/true','rb').read()); "
            + "os.execv('/proc/self/fd/%d' % fd, ['memtrue'])"
        let mpid = spawn([bytes("/usr/bin/python3"), bytes("-c"), bytes(py)])
        #expect(waitExit(mpid) == 0)
        let m = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(mpid) && $0.comm.vigilString != "python3" },
                             "no exec record for the memfd")
        try m.withEvent { e in
            #expect(e.execInfo.exe_flags & UInt32(VIGIL_EXE_FROM_MEMFD) != 0)
            // as /proc/PID/exe and Falco's proc.exepath show it
            #expect(e.exePath.vigilString == "/memfd:vigiltest (deleted)")
            #expect(e.execInfo.exe_flags & UInt32(VIGIL_EXE_UPPER_LAYER) == 0)
        }.get()
        // fexecve (execveat(fd, "", AT_EMPTY_PATH)) on a memfd reports the same path.
        let fpy = "import os; fd=os.memfd_create('vigilfexec', 0); os.write(fd, open('/bin/true','rb').read()); "
            + "os.execve(fd, ['memtrue2'], {})"
        let fpid = spawn([bytes("/usr/bin/python3"), bytes("-c"), bytes(fpy)])
        #expect(waitExit(fpid) == 0)
        let f = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(fpid) && $0.comm.vigilString != "python3" },
                             "no exec record for the fexecve'd memfd")
        try f.withEvent { e in
            #expect(e.execInfo.exe_flags & UInt32(VIGIL_EXE_FROM_MEMFD) != 0)
            #expect(e.exePath.vigilString == "/memfd:vigilfexec (deleted)")
        }.get()

        // overlay: a binary in the lower layer vs one written through the mount (upper layer).
        let dir = tempPath("ovl")
        for d in ["", "/lower", "/upper", "/work", "/merged"] { mkdir(dir + d, 0o755) }
        defer { umount2(dir + "/merged", 2); _ = try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: dir + "/lower/lowtrue", contents: binary, attributes: [.posixPermissions: 0o755]))
        let opts = "lowerdir=\(dir)/lower,upperdir=\(dir)/upper,workdir=\(dir)/work"
        try #require(mount("overlay", dir + "/merged", "overlay", 0, opts) == 0, "cannot mount overlay: \(errno)")
        #expect(FileManager.default.createFile(atPath: dir + "/merged/uptrue", contents: binary, attributes: [.posixPermissions: 0o755]))
        let up = spawn([bytes(dir + "/merged/uptrue")])
        let low = spawn([bytes(dir + "/merged/lowtrue")])
        #expect(waitExit(up) == 0)
        #expect(waitExit(low) == 0)
        let u = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(up) })
        try u.withEvent { e in
            #expect(e.exePath.vigilString == dir + "/merged/uptrue")
            #expect(e.execInfo.exe_flags & UInt32(VIGIL_EXE_UPPER_LAYER) != 0)
        }.get()
        let l = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(low) })
        try l.withEvent { e in
            #expect(e.exePath.vigilString == dir + "/merged/lowtrue")
            #expect(e.execInfo.exe_flags & UInt32(VIGIL_EXE_UPPER_LAYER) == 0)
        }.get()
    }

    /// Counts what a reader delivers, and on which thread.
    final class ThreadProbe: RecordConsumer, @unchecked Sendable {
        let records = Atomic<Int>(0)
        let idles = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
        let threadName = Mutex<String>("")
        func consume(_ event: Event) { records.add(1, ordering: .relaxed); note() }
        func idle() { idles.add(1, ordering: .relaxed); note() }
        func finish() { finished.store(true, ordering: .releasing) }
        private func note() { if threadName.withLock({ $0.isEmpty }) { let n = NamedThread.currentName(); threadName.withLock { $0 = n } } }
        func waitFor(_ what: () -> Bool) -> Bool {
            let end = Timestamp.monotonicNanoseconds() + 10_000_000_000
            while !what() { if Timestamp.monotonicNanoseconds() > end { return false }; Timestamp.sleep(milliseconds: 2) }
            return true
        }
    }

    /// A started capture released without stop() stops, drains and joins its reader
    /// (the reader holds no reference to the capture, so nothing is read after release).
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func releasingAStartedCaptureWithoutStopIsSafe() throws {
        let probe = ThreadProbe()
        do {
            var o = BPFCaptureOptions()
            o.ignoreSelf = false
            o.interest = [EventType(name: "openat")!]
            let capture = try BPFCapture(options: o)
            try capture.start(probe)
            #expect(probe.waitFor {
                close(open("/etc/hostname", O_RDONLY))
                return probe.records.load(ordering: .relaxed) > 0
            })
            #expect(probe.threadName.withLock { $0 } == "vigil-capture")
        }
        let finished = probe.finished.load(ordering: .acquiring)
        #expect(finished)
    }

    /// run(_:) reads on the caller's thread; a quiet ring calls idle() every poll; stop() from
    /// another thread makes run return after finish().
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func runReadsOnTheCallersThreadAndIdlesOnAQuietRing() throws {
        var o = BPFCaptureOptions()
        o.interest = []
        let capture = try BPFCapture(options: o)
        let probe = ThreadProbe()
        let failure = Mutex<String?>(nil)
        let box = UncheckedCapture(capture)
        let t = try NamedThread.start(name: "vigil-pipeline") {
            do { try box.capture.run(probe) } catch { failure.withLock { $0 = "\(error)" } }
        }
        #expect(probe.waitFor { probe.idles.load(ordering: .relaxed) >= 3 })
        #expect(probe.threadName.withLock { $0 } == "vigil-pipeline")
        capture.stop()
        t.join()
        let finished = probe.finished.load(ordering: .acquiring)
        #expect(finished)
        #expect(failure.withLock { $0 } == nil)
    }

    struct UncheckedCapture: @unchecked Sendable { let capture: BPFCapture; init(_ c: BPFCapture) { capture = c } }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func verifierRejectionNamesAFileWithTheWholeLogAndPrintsTheReason() throws {
        let vigilObject = try BPFCapture.findObject()
        let reject = String(vigilObject[..<vigilObject.lastIndex(of: "/")!]) + "/reject.bpf.o"
        try #require(access(reject, R_OK) == 0, "\(reject) missing: run `make bpf`")
        var o = BPFCaptureOptions()
        o.objectPath = reject
        do {
            _ = try BPFCapture(options: o)
            Issue.record("the verifier accepted a program that reads past its context")
        } catch let CaptureError.loadFailed(_, program, _, log, fullLog) {
            #expect(program == "vigil_reject")
            // The reason (the verifier's last words) is in the printed tail.
            #expect(log.contains("dereference of modified ctx ptr") || log.contains("invalid bpf_context access"))
            let path = try #require(fullLog, "the full log was not saved")
            defer { unlink(path) }
            let text = try String(contentsOfFile: path, encoding: .utf8)
            // The whole log: far past the old 8 KiB cut, from the first instruction to the reason.
            #expect(text.utf8.count > 32 << 10)
            #expect(text.contains("-- BEGIN PROG LOAD LOG --"))
            #expect(text.contains("0: (bf) r6 = r1") || text.contains("0: ("))
            #expect(text.contains("processed "))
            let description = CaptureError.loadFailed(path: reject, program: program, errno: 13, log: log, fullLog: fullLog).description
            #expect(description.contains(path))
        }
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func kernelFeaturesAreProbedFromBTF() throws {
        let f = KernelFeatures.probe()
        #expect(f.btf)
        #expect(!f.release.isEmpty)
        #expect(["sec/nsec", "__i_ctime", "timespec64"].contains(f.inodeTimes))
        #expect(["u64", "u32[2]"].contains(f.capabilities))
        #expect(f.processExitArgs == 1 || f.processExitArgs == 2)
        #expect(["cqe", "res-arg", "none"].contains(f.ioUringComplete))
        // Every program of the loaded object fits this kernel (variants for other kernels are off).
        _ = try SharedCapture.get()
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func opensCarryTheFileTheKernelOpenedThroughEveryPath() throws {
        let s = try SharedCapture.get()
        let obj = try BPFCapture.findObject()
        let progs = String(obj[..<obj.lastIndex(of: "/")!]) + "/../progs"
        for p in ["km_ia32", "km_uring", "open_by_handle"] {
            try #require(access(progs + "/" + p, X_OK) == 0, "\(progs)/\(p) missing: run `make bpf`")
        }
        var st = stat()
        try #require(stat("/etc/shadow", &st) == 0)
        func checkFile(_ e: Event, _ what: String) {
            // (A file handle opens through any name of the inode: hard links other tests make
            // to /etc/shadow are such names; the inode and device below say it is the file.)
            let opened = e.openedPath.vigilString
            #expect(opened == "/etc/shadow" || (what == "open_by_handle_at" && opened.hasPrefix("/")),
                    "\(what): opened path \(opened)")
            #expect(e.fileRef.ino == UInt64(st.st_ino), "\(what): inode")
            #expect(e.fileRef.dev == UInt32(truncatingIfNeeded: st.st_dev), "\(what): device")
            #expect(e.fileRef.nlink >= 1, "\(what): links")
            #expect(e.ret >= 0)
        }

        // ia32: i386 open (5) through int 0x80, i386 argument registers.
        let p1 = spawn([bytes(progs + "/km_ia32"), bytes("/etc/shadow")])
        #expect(waitExit(p1) == 0)
        let r1 = try #require(s.recorder.wait { $0.pid == UInt32(p1) && $0.isCompat && $0.type == EventType(name: "open") },
                              "no compat open record")
        try r1.withEvent { e in
            checkFile(e, "ia32")
            #expect(e.str0.vigilString == "/etc/shadow")
            #expect(e.arg(1) & 3 == UInt64(O_RDONLY))
            #expect(!e.isIoUring)
        }.get()
        // A 64-bit syscall of the same process is not compat.
        let native = try #require(s.recorder.wait { $0.pid == UInt32(p1) && $0.type == .procexit })
        try native.withEvent { #expect(!$0.isCompat) }.get()

        // io_uring: the setup syscall, then the openat reported at completion.
        let p2 = spawn([bytes(progs + "/km_uring"), bytes("/etc/shadow")])
        #expect(waitExit(p2) == 0)
        #expect(s.recorder.wait { $0.pid == UInt32(p2) && $0.type == EventType(name: "io_uring_setup") && $0.ret >= 0 } != nil,
                "no io_uring_setup record")
        let r2 = try #require(s.recorder.wait { $0.pid == UInt32(p2) && $0.isIoUring && $0.type == EventType(name: "openat") },
                              "no io_uring openat record")
        try r2.withEvent { e in
            checkFile(e, "io_uring")
            #expect(e.arg(2) & 3 == UInt64(O_RDONLY))
            #expect(!e.isCompat)
        }.get()

        // open_by_handle_at: no path passed; the kernel's file has one.
        let p3 = spawn([bytes(progs + "/open_by_handle"), bytes("/etc/shadow")])
        #expect(waitExit(p3) == 0)
        let r3 = try #require(s.recorder.wait { $0.pid == UInt32(p3) && $0.type == EventType(name: "open_by_handle_at") },
                              "no open_by_handle_at record")
        try r3.withEvent { e in checkFile(e, "open_by_handle_at"); #expect(e.str0.count == 0) }.get()

        // In this process: /proc/self/root, a symlink, a hard link.
        let dir = "/tmp/vigil-evasion-\(getpid())"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/sym"); rmdir(dir) }
        symlink("/etc/shadow", dir + "/sym")
        let hard = "/etc/.vigil-capture-hardlink-\(getpid())"
        unlink(hard)
        #expect(link("/etc/shadow", hard) == 0)
        defer { unlink(hard) }
        for path in ["/proc/self/root/etc/shadow", dir + "/sym", hard] {
            let fd = open(path, O_RDONLY)
            #expect(fd >= 0)
            close(fd)
            let r = try #require(s.recorder.wait { $0.pid == UInt32(getpid()) && $0.isOpen && $0.str0.vigilString == path },
                                 "no open record for \(path)")
            try r.withEvent { e in
                if path == hard {
                    // A hard link is its own name: same inode and device, and more than one link.
                    #expect(e.openedPath.vigilString == hard)
                    #expect(e.fileRef.ino == UInt64(st.st_ino) && e.fileRef.nlink >= 2)
                } else {
                    checkFile(e, path)
                }
            }.get()
        }
    }

    /// Most syscall records are written in place in a ring slot with VIGIL_SYSCALL_SLOT_ROOM
    /// string bytes (half of it each for an open's two paths); longer strings go through the
    /// scratch record. Paths of every length around those bounds, and up to PATH_MAX, arrive
    /// whole: failed opens (str0), successful opens (str0 and the resolved path), a short
    /// relative name whose resolved path is long, and a symlink to a long path.
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func pathsAroundTheRingSlotArriveWhole() throws {
        let s = try SharedCapture.get()
        let me = UInt32(getpid())
        let room = Int(VIGIL_SYSCALL_SLOT_ROOM)
        let base = "/tmp/vigil-slot-\(getpid())"
        mkdir(base, 0o700)
        defer { _ = waitExit(spawn([bytes("/bin/rm"), bytes("-rf"), bytes(base)])) }
        /// A path of exactly `length` bytes under `dir`: components of at most 200 bytes.
        func path(_ dir: String, _ length: Int, _ tag: String) -> String {
            var p = dir
            while length - p.count > 201 { p += "/" + String(repeating: "d", count: 200) }
            let last = length - p.count - 1
            return p + "/" + tag + String(repeating: "f", count: max(0, last - tag.count))
        }
        func mkdirs(_ file: String) {
            var dir = ""
            for c in file.split(separator: "/").dropLast() { dir += "/" + c; mkdir(dir, 0o700) }
        }
        func openRecord(_ str0: String, ret: (Int64) -> Bool) -> OwnedRecord? {
            s.recorder.wait { $0.pid == me && $0.isOpen && ret($0.ret) && $0.str0.vigilString == str0 }
        }
        let lengths = [60, room / 2 - 2, room / 2 - 1, room / 2, room / 2 + 1, room - 2, room - 1, room, room + 1,
                       300, 1000, Int(VIGIL_PATH_MAX) - 1]
        for n in lengths {
            // A failed open: the path as passed, whatever its length.
            let missing = path(base + "/missing", n, "m\(n)")
            #expect(missing.utf8.count == n)
            #expect(open(missing, O_RDONLY) < 0 && errno == ENOENT)
            let m = try #require(openRecord(missing) { $0 == -Int64(ENOENT) }, "no failed open record for a \(n)-byte path")
            try m.withEvent { e in
                #expect(e.str0.vigilString == missing, "failed open, \(n) bytes")
                #expect(e.headerFlags & UInt16(VIGIL_HF_TRUNCATED) == 0)
            }.get()

            // A successful open: the path as passed and the file the kernel opened.
            let file = path(base + "/ok", n, "o\(n)")
            mkdirs(file)
            let fd = open(file, O_CREAT | O_WRONLY, 0o600)
            try #require(fd >= 0, "cannot create a \(n)-byte path: errno \(errno)")
            var st = stat()
            fstat(fd, &st)
            close(fd)
            let o = try #require(openRecord(file) { $0 >= 0 }, "no open record for a \(n)-byte path")
            try o.withEvent { e in
                #expect(e.str0.vigilString == file, "open, \(n) bytes: str0")
                #expect(e.openedPath.vigilString == file, "open, \(n) bytes: resolved path")
                #expect(e.fileRef.ino == UInt64(st.st_ino))
                #expect(e.fileRef.flags & UInt32(VIGIL_FILE_PATH_TRUNCATED) == 0)
            }.get()

            // A short relative name (openat on a directory fd) whose resolved path is long.
            let dir = String(file[..<file.lastIndex(of: "/")!])
            let dfd = open(dir, O_RDONLY | O_DIRECTORY)
            try #require(dfd >= 0)
            let name = "rel\(n)"
            let rfd = openat(dfd, name, O_CREAT | O_WRONLY, 0o600)
            #expect(rfd >= 0)
            close(rfd)
            close(dfd)
            let r = try #require(openRecord(name) { $0 >= 0 }, "no openat record for \(name)")
            try r.withEvent { e in #expect(e.openedPath.vigilString == dir + "/" + name, "relative open, \(n)-byte dir") }.get()

            // A symlink (short name) to the long path.
            let link = base + "/l\(n)"
            #expect(symlink(file, link) == 0)
            let lfd = open(link, O_RDONLY)
            #expect(lfd >= 0)
            close(lfd)
            let l = try #require(openRecord(link) { $0 >= 0 }, "no open record for symlink \(link)")
            try l.withEvent { e in #expect(e.openedPath.vigilString == file, "symlink to a \(n)-byte path") }.get()
        }
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func missingObjectIsAClearError() throws {
        var o = BPFCaptureOptions()
        o.objectPath = "/nonexistent/vigil.bpf.o"
        do {
            _ = try BPFCapture(options: o)
            Issue.record("expected an error")
        } catch let e as CaptureError {
            #expect(e.description.contains("/nonexistent/vigil.bpf.o"))
        }
    }
}

func findVigilBinary() -> String? {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, 4095)
    guard n > 0 else { return nil }
    var dir = cStringText(buf)
    for _ in 0..<6 {
        guard let slash = dir.lastIndex(of: "/") else { break }
        dir = String(dir[..<slash])
        if access(dir + "/vigil", X_OK) == 0 { return dir + "/vigil" }
    }
    return nil
}

/// Runs a program, returning its exit status, stdout and stderr.
func runProcess(_ path: String, _ args: [String]) throws -> (status: Int32, stdout: [UInt8], stderr: [UInt8]) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    try p.run()
    let out = o.fileHandleForReading.readDataToEndOfFile()
    let err = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, Array(out), Array(err))
}

/// A NUL-terminated C buffer as text.
func cStringText(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
