#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilABI
import VigilCore
import VigilDecode
import VigilState
@testable import VigilRules

/// Which successful read-only opens the kernel may send without the path as passed
/// (``RuleSet/openNameWriteOnlyTypes``, ``OpenWriteAnalysis``): the forms that prove a rule
/// needs it only for write opens, the ones that must not, and on the real rule sets, proof by
/// evaluation that every alert of a read-only open is the same whether its record carries the
/// path as passed or not.
@Suite struct OpenNameInterestTests {
    static let open = EventType(name: "open")!, openat = EventType(name: "openat")!

    /// ``RuleSet/openNameWriteOnlyTypes`` of one rule (`condition`, `output`) on top of `extra` items.
    func writeOnly(_ condition: String, output: String = "o", extra: String = "", rule: String = "",
                   sourceLocation: SourceLocation = #_sourceLocation) -> Set<String> {
        let yaml = extra + """

            - rule: r
              desc: d
              condition: \(condition)
              output: "\(output)"
              priority: WARNING
            \(rule)
            """
        let (set, diags) = loadRules(yaml)
        #expect(errors(diags).isEmpty, "\(errors(diags))", sourceLocation: sourceLocation)
        #expect(!set.rules.isEmpty, sourceLocation: sourceLocation)
        return Set(set.openNameWriteOnlyTypes.map(\.name))
    }

    @Test func rulesThatDoNotReadThePathAsPassedLeaveBothTypes() {
        #expect(writeOnly("evt.type in (open, openat) and fd.name startswith /etc") == ["open", "openat"])
        #expect(writeOnly("evt.type = openat and evt.arg.flags contains O_CREAT", output: "f=%evt.arg.flags m=%evt.arg.mode") == ["open", "openat"])
        // A rule on other types reading their own arguments.
        #expect(writeOnly("evt.type = unlinkat and evt.arg.name endswith history", output: "%evt.args") == ["open", "openat"])
    }

    @Test func theOpensPathArgumentKeepsItsTypes() {
        #expect(writeOnly("evt.type = openat and evt.arg.name contains x") == ["open"])
        #expect(writeOnly("evt.type = open and fd.name = /etc/shadow", output: "name=%evt.arg.name") == ["openat"])
        #expect(writeOnly("evt.type in (open, openat) and fd.name = /etc/shadow", output: "%evt.args") == [])
        #expect(writeOnly("evt.type = openat and evt.rawarg.name exists") == ["open"])
        // By index: openat's path argument, then one that is not.
        let schema = SyscallSchema.of(Self.openat)
        let nameIndex = schema.index(of: "name")!, flagsIndex = schema.index(of: "flags")!
        #expect(writeOnly("evt.type = openat and fd.name = /etc/shadow", output: "n=%evt.arg[\(nameIndex)]") == ["open"])
        #expect(writeOnly("evt.type = openat and fd.name = /etc/shadow", output: "f=%evt.arg[\(flagsIndex)]") == ["open", "openat"])
    }

    @Test func fdNamerawAnywhereKeepsEveryOpen() {
        #expect(writeOnly("evt.type = openat and fd.nameraw startswith /etc") == [])
        // Read on a close: the fd table keeps the name of every open.
        #expect(writeOnly("evt.type = close and fd.name startswith /etc", output: "raw=%fd.nameraw") == [])
        #expect(writeOnly("evt.type = openat and evt.is_open_write = true and fd.nameraw startswith /etc") == [])
    }

    @Test func writeOnlyConditionsProveTheNameIsNotNeeded() {
        let history = "evt.type in (open, openat) and evt.arg.name endswith history"
        #expect(writeOnly(history + " and evt.is_open_write = true") == ["open", "openat"])
        #expect(writeOnly("evt.is_open_write != false and " + history) == ["open", "openat"])
        #expect(writeOnly(history + " and evt.is_open_read = false") == ["open", "openat"])
        #expect(writeOnly("(\(history) and evt.is_open_write = true) or (evt.type = unlink and evt.arg.path exists)") == ["open", "openat"])
        // Macros are expanded as the engine does.
        #expect(writeOnly("vigil_w and " + history, extra: "- macro: vigil_w\n  condition: evt.is_open_write = true\n") == ["open", "openat"])
    }

    @Test(arguments: [
        "evt.type in (open, openat) and evt.arg.name endswith history and evt.is_open_write = false",
        "evt.type in (open, openat) and evt.arg.name endswith history and evt.is_open_read = true",
        "evt.type in (open, openat) and evt.arg.name endswith history and not evt.is_open_write = false",
        "evt.type in (open, openat) and (evt.arg.name endswith history or evt.is_open_write = true)",
        "evt.type in (open, openat) and evt.arg.name endswith history and evt.arg.flags contains O_WRONLY",
        "evt.type in (open, openat) and evt.arg.name endswith history and tolower(evt.is_open_write) = true",
    ])
    func otherFormsKeepTheName(condition: String) {
        #expect(writeOnly(condition) == [], "\(condition)")
    }

    @Test func onlyEnabledRulesAndTheirAppendsCount() {
        #expect(writeOnly("evt.type = openat and evt.arg.name contains x", rule: "  enabled: false") == ["open", "openat"])
        // append_output's JSON fields apply to the rules they match.
        let yaml = """
            - rule: r
              desc: d
              condition: evt.type = openat and fd.name startswith /etc
              output: o
              priority: WARNING
            """
        var options = RuleLoadOptions()
        options.appendOutput = [AppendOutput(extraFields: [.init(name: "evt.arg.name", format: nil, mark: SourceMark(file: "t", line: 1, column: 1))])]
        let (set, diags) = loadRules(yaml, options: options)
        #expect(errors(diags).isEmpty, "\(errors(diags))")
        // The rule is on openat only: open keeps its read-only opens without the name.
        #expect(set.openNameWriteOnlyTypes == [Self.open])
    }

    // MARK: the real rule sets

    @Test func vigilDefaultRulesSendReadOnlyOpensWithoutTheName() throws {
        let (set, source, diags) = FailureAnalysisTests.load([repoRoot() + "/rules/vigil_rules.yaml"])
        #expect(errors(diags).isEmpty)
        #expect(set.openNameWriteOnlyTypes == [Self.open, Self.openat])
        // The shell-history rule reads evt.arg.name, on write opens only.
        #expect(set.rules.contains { $0.enabled && $0.openNameUse.contains(.argument) })
        Self.proveByEvaluation(set, source: source, name: "vigil")
    }

    static let falco = falcoRulesDir()

    @Test(.enabled(if: falco != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func falcoRulesReadFdNameraw() throws {
        let (set, _, _) = FailureAnalysisTests.load([Self.falco! + "/falco_rules.yaml"])
        #expect(set.openNameWriteOnlyTypes.isEmpty)
        #expect(set.rulesNeedingReadOnlyOpenNames.contains("Directory traversal monitored file read"))
        // Without that rule, the incubating and sandbox rules' reads of evt.arg.name are proven write-only or not, by evaluation.
        var options = RuleLoadOptions()
        options.selectors = [RuleSelector(.disable, rule: "Directory traversal monitored file read")]
        for extra in ["falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"] {
            var loader = RuleLoader()
            loader.load(paths: [Self.falco! + "/falco_rules.yaml", Self.falco! + "/" + extra])
            let (s, _) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics, options: options)
            print("falco_rules.yaml+\(extra) (traversal rule disabled): \(s.openNameWriteOnlyTypes.map(\.name).sorted())")
            Self.proveByEvaluation(s, source: loader.source, name: extra)
        }
    }

    /// For every type of ``RuleSet/openNameWriteOnlyTypes``: successful read-only opens (paths from
    /// the rule set's lists and a pool, flags with every access-mode-free bit mix) give the same
    /// alerts (rule, message, output fields) whether the record carries the path as passed or
    /// not; some of them fire (the corpus reaches the rules, so the test can fail).
    static func proveByEvaluation(_ set: RuleSet, source: RuleSource, name: String) {
        let types = set.openNameWriteOnlyTypes
        guard !types.isEmpty else { return }
        let pool = FailureAnalysisTests.Pool(source: source)
        var rng = SplitMix(seed: 0x0be7)
        let scratch = set.makeScratch(hostname: "node-1")
        let paths = pool.paths + ["/root/.bash_history", "/home/u/.zsh_history", "/usr/lib/locale/C.utf8/LC_CTYPE", "/etc/ld.so.cache",
                                  "/dev/null", "/proc/self/status", "/var/log/auth.log", "/etc/pam.d/sshd"]
        let flagMixes: [UInt64] = [0, 0o2000000, 0o100, 0o1000, 0o1100, 0o200000, 0o4000, 0o2000, 0o20000000 | 0o200000, 0o2200000]
        var evaluated = 0, fired = 0
        var different: [String] = []
        for t in types.sorted(by: { $0.rawValue < $1.rawValue }) {
            let flagsArg = t == Self.open ? 1 : 2
            for (i, path) in paths.enumerated() {
                for (j, flags) in flagMixes.enumerated() {
                    let ev = pool.event(type: t, success: true, rng: &rng, index: i * flagMixes.count + j)
                    let with = alerts(set, ev, path: path, flagsArg: flagsArg, flags: flags, raw: true, scratch: scratch)
                    let without = alerts(set, ev, path: path, flagsArg: flagsArg, flags: flags, raw: false, scratch: scratch)
                    guard let with, let without else { continue }
                    evaluated += 1
                    if !with.isEmpty { fired += 1 }
                    if with != without { different.append("\(t.name) \(path) flags=\(String(flags, radix: 8)): \(with) vs \(without)") }
                }
            }
        }
        print("\(name): read-only opens evaluated with and without the path as passed: \(evaluated), \(fired) fired a rule")
        #expect(different.isEmpty, "\(name): alerts differ: \(different.prefix(5))")
        #expect(evaluated > 100 && fired > 0, "\(name): evaluated \(evaluated), fired \(fired)")
    }

    /// The alerts (rule, message, output fields) of `ev` rebuilt as a successful read-only open of
    /// `path` (the new fd 7, the file resolved by the kernel to `path`), with or without the path
    /// as passed, applied to the event's process table as the pipeline does.
    static func alerts(_ set: RuleSet, _ ev: SyntheticEvent, path: String, flagsArg: Int, flags: UInt64, raw: Bool,
                       scratch: RuleScratch) -> [String]? {
        let bytes: [UInt8]? = try? ev.record.withEvent { e -> [UInt8] in
            var args = (0..<6).map { e.arg($0) }
            if flagsArg == 2 { args[0] = UInt64(bitPattern: -100) }
            args[flagsArg] = flags & ~UInt64(3)
            let h = RecordEncoder.Header(timestampBootNs: e.timestampBootNs, pid: e.pid, tid: e.tid, ppid: e.ppid, uid: e.uid,
                                         gid: e.gid, comm: e.comm.vigilString)
            var b = RecordEncoder.syscall(h, type: e.type, ret: 7, args: args, str0: raw ? path : nil, str1: path)
            var fr = vigil_file_ref()
            fr.ino = 1234
            fr.dev = 8
            fr.nlink = 1
            fr.flags = UInt32(VIGIL_FILE_PRESENT | VIGIL_FILE_RESOLVED)
            withUnsafeBytes(of: fr) { b.replaceSubrange(RecordLayout.syscallUnion..<(RecordLayout.syscallUnion + $0.count), with: $0) }
            return b
        }.get()
        guard let bytes else { return nil }
        let processes = ev.processes
        let r: Result<[String], DecodeError> = OwnedRecord(bytes: bytes).withEvent { e in
            let applied = processes.apply(e)
            let ctx = EventContext(event: e, process: applied.process ?? ev.process, fd: applied.fd, fdNum: applied.fdNum,
                                   container: ev.container, processes: processes, wallTimeNs: ev.wallTimeNs)
            for (k, v) in ev.userNames { scratch.userNames[k] = v }
            var out: [String] = []
            set.evaluate(ctx, scratch: scratch) { a in
                out.append(a.rule + " | " + a.message + " | " + a.outputFields.map { "\($0.0)=\($0.1)" }.joined(separator: ","))
            }
            // The fd leaves the table again: the next variant opens it anew.
            let ch = RecordEncoder.Header(timestampBootNs: e.timestampBootNs + 1, pid: e.pid, tid: e.tid, ppid: e.ppid, uid: e.uid,
                                          gid: e.gid, comm: e.comm.vigilString)
            _ = try? OwnedRecord(bytes: RecordEncoder.syscall(ch, type: EventType(name: "close")!, ret: 0, args: [7]))
                .withEvent { processes.apply($0) }.get()
            return out
        }
        if case .success(let v) = r { return v }
        return nil
    }
}
