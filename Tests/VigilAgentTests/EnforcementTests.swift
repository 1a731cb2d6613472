#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilAgent
import VigilABI
import VigilAlerts
import VigilCapture
import VigilCore
import VigilDecode
import VigilRules

@Suite struct EnforcementTests {
    static let rules = """
    - macro: spawned_process
      condition: evt.type in (execve, execveat)
    - macro: container
      condition: (container.id != host)
    - list: shells
      items: [bash, sh, zsh]
    - rule: Dropped
      desc: d
      condition: spawned_process and container and proc.is_exe_upper_layer = true and not proc.name in (shells)
      output: o
      priority: CRITICAL
      tags: [drift, T1105]
    - rule: Tmp exec
      desc: d
      condition: spawned_process and (proc.exepath startswith /tmp/ or proc.exepath startswith /dev/shm/) and proc.exe in (x, y)
      output: o
      priority: WARNING
      tags: [T1059]
    - rule: Memfd
      desc: d
      condition: spawned_process and proc.is_exe_from_memfd = true and not proc.exepath pmatch (/memfd:runc_cloned)
      output: o
      priority: CRITICAL
      tags: [T1620]
    - rule: Shell from server
      desc: d
      condition: spawned_process and proc.pname in (nginx) and proc.name in (shells)
      output: o
      priority: WARNING
      tags: [T1059]
    - rule: Connect
      desc: d
      condition: evt.type = connect and proc.name = nc
      output: o
      priority: WARNING
      tags: [net]
    """

    static func ruleSet(enforcing: [RuleSelector]) throws -> RuleSet {
        var loader = RuleLoader()
        loader.load(text: Array(rules.utf8), file: "r.yaml")
        var o = RuleLoadOptions()
        o.enforcing = enforcing
        let (rs, diags) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics, options: o)
        #expect(diags.filter { $0.severity == .error }.isEmpty, "\(diags)")
        return rs
    }

    @Test func configSectionDefaultsOverridesAndErrors() throws {
        let d = VigilConfig().enforcement
        #expect(d.mode == .dryRun && d.action == .kill && d.rules.isEmpty && d.kernel)
        #expect(d.never == ["kubelet", "containerd", "containerd-shim-runc-v2", "crio", "systemd"])
        let c = try ConfigLoader.load(text: """
            enforcement:
              mode: enforce
              rules:
                - enable: {rule: Drop*}
                - enable: {tag: T1059}
                - disable: {rule: Shell from server}
              never: [kubelet, /usr/local/bin/agent]
            """, origin: "v.yaml", overrides: ["enforcement.rate_limit.rate=2", "enforcement.rules[]={enable: {rule: Memfd}}"])
        #expect(c.enforcement.mode == .enforce)
        #expect(c.enforcement.rules.count == 4 && c.enforcement.rateLimit.rate == 2)
        #expect(c.enforcement.selects(name: "Dropped", tags: []))
        #expect(c.enforcement.selects(name: "Tmp exec", tags: ["T1059"]))
        #expect(!c.enforcement.selects(name: "Shell from server", tags: ["T1059"]))
        #expect(c.enforcement.selects(name: "Memfd", tags: []))
        #expect(!c.enforcement.selects(name: "Connect", tags: ["net"]))
        let off = try ConfigLoader.load(text: "", origin: "v.yaml", overrides: ["enforcement.mode=off"])
        #expect(off.enforcement.mode == .off)
        for (text, key, place) in [("enforcement: {mode: kill}", "enforcement.mode", "v.yaml:1:21"),
                                   ("enforcement:\n  action: stop", "enforcement.action", "v.yaml:2:11"),
                                   ("enforcement:\n  rules:\n    - enable: {rules: x}", "enforcement.rules[0].enable.rules", "v.yaml:3:16"),
                                   ("enforcement: {nevr: [a]}", "enforcement.nevr", "v.yaml:1:15")] {
            #expect {
                _ = try ConfigLoader.load(text: text, origin: "v.yaml")
            } throws: { e in
                let e = e as! ConfigError
                return e.key == key && e.source.description == place
            }
        }
        // The effective configuration prints the section and reads back the same.
        let printed = ConfigPrinter.yaml(c)
        #expect(printed.contains("enforcement:"))
        #expect(try ConfigLoader.load(text: printed, origin: "printed") == c)
    }

    @Test func offModeEnforcesNoRuleWhateverTheSelectors() throws {
        let c = try ConfigLoader.load(text: "enforcement: {mode: off, rules: [{enable: {rule: '*'}}]}\nrules_files: [r.yaml]\n", origin: "v.yaml")
        var o = RuleLoadOptions()
        o.enforcing = c.enforcement.mode == .off ? [] : c.enforcement.rules
        let rs = try Self.ruleSet(enforcing: o.enforcing)
        #expect(!rs.rules.contains { $0.enforcing })
        let all = try Self.ruleSet(enforcing: [RuleSelector(.enable, rule: "*")])
        #expect(all.rules.allSatisfy { $0.enforcing })
    }

    @Test func whichRulesCompileIntoTheKernelAndWhy() throws {
        let rs = try Self.ruleSet(enforcing: [RuleSelector(.enable, rule: "*")])
        func path(_ name: String) -> EnforcementPath { rs.enforcementPath(rule: rs.rules.firstIndex { $0.name == name }!) }
        let dp = path("Dropped")
        guard case .kernel(let d) = dp else { Issue.record("Dropped: \(dp)"); return }
        #expect(d.require == [.upperLayer, .container] && d.forbid == [])
        #expect(Set(d.namesNot) == ["bash", "sh", "zsh"])
        let tp = path("Tmp exec")
        guard case .kernel(let t) = tp else { Issue.record("Tmp exec: \(tp)"); return }
        #expect(Set(t.exePrefixes) == ["/tmp/", "/dev/shm/"] && Set(t.argv0) == ["x", "y"])
        let mp = path("Memfd")
        guard case .kernel(let m) = mp else { Issue.record("Memfd: \(mp)"); return }
        #expect(m.require == [.memfd] && m.exePrefixesNot == ["/memfd:runc_cloned/"])
        #expect(path("Shell from server") == .userSpace(reason: "field proc.pname is not known in the kernel at exec"))
        guard case .userSpace(let why) = path("Connect") else { Issue.record("Connect in the kernel"); return }
        #expect(why.hasPrefix("matches non-exec events (connect"))

        let plan = EnforcementPlan(rules: rs, config: Enforcement(), generation: 7, kernelAvailable: true, protectedPIDs: [1, 4242])
        #expect(plan.kernel.rules.count == 3 && plan.kernel.generation == 7 && plan.kernel.mode == 1)
        #expect(plan.kernel.cgroupNeed == KernelExecFilter.Facts.upperLayer.rawValue, "only upper-layer execs need the cgroup walk")
        #expect(plan.kernel.protectedTGIDs == [4242])
        #expect(plan.kernel.fastWakeup, "user-space rules need the reader to poll every millisecond")
        #expect(plan.settings.kernelSlots == ["Dropped", "Tmp exec", "Memfd"])
        // Never-list names as the kernel sees them (comm: 15 bytes at most; kind 8 = VIGIL_ENF_K_NEVER_COMM).
        let neverComms = Set(plan.kernel.strings.filter { $0.kind == 8 }.map(\.value))
        #expect(neverComms == ["kubelet", "containerd", "containerd-shim", "crio", "systemd"])
        #expect(plan.report.contains("rule 'Dropped': kernel at exec (exe on overlay upper layer, in a container, comm not in (bash, sh, zsh))")
                || plan.report.contains { $0.hasPrefix("rule 'Dropped': kernel at exec (exe on overlay upper layer, in a container, comm not in") })
        var noKernel = Enforcement(); noKernel.kernel = false
        let user = EnforcementPlan(rules: rs, config: noKernel, generation: 1, protectedPIDs: [1])
        #expect(user.kernel.rules.isEmpty && user.kernel.mode == 0)
        #expect(user.report.contains("rule 'Dropped': user space (enforcement.kernel is false)"))
    }

    static func event(pid: UInt32, comm: String, exe: String) -> OwnedRecord {
        let bytes = RecordEncoder.exec(.init(timestampBootNs: Timestamp.bootNanoseconds(), pid: pid, ppid: 1, comm: comm),
                                       .init(exePath: exe, argv: [comm], cwd: "/"))
        return bytes.withUnsafeBytes { OwnedRecord(copying: $0) }
    }

    @Test func safetyChecksRefusePID1VigilNeverListAndRateLimit() throws {
        var cfg = Enforcement()
        cfg.mode = .enforce
        cfg.rateLimit = RateLimit(rate: 0, burst: 2)
        cfg.summaryIntervalMs = 100
        let settings = EnforcementSettings(cfg, protectedPIDs: EnforcementSettings.selfAndAncestors())
        #expect(settings.protectedPIDs.contains(UInt32(getpid())) && settings.protectedPIDs.contains(UInt32(getppid())) && settings.protectedPIDs.contains(1))
        let metrics = EnforcementMetrics()
        let enforcer = Enforcer(slot: SwapSlot(settings), metrics: metrics)
        func decide(_ pid: UInt32, _ comm: String, _ exe: String, rule: String = "R") throws -> String {
            try Self.event(pid: pid, comm: comm, exe: exe).withEvent { ev in
                enforcer.decide(settings, rule: rule, ev: ev, process: nil, nowNs: 1_000_000_000)
            }.get()
        }
        #expect(try decide(1, "init", "/sbin/init") == "refused: pid 1")
        #expect(try decide(UInt32(getpid()), "vigil", "/usr/bin/vigil") == "refused: vigil or its parent")
        #expect(try decide(UInt32(getppid()), "sh", "/bin/sh") == "refused: vigil or its parent")
        #expect(try decide(2, "kthreadd", "") == "refused: kernel thread")
        #expect(try decide(999_990, "kubelet", "/usr/bin/kubelet") == "refused: never-list (kubelet)")
        #expect(try decide(999_990, "containerd-shim", "/usr/bin/containerd-shim-runc-v2") == "refused: never-list (containerd-shim-runc-v2)")
        // Two kills allowed (burst 2, no refill), the third refused and summarised.
        #expect(try decide(999_991, "evil", "/tmp/evil") == "kill")
        #expect(try decide(999_992, "evil", "/tmp/evil") == "kill")
        #expect(try decide(999_993, "evil", "/tmp/evil") == "rate-limited")
        #expect(try decide(999_994, "evil", "/tmp/evil", rule: "Other") == "kill", "the limit is per rule")
        var summaries: [Alert] = []
        enforcer.tick(nowNs: Timestamp.monotonicNanoseconds(), hostname: "h") { summaries.append($0) }
        #expect(summaries.count == 1)
        #expect(summaries.first?.rule == "Vigil enforcement rate limited")
        #expect(summaries.first?.outputFields.contains { $0.0 == "vigil.rate_limited" && $0.1 == .uint(1) } == true)
    }

    @Test func killGoesThroughAPidfdAndChecksTheStartTime() throws {
        let settings = EnforcementSettings(Enforcement(), protectedPIDs: [1])
        let enforcer = Enforcer(slot: SwapSlot(settings), metrics: EnforcementMetrics())
        // A child that sleeps: killed, and reaped with SIGKILL.
        var pid: pid_t = 0
        let words = ["/bin/sleep", "30"]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
        let start = ProcStat.read(pid: UInt32(pid))!.startTicks * UInt64(1_000_000_000 / sysconf(Int32(_SC_CLK_TCK)))
        // A wrong start time (a recycled pid): refused, the process lives.
        let (wrong, _) = enforcer.kill(pid: UInt32(pid), startTimeBootNs: start + 5_000_000_000, eventBootNs: 0)
        #expect(wrong == "failed: ESRCH (pid reused)")
        #expect(kill(pid, 0) == 0)
        let (result, latency) = enforcer.kill(pid: UInt32(pid), startTimeBootNs: start, eventBootNs: Timestamp.bootNanoseconds())
        #expect(result == "killed" && latency != nil)
        var st: Int32 = 0
        #expect(waitpid(pid, &st, 0) == pid && (st & 0x7f) == SIGKILL)
        let (gone, _) = enforcer.kill(pid: UInt32(pid), startTimeBootNs: start, eventBootNs: 0)
        #expect(gone == "failed: ESRCH")
    }

    /// Rules past the exec program's limits (string length, rules, prefixes) enforce from user
    /// space, and the plan (what `vigil rules validate` prints) says which limit.
    static func capRules() -> String {
        let fits = "/" + String(repeating: "a", count: 254)        // 255 bytes: compared in the kernel
        let tooLong = "/" + String(repeating: "b", count: 255)     // 256 bytes: user space
        var text = """
        - rule: Long path
          desc: d
          condition: evt.type = execve and proc.exepath = \(fits)
          output: o
          priority: WARNING
        - rule: Too long path
          desc: d
          condition: evt.type = execve and proc.exepath = \(tooLong)
          output: o
          priority: WARNING
        - rule: Many prefixes
          desc: d
          condition: evt.type = execve and proc.exepath pmatch (\((0..<17).map { "/p\($0)" }.joined(separator: ", ")))
          output: o
          priority: WARNING
        - rule: Host only
          desc: d
          condition: evt.type = execve and container.id = host and proc.name = x

        """
        text += "  output: o\n  priority: WARNING\n"
        for i in 0..<64 {
            text += "- rule: Filler \(i)\n  desc: d\n  condition: evt.type = execve and proc.exepath startswith /opt/f\(i)/\n  output: o\n  priority: WARNING\n"
        }
        return text
    }

    @Test func kernelLimitsSendRulesToUserSpaceAndSayWhich() throws {
        var loader = RuleLoader()
        loader.load(text: Array(Self.capRules().utf8), file: "caps.yaml")
        var o = RuleLoadOptions()
        o.enforcing = [RuleSelector(.enable, rule: "*")]
        let (rs, diags) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics, options: o)
        #expect(diags.filter { $0.severity == .error }.isEmpty, "\(diags)")
        var cfg = Enforcement()
        cfg.never += ["/" + String(repeating: "n", count: 300)]
        let plan = EnforcementPlan(rules: rs, config: cfg, generation: 1, protectedPIDs: [1])
        func path(_ rule: String) -> EnforcementPath? { plan.entries.first { $0.rule == rule }?.path }
        guard case .kernel = path("Long path") else { Issue.record("a 255-byte path should compile: \(String(describing: path("Long path")))"); return }
        guard case .userSpace(let why) = path("Too long path") else { Issue.record("a 256-byte path compiled"); return }
        #expect(why.hasSuffix("is empty or longer than 255 bytes"), "\(why)")
        #expect(path("Many prefixes") == .userSpace(reason: "more than 16 exe path prefixes"))
        guard case .kernel(let h) = path("Host only") else { Issue.record("Host only: \(String(describing: path("Host only")))"); return }
        #expect(h.require == [.host] && h.forbid.isEmpty)
        #expect(plan.kernel.flags & KernelEnforcementTable.cgroupFlag != 0, "a host test needs the cgroup walk")
        #expect(plan.kernel.cgroupNeed == 0, "the host-only rule requires no other fact: every exec reads its cgroup")
        // Slots: Long path, Host only and 62 fillers fill the 64; the rest (and past 64 prefixes) go to user space.
        #expect(plan.kernel.rules.count == 64 && plan.kernel.prefixes.count == 62)
        #expect(path("Filler 61").map { if case .kernel = $0 { true } else { false } } == true)
        #expect(path("Filler 62") == .userSpace(reason: "more than 64 kernel rules (the exec program's limit)"))
        #expect(plan.report.contains("rule 'Filler 63': user space (more than 64 kernel rules (the exec program's limit))"))
        // A never-list path longer than the kernel reads is refused by its first 255 bytes.
        #expect(plan.kernel.strings.contains { $0.kind == VIGIL_ENF_K_NEVER_PATH.rawValue && $0.value == "/" + String(repeating: "n", count: 254) })
        // The rate limit as the exec program's GCRA: 10/s, bursts of 20.
        #expect(plan.kernel.ratePeriodNs == 100_000_000 && plan.kernel.rateTauNs == 1_900_000_000)
        #expect(plan.kernel.rules.first?.name == "Long path")
    }

    @Test func rulesValidateSaysWhichLimitSendsARuleToUserSpace() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        let dir = "/tmp/vigil-enf-validate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(mkdir(dir, 0o755) == 0)
        defer { removeTree(dir) }
        writeFile(dir + "/caps.yaml", Self.capRules())
        writeFile(dir + "/vigil.yaml", "rules_files: [caps.yaml]\nenforcement:\n  mode: enforce\n  rules:\n    - enable: {rule: '*'}\n")
        let v = try SpawnedVigil(binary: binary, args: ["rules", "validate", dir + "/caps.yaml", "-c", dir + "/vigil.yaml"], dir: dir)
        #expect(v.wait(seconds: 60) == 0, "\(v.stderrLines.suffix(5))")
        let out = v.stdoutLines
        #expect(out.contains("enforcing rules (mode enforce, action kill): 68"), "\(out.prefix(8))")
        #expect(out.contains { $0.hasPrefix("  - rule 'Long path': kernel at exec (exe path in (/aaaa") })
        #expect(out.contains { $0.hasPrefix("  - rule 'Too long path': user space (proc.exepath value '/bbbb") && $0.hasSuffix("is empty or longer than 255 bytes)") })
        #expect(out.contains("  - rule 'Many prefixes': user space (more than 16 exe path prefixes)"))
        #expect(out.contains("  - rule 'Host only': kernel at exec (on the host, comm in (x))"))
        #expect(out.contains("  - rule 'Filler 62': user space (more than 64 kernel rules (the exec program's limit))"))
    }
}
