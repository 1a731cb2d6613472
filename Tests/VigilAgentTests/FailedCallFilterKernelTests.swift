#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import VigilABI
@testable import VigilAgent
import VigilCapture
import VigilCore
import VigilDecode
import VigilRules

/// The kernel drops failed calls no loaded rule can match (real BPF, real syscalls): the rule set
/// decides, every variant of a call (openat, openat2, ia32 open, io_uring openat) follows it, the
/// drops are counted, and a reload never loses a failure while a rule set that wants it runs.
@Suite(.serialized) struct FailedCallFilterKernelTests {
    /// Records of this process and its children (header pid or parent pid is this process).
    final class Recorder: RecordConsumer, @unchecked Sendable {
        let me = UInt32(getpid())
        let records = Mutex<[OwnedRecord]>([])
        func consume(_ event: Event) {
            guard event.pid == me || event.ppid == me else { return }
            let copy = OwnedRecord(copying: event.bytes)
            records.withLock { $0.append(copy) }
        }
        /// The events matching `match` now.
        func events<T>(_ match: (Event) -> T?) -> [T] {
            let list = records.withLock { $0 }
            return list.compactMap { r in try? r.withEvent { match($0) }.get() }
        }
        /// Waits (up to `timeout` seconds) until an event matches.
        func wait(timeout: Double = 10, _ match: (Event) -> Bool) -> Bool {
            let deadline = Timestamp.bootNanoseconds() + UInt64(timeout * 1e9)
            while Timestamp.bootNanoseconds() < deadline {
                if !events({ match($0) ? true : nil }).isEmpty { return true }
                usleep(5_000)
            }
            return false
        }
    }

    static let openTypes: Set<EventType> = ["open", "openat", "openat2"].reduce(into: []) { $0.insert(EventType(name: $1)!) }

    /// The test programs (built by `make bpf` next to the BPF object).
    static func progs() throws -> String {
        let obj = try BPFCapture.findObject()
        let dir = String(obj[..<obj.lastIndex(of: "/")!]) + "/../progs"
        for p in ["failed_opens", "km_ia32", "km_uring"] {
            try #require(access(dir + "/" + p, X_OK) == 0, "\(dir)/\(p) missing: run `make bpf`")
        }
        return dir
    }

    static func spawnWait(_ argv: [String]) -> (pid: UInt32, status: Int32) {
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawn(&pid, cargs[0]!, &actions, nil, &cargs, environ) == 0 else { return (0, -1) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (UInt32(pid), (status >> 8) & 0xff)
    }

    /// A live capture of everything `interest` selects (this process included), recorded.
    static func startCapture(_ interest: KernelInterest) throws -> (BPFCapture, Recorder) {
        var o = BPFCaptureOptions()
        o.ignoreSelf = false
        o.interest = interest
        let capture = try BPFCapture(options: o)
        let recorder = Recorder()
        try capture.start(recorder)
        return (capture, recorder)
    }

    static func rules(_ dir: String, _ name: String, _ condition: String) throws -> RuleSet {
        writeFile(dir + "/" + name, "- rule: \(name)\n  desc: d\n  condition: \(condition)\n  output: o\n  priority: WARNING\n")
        return try RuleSet.load(paths: [dir + "/" + name]).0
    }

    /// What three children did: failed_opens (n failed openat and openat2 of `missing`, then both
    /// of `existing`), km_ia32 (a failed ia32 open) and km_uring (a failed io_uring openat).
    struct Run { var opener: UInt32; var ia32: UInt32; var uring: UInt32 }

    static func runChildren(_ progs: String, missing: String, existing: String, n: Int, recorder: Recorder) throws -> Run {
        let a = spawnWait([progs + "/failed_opens", missing, String(n), existing])
        try #require(a.status == 0, "failed_opens exited \(a.status)")
        let b = spawnWait([progs + "/km_ia32", missing])
        try #require(b.status == 1, "km_ia32 exited \(b.status) (the open must fail)")
        let c = spawnWait([progs + "/km_uring", missing])
        try #require(c.status == 1 || c.status == 2, "km_uring exited \(c.status) (the open must fail)")
        // Each child's exit record comes after its opens in the ring: once all three are in, so is every open.
        for pid in [a.pid, b.pid, c.pid] {
            try #require(recorder.wait { $0.type == .procexit && $0.pid == pid }, "no exit record for \(pid)")
        }
        return Run(opener: a.pid, ia32: b.pid, uring: c.pid)
    }

    /// Failed open records of `pid` (type name, compat, io_uring).
    static func failedOpens(_ recorder: Recorder, _ pid: UInt32) -> [(String, Bool, Bool)] {
        recorder.events { e in e.pid == pid && e.isSyscall && openTypes.contains(e.type) && e.ret < 0 ? (e.type.name, e.isCompat, e.isIoUring) : nil }
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func theRulesDecideWhichFailedOpensTheKernelSends() throws {
        let progs = try Self.progs()
        let dir = makeTempDir("vigil-failfilter")
        defer { removeTree(dir) }
        let existing = dir + "/present"
        writeFile(existing, "x\n")
        let successOnly = try Self.rules(dir, "success-only.yaml",
                                         "evt.type in (open, openat, openat2) and evt.rawres >= 0 and fd.name startswith \(dir)")
        let failures = try Self.rules(dir, "failures.yaml", "evt.type in (open, openat, openat2) and evt.res != SUCCESS")
        let a = RuleLoading.interest(successOnly), b = RuleLoading.interest(failures)
        #expect(Self.openTypes.isSubset(of: a.dropFailed) && Self.openTypes.isSubset(of: a.dropFailedCompat), "\(a)")
        #expect(Self.openTypes.isDisjoint(with: b.dropFailed) && Self.openTypes.isDisjoint(with: b.dropFailedCompat), "\(b)")
        #expect(a.types.contains(.procexit) && b.types.contains(.procexit))

        let (capture, recorder) = try Self.startCapture(a)
        defer { capture.stop() }

        // Success-only rules: no failed open of any variant arrives; each is counted; successes arrive.
        let n = 25
        let before = capture.kernelStats().filteredFailed
        let r1 = try Self.runChildren(progs, missing: dir + "/missing-1", existing: existing, n: n, recorder: recorder)
        for pid in [r1.opener, r1.ia32, r1.uring] {
            #expect(Self.failedOpens(recorder, pid).isEmpty, "failed opens sent under success-only rules: \(Self.failedOpens(recorder, pid))")
        }
        // (A read-only openat comes without the path as passed: no rule reads it. openat2 always carries it.)
        let successes = recorder.events { e in
            e.pid == r1.opener && e.ret >= 0 && (e.str0.vigilString == existing || e.openedPath.vigilString.hasSuffix("/present")) ? e.type.name : nil
        }
        #expect(Set(successes) == ["openat", "openat2"], "successful opens: \(successes)")
        let filtered = capture.kernelStats().filteredFailed - before
        #expect(filtered >= UInt64(2 * n + 2), "filtered \(filtered), expected at least \(2 * n + 2)")

        // A rule that asks for failures: every variant arrives, with its result.
        try capture.setInterest(b)
        let r2 = try Self.runChildren(progs, missing: dir + "/missing-2", existing: existing, n: n, recorder: recorder)
        let opener = recorder.events { e in e.pid == r2.opener && e.ret == -Int64(ENOENT) && e.str0.vigilString == dir + "/missing-2" ? e.type.name : nil }
        #expect(opener.filter { $0 == "openat" }.count == n && opener.filter { $0 == "openat2" }.count == n, "failed opens: \(opener.count)")
        let ia32 = recorder.events { e in e.pid == r2.ia32 && e.isCompat && e.type.name == "open" && e.ret == -Int64(ENOENT) ? e.str0.vigilString : nil }
        #expect(ia32 == [dir + "/missing-2"], "ia32 failed open: \(ia32)")
        let uring = recorder.events { e in e.pid == r2.uring && e.isIoUring && e.type.name == "openat" && e.ret == -Int64(ENOENT) ? true : nil }
        #expect(uring.count == 1, "io_uring failed open: \(uring.count)")

        // Only the 32-bit failures wanted (a rule on evt.is_compat): native ones are dropped, ia32 ones arrive.
        let compat = try Self.rules(dir, "compat.yaml", "evt.type in (open, openat, openat2) and evt.is_compat = true")
        let c = RuleLoading.interest(compat)
        #expect(Self.openTypes.isSubset(of: c.dropFailed) && Self.openTypes.isDisjoint(with: c.dropFailedCompat), "\(c)")
        try capture.setInterest(c)
        let r3 = try Self.runChildren(progs, missing: dir + "/missing-3", existing: existing, n: n, recorder: recorder)
        #expect(Self.failedOpens(recorder, r3.opener).isEmpty && Self.failedOpens(recorder, r3.uring).isEmpty)
        #expect(Self.failedOpens(recorder, r3.ia32).map(\.0) == ["open"])
    }

    /// Failed opens of exact paths ("Kernel memory read"'s shape): the kernel sends a failed open
    /// only when its path may be one the rules name, through the real BPF. Interesting paths
    /// arrive (openat, openat2, ia32 open); others are dropped and counted as filtered by path;
    /// what the kernel cannot compare (relative, not normal, longer than its bound) and io_uring
    /// completions (no path) arrive; a reload that changes the paths changes what arrives.
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func failedOpensAreSentOnlyForThePathsTheRulesName() throws {
        let progs = try Self.progs()
        let dir = makeTempDir("vigil-failpath")
        defer { removeTree(dir) }
        let wanted = dir + "/wanted", other = dir + "/other", second = dir + "/second"
        func rules(_ name: String, _ paths: [String]) throws -> RuleSet {
            try Self.rules(dir, name, "fd.name in (\(paths.joined(separator: ", "))) and evt.type in (open, openat, openat2)"
                           + " and not proc.name in (crash, kdump)")
        }
        let first = RuleLoading.interest(try rules("first.yaml", [wanted, "/proc/kcore"]))
        for t in Self.openTypes {
            #expect(first.filtersFailuresByPath(of: t) && first.filtersFailuresByPath(of: t, compat: true), "\(t.name): \(first)")
        }
        #expect(first.failedPathNames == ["/proc/kcore", wanted])

        let (capture, recorder) = try Self.startCapture(first)
        defer { capture.stop() }

        /// Runs a test program and waits for its exit record (after its opens in the ring).
        func run(_ argv: [String], status: Set<Int32>) throws -> UInt32 {
            let r = Self.spawnWait(argv)
            try #require(status.contains(r.status), "\(argv) exited \(r.status)")
            try #require(recorder.wait { $0.type == .procexit && $0.pid == r.pid }, "no exit record for \(argv)")
            return r.pid
        }
        /// The paths of the failed open records of `pid` (by type name).
        func failed(_ pid: UInt32) -> [String: [String]] {
            var out: [String: [String]] = [:]
            for (t, p) in recorder.events({ e in e.pid == pid && e.isSyscall && Self.openTypes.contains(e.type) && e.ret < 0
                                             ? (e.type.name + (e.isCompat ? "(32-bit)" : "") + (e.isIoUring ? "(io_uring)" : ""), e.str0.vigilString) : nil }) {
                out[t, default: []].append(p)
            }
            return out
        }
        let n = 20
        let filteredBefore = capture.kernelStats().filteredFailedPath
        let a = try run([progs + "/failed_opens", wanted, String(n)], status: [0])
        #expect(failed(a) == ["openat": Array(repeating: wanted, count: n), "openat2": Array(repeating: wanted, count: n)], "\(failed(a).mapValues(\.count))")
        let b = try run([progs + "/failed_opens", other, String(n)], status: [0])
        #expect(failed(b).isEmpty, "failed opens of an uninteresting path sent: \(failed(b).mapValues(\.count))")
        let filtered = capture.kernelStats().filteredFailedPath - filteredBefore
        #expect(filtered >= UInt64(2 * n), "filtered by path: \(filtered), expected at least \(2 * n)")
        // What the kernel cannot compare is sent: another spelling of the wanted path, a relative
        // path, a non-normal one, one longer than the bound.
        let spellings = [dir + "//wanted", dir + "/./other", "vigil-failpath-relative-\(getpid())",
                         dir + "/" + String(repeating: "l", count: KernelInterest.failedPathMaxBytes)]
        for p in spellings {
            let c = try run([progs + "/failed_opens", p, "1"], status: [0])
            #expect(failed(c) == ["openat": [p], "openat2": [p]], "\(p): \(failed(c))")
        }
        // 32-bit: the same filter; io_uring: no path at completion, so its failures are all sent.
        let ia32Wanted = try run([progs + "/km_ia32", wanted], status: [1])
        #expect(failed(ia32Wanted) == ["open(32-bit)": [wanted]], "\(failed(ia32Wanted))")
        let ia32Other = try run([progs + "/km_ia32", other], status: [1])
        #expect(failed(ia32Other).isEmpty, "\(failed(ia32Other))")
        let uring = try run([progs + "/km_uring", other], status: [1, 2])
        #expect(failed(uring).keys.contains("openat(io_uring)"), "\(failed(uring))")

        // A reload to other paths: the union while the sets switch, then only the new ones.
        let next = RuleLoading.interest(try rules("second.yaml", [second]))
        let union = first.union(next)
        #expect(union.failedPathNames == ["/proc/kcore", second, wanted] && union.filtersFailuresByPath(of: EventType(name: "openat")!))
        try capture.setInterest(union)
        let u1 = try run([progs + "/failed_opens", second, "1"], status: [0])
        let u2 = try run([progs + "/failed_opens", wanted, "1"], status: [0])
        #expect(failed(u1).count == 2 && failed(u2).count == 2, "union: \(failed(u1)) \(failed(u2))")
        try capture.setInterest(next)
        let n1 = try run([progs + "/failed_opens", second, "1"], status: [0])
        let n2 = try run([progs + "/failed_opens", wanted, "1"], status: [0])
        #expect(failed(n1) == ["openat": [second], "openat2": [second]], "narrowed: \(failed(n1))")
        #expect(failed(n2).isEmpty, "narrowed, the old path still sent: \(failed(n2))")
        // Widened to every failure (a rule on any failed open): the filter is off.
        try capture.setInterest(RuleLoading.interest(try Self.rules(dir, "all.yaml", "evt.type in (open, openat, openat2) and evt.res != SUCCESS")))
        let w = try run([progs + "/failed_opens", other, "1"], status: [0])
        #expect(failed(w) == ["openat": [other], "openat2": [other]], "widened: \(failed(w))")
    }

    /// A reload from a success-only set to one that wants failed opens and back: every failed open
    /// made between the first widening and the final narrowing arrives (the union of both sets'
    /// needs is selected while they switch); before and after, they are dropped and counted.
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func aReloadLosesNoFailureWhileItIsWanted() throws {
        let tag = "vigil-failreload-\(getpid())"
        let missingDir = "/tmp/\(tag)-absent"
        let successOnly = """
            - rule: Reload test success-only open
              desc: d
              condition: evt.type in (open, openat, openat2) and evt.rawres >= 0 and fd.name startswith /tmp/\(tag)
              output: o
              priority: WARNING
            """
        let wantsFailures = successOnly.replacingOccurrences(of: "evt.rawres >= 0", with: "evt.res != SUCCESS")
        let fx = Fixture(rules: successOnly)
        defer { fx.cleanup() }
        let loaded = try fx.options.loadConfig()
        let slot = SwapSlot(try RuleLoading.load(loaded).get())

        let (capture, recorder) = try Self.startCapture(RuleLoading.interest(slot.load()))
        defer { capture.stop() }
        // Every selection the reloader writes, with boot times around the write.
        let sets = Mutex<[(interest: KernelInterest, before: UInt64, after: UInt64)]>([])
        let reloader = Reloader(options: fx.options, current: loaded, slot: slot, metrics: AgentMetrics(),
                                setInterest: { i in
                                    let t0 = Timestamp.bootNanoseconds()
                                    try? capture.setInterest(i)
                                    sets.withLock { $0.append((i, t0, Timestamp.bootNanoseconds())) }
                                },
                                pipelineGeneration: { UInt64.max })

        // The baseline before the first failed open: the generator's first calls are filtered (and
        // counted) at once, and each of them is in unwantedBefore below.
        let filteredBefore = capture.kernelStats().filteredFailed
        // Failed opens, numbered, on another thread for the whole test.
        let calls = Mutex<[(seq: Int, start: UInt64, end: UInt64)]>([])
        let stop = Atomic<Bool>(false)
        let generator = try NamedThread.start(name: "test-failopen") {
            var seq = 0
            while !stop.load(ordering: .relaxed) {
                let t0 = Timestamp.bootNanoseconds()
                let fd = open("\(missingDir)/\(seq)", O_RDONLY)
                let t1 = Timestamp.bootNanoseconds()
                if fd >= 0 { close(fd) }
                calls.withLock { $0.append((seq, t0, t1)) }
                seq += 1
                usleep(200)
            }
        }
        usleep(100_000)
        writeFile(fx.dir + "/rules.yaml", wantsFailures)
        #expect(reloader.reload(reason: "test") == .reloaded(rules: 1))
        usleep(150_000)
        writeFile(fx.dir + "/rules.yaml", successOnly)
        #expect(reloader.reload(reason: "test") == .reloaded(rules: 1))
        usleep(100_000)
        stop.store(true, ordering: .relaxed)
        generator.join()
        // A successful open of this process after the last failed one: once it is in, every earlier record is.
        let marker = "/tmp/\(tag)-marker"
        writeFile(marker, "m\n")
        defer { unlink(marker) }
        close(open(marker, O_RDONLY))
        try #require(recorder.wait { $0.pid == UInt32(getpid()) && $0.ret >= 0 && $0.str0.vigilString == marker }, "no marker record")

        let s = sets.withLock { $0 }
        try #require(s.count == 4, "expected widen, narrow, widen, narrow; got \(s.count) selections")
        let openat = EventType(name: "openat")!
        #expect(s[0].interest.sendsFailures(of: openat) && s[1].interest.sendsFailures(of: openat))
        #expect(s[2].interest.sendsFailures(of: openat), "the second widening dropped failures the running set wants")
        #expect(!s[3].interest.sendsFailures(of: openat))
        let received = Set(recorder.events { e -> Int? in
            let path = e.str0.vigilString
            guard e.pid == UInt32(getpid()), e.ret < 0, path.hasPrefix(missingDir + "/") else { return nil }
            return Int(path.dropFirst(missingDir.count + 1))
        })
        let all = calls.withLock { $0 }
        let wanted = all.filter { $0.start > s[0].after && $0.end < s[3].before }
        let unwantedBefore = all.filter { $0.end < s[0].before }
        let unwantedAfter = all.filter { $0.start > s[3].after }
        #expect(wanted.count > 100 && unwantedBefore.count > 50 && unwantedAfter.count > 50,
                "calls: \(wanted.count) wanted, \(unwantedBefore.count) before, \(unwantedAfter.count) after")
        let lost = wanted.filter { !received.contains($0.seq) }
        #expect(lost.isEmpty, "\(lost.count) of \(wanted.count) failed opens lost while a rule set wanted them")
        let leaked = (unwantedBefore + unwantedAfter).filter { received.contains($0.seq) }
        #expect(leaked.isEmpty, "\(leaked.count) failed opens sent while no rule wanted them")
        #expect(capture.kernelStats().filteredFailed - filteredBefore >= UInt64(unwantedBefore.count + unwantedAfter.count))
    }
}

/// `vigil run` end to end: by default a rule that asks for failed opens gets them; with Falco's
/// `engine.modern_ebpf.drop_failed_exit: true` the kernel drops them (counted), the agent warns at
/// start naming that rule, and successful opens still alert.
@Suite(.serialized) struct DropFailedExitKernelTests {
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func dropFailedExitDropsFailuresAndNamesTheRulesThatLoseThem() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        let dir = makeTempDir("vigil-dropfailed")
        defer { removeTree(dir) }
        writeFile(dir + "/present", "x\n")
        writeFile(dir + "/rules.yaml", """
            - rule: Drop test failed open
              desc: a failed open below the test directory
              condition: evt.type in (open, openat) and evt.res != SUCCESS and fd.name startswith \(dir)/
              output: failed open %fd.name res=%evt.res
              priority: WARNING
            - rule: Drop test open
              desc: a successful open below the test directory
              condition: evt.type in (open, openat) and evt.rawres >= 0 and fd.name startswith \(dir)/
              output: open %fd.name
              priority: WARNING
            """)
        for dropFailedExit in [false, true] {
            let port = freePort()
            let vigil = try SpawnedVigil(binary: binary, args: SpawnedVigil.runArguments(port: port, rules: dir + "/rules.yaml", extra: ["-o", "watch_config_files=false", "-o", "engine.modern_ebpf.drop_failed_exit=\(dropFailedExit)"]), dir: dir)
            defer { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) }
            try vigil.requireReady(port: port)
            let missing = "\(dir)/missing-\(dropFailedExit)"
            #expect(shell("cat \(missing) 2>/dev/null; cat \(dir)/present > /dev/null") == 0)
            let opened = waitFor(20) { vigil.stdoutLines.contains { $0.contains("\"rule\":\"Drop test open\"") } }
            #expect(opened, "no alert for the successful open (drop_failed_exit \(dropFailedExit)): \(vigil.stderrLines.suffix(5).joined(separator: "\n"))")
            let failedAlert = vigil.stdoutLines.contains { $0.contains("\"rule\":\"Drop test failed open\"") && $0.contains(missing) }
            let warning = vigil.stderrLines.first { $0.contains("drop_failed_exit is true") && $0.contains("\"rule\":\"Drop test failed open\"") }
            let m = parsePrometheus(httpGet(port: port, path: "/metrics")?.body ?? "")
            let filtered = m["vigil_kernel_filtered_total{reason=\"failed\"}"]
            #expect(filtered != nil, "no filtered counter in /metrics")
            #expect(m["vigil_kernel_filtered_total{reason=\"failed_path\"}"] != nil, "no failed_path counter in /metrics")
            if dropFailedExit {
                #expect(!failedAlert, "a failed open alerted although drop_failed_exit drops failed calls")
                #expect(warning?.contains("\"types\":\"open,openat\"") == true, "warning: \(warning ?? "none")")
                #expect(vigil.stderrLines.contains { $0.contains("except those the process table needs") && $0.contains("close") && $0.contains("connect") })
                #expect((filtered ?? 0) >= 1)
            } else {
                // The success alert came after the failed open's: its alert is already out.
                #expect(failedAlert, "the rule asking for failed opens got none")
                #expect(warning == nil)
            }
        }
    }
}

/// Issue 10's "agent's own children": the kernel ignores the agent's thread group
/// (`ignore_self`), which covers all of its activity only if it never starts a process. Through a
/// capture of its own, this test watches `vigil run` (default rules) start, alert, reload and stop:
/// every fork record of the agent is a thread of its own group.
@Suite(.serialized) struct AgentChildrenKernelTests {
    final class ForkRecorder: RecordConsumer, @unchecked Sendable {
        /// (parent tgid, child tgid) of every fork record.
        let forks = Mutex<[(UInt32, UInt32)]>([])
        func consume(_ event: Event) {
            guard event.recordKind == UInt16(VIGIL_REC_FORK.rawValue) else { return }
            let fork = (event.pid, event.forkInfo.child_pid)
            forks.withLock { $0.append(fork) }
        }
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func theAgentStartsThreadsButNoProcess() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        var o = BPFCaptureOptions()
        o.ignoreSelf = false
        o.interest = KernelInterest(types: Set(["clone", "clone3", "fork", "vfork"].compactMap { EventType(name: $0) }))
        let capture = try BPFCapture(options: o)
        let recorder = ForkRecorder()
        try capture.start(recorder)
        defer { capture.stop() }

        let dir = makeTempDir("vigil-children")
        defer { removeTree(dir) }
        let port = freePort()
        let vigil = try SpawnedVigil(binary: binary, args: SpawnedVigil.runArguments(port: port), dir: dir)
        var exited: Int32? = nil
        defer { if exited == nil { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) } }
        try vigil.requireReady(port: port)
        #expect(shell("cat /etc/shadow > /dev/null") == 0)
        #expect(waitFor(15) { vigil.stdoutLines.contains { $0.contains("\"rule\":\"Sensitive authentication file read\"") } })
        vigil.kill(SIGHUP)
        #expect(waitFor(15) { vigil.stderrLines.contains { $0.contains("\"msg\":\"rules reloaded\"") } })
        vigil.kill(SIGTERM)
        exited = vigil.wait(seconds: 30)
        #expect(exited == 0)
        usleep(200_000)

        let agent = UInt32(vigil.pid)
        let forks = recorder.forks.withLock { $0 }.filter { $0.0 == agent }
        // The capture saw the agent: its threads (pipeline, reload, monitor, HTTP...) started.
        #expect(forks.count >= 3, "fork records of the agent: \(forks.count)")
        let processes = forks.filter { $0.1 != agent }
        #expect(processes.isEmpty, "the agent started processes \(processes.map(\.1)): the kernel's ignore_self does not cover them")
    }
}
