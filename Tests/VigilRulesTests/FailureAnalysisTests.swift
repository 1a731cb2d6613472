#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilABI
import VigilCore
import VigilDecode
import VigilState
@testable import VigilRules

/// The per-type analysis of failed calls (``FailureAnalysis``): which forms prove a rule
/// success-only, which must not, and on the real rule sets, proof by evaluation that no enabled
/// rule of a type whose failures would be dropped matches a failed event of that type.
@Suite struct FailureAnalysisTests {
    /// Whether the only rule (`condition`, on top of `extra` items) can match failed `type` calls.
    func failuresMatched(_ condition: String, type: String = "openat", compat: Bool = false, extra: String = "",
                         rule: String = "", options: RuleLoadOptions = RuleLoadOptions(),
                         sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let yaml = extra + """

            - rule: r
              desc: d
              condition: \(condition)
              output: o
              priority: WARNING
            \(rule)
            """
        let (set, diags) = loadRules(yaml, options: options)
        #expect(errors(diags).isEmpty, "\(errors(diags))", sourceLocation: sourceLocation)
        return !set.rulesMatchingFailures(of: EventType(name: type)!, compat: compat).isEmpty
    }

    // MARK: forms that prove a rule success-only

    @Test(arguments: [
        "evt.type = openat and evt.res = SUCCESS",
        "evt.type = openat and evt.res == SUCCESS",
        "evt.type = openat and evt.res in (SUCCESS)",
        "evt.type = openat and evt.rawres >= 0",
        "evt.type = openat and evt.rawres > 0",
        "evt.type = openat and evt.rawres >= 1",
        "evt.type = openat and evt.rawres > -1",
        "evt.type = openat and evt.rawres = 0",
        "evt.type = openat and evt.rawres in (0, 1, 2)",
        "evt.type = openat and evt.failed = false",
        "evt.type = openat and evt.failed != true",
        "evt.type = openat and not evt.failed = true",
        "evt.type = openat and not evt.res != SUCCESS",
        "evt.type = openat and not evt.rawres < 0",
        "evt.type = openat and not evt.rawres <= -1",
        "evt.type = openat and not evt.rawres != 0",
        "evt.type = openat and fd.num >= 0",
        "evt.type = openat and fd.num > -1",
        "evt.type = openat and fd.num != -1",
        // De Morgan: not (failed or x) = success and not x.
        "evt.type = openat and not (evt.failed = true or proc.name = cat)",
        "evt.type = openat and not (evt.rawres < 0 or fd.name startswith /tmp)",
        // Both branches of an or are success-only.
        "evt.type = openat and ((evt.rawres >= 0 and proc.name = a) or (evt.res = SUCCESS and proc.name = b))",
        "(evt.type = openat and evt.rawres >= 0) or (evt.type = connect and proc.name = x)",
        // Falco's open_read macro, written out.
        "evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0",
    ])
    func successOnlyFormsAreProven(condition: String) {
        #expect(!failuresMatched(condition), "\(condition)")
    }

    // MARK: forms that must not prove anything

    @Test(arguments: [
        "evt.type = openat",
        "evt.type = openat and proc.name = cat",
        "evt.type = openat and (evt.rawres >= 0 or proc.name = cat)",
        "evt.type = openat and (evt.rawres >= 0 or evt.res = EINPROGRESS)",
        "evt.type = openat and evt.res != SUCCESS",
        "evt.type = openat and evt.res = ENOENT",
        "evt.type = openat and evt.res startswith E",
        "evt.type = openat and evt.res exists",
        "evt.type = openat and evt.rawres < 0",
        "evt.type = openat and evt.rawres >= -1",
        "evt.type = openat and evt.rawres > -2",
        "evt.type = openat and evt.rawres != 0",
        "evt.type = openat and evt.rawres in (0, -2)",
        "evt.type = openat and evt.failed = true",
        "evt.type = openat and evt.failed exists",
        "evt.type = openat and not evt.rawres >= 0",
        "evt.type = openat and not evt.res = SUCCESS",
        "evt.type = openat and not (evt.rawres >= 0 and proc.name = cat)",
        "evt.type = openat and fd.num >= -1",
        "evt.type = openat and fd.num = -1",
        "evt.type = openat and fd.num exists",
        "evt.type = openat and fd.num=-1 and evt.res startswith E",
        "evt.type = openat and tolower(evt.res) = success",
        "evt.type = openat and evt.rawres >= val(proc.pid)",
        "evt.type = openat and evt.arg.fd >= 0",
    ])
    func otherFormsKeepFailures(condition: String) {
        #expect(failuresMatched(condition), "\(condition)")
    }

    /// fd.num is the result only for the calls that return an fd; elsewhere it is an argument.
    @Test func fdNumProvesOnlyForCallsReturningAnFD() {
        for t in ["open", "openat", "openat2", "creat", "open_by_handle_at", "socket", "accept", "accept4", "memfd_create"] {
            #expect(!failuresMatched("evt.type = \(t) and fd.num >= 0", type: t), "\(t)")
        }
        for t in ["close", "dup2", "fchmod", "connect", "bind", "sendto"] {
            #expect(failuresMatched("evt.type = \(t) and fd.num >= 0", type: t), "\(t)")
        }
    }

    /// A rule can be success-only for one type of its `evt.type in (...)` and not for another.
    @Test func typesOfOneRuleAreAnalysedApart() {
        let c = "evt.type in (open, openat, connect) and ((evt.type = open and evt.rawres >= 0) or (evt.type = connect and fd.num >= 0) or (evt.type = openat and proc.name = cat))"
        #expect(!failuresMatched(c, type: "open"))
        #expect(failuresMatched(c, type: "openat"))
        #expect(failuresMatched(c, type: "connect"))  // fd.num is connect's argument
        // Falco's outbound macro keeps connect failures (EINPROGRESS).
        #expect(failuresMatched("evt.type = connect and (evt.rawres >= 0 or evt.res = EINPROGRESS)", type: "connect"))
    }

    /// `evt.is_compat` splits native and 32-bit calls.
    @Test func compatTestsSplitNativeAnd32BitCalls() {
        let c = "evt.type = openat and evt.is_compat = true"
        #expect(!failuresMatched(c, compat: false))
        #expect(failuresMatched(c, compat: true))
        let n = "evt.type = openat and (evt.rawres >= 0 or evt.is_compat = false)"
        #expect(failuresMatched(n, compat: false))
        #expect(!failuresMatched(n, compat: true))
        #expect(!failuresMatched("evt.type = openat and not evt.is_compat = false", compat: false))
        #expect(failuresMatched("evt.type = openat and evt.is_compat exists", compat: false))
    }

    // MARK: what the engine evaluates: macros, lists, exceptions, overrides, selection

    @Test func macrosAndListsAreExpanded() {
        let ok = "- macro: ok\n  condition: evt.rawres >= 0\n- list: good\n  items: [0, 1]\n"
        #expect(!failuresMatched("evt.type = openat and ok", extra: ok))
        #expect(!failuresMatched("evt.type = openat and evt.rawres in (good)", extra: ok))
        let loose = "- macro: loose\n  condition: evt.rawres >= 0 or proc.name = x\n- list: bad\n  items: [0, -13]\n"
        #expect(failuresMatched("evt.type = openat and loose", extra: loose))
        #expect(failuresMatched("evt.type = openat and evt.rawres in (bad)", extra: loose))
        // A macro used under not.
        let failed = "- macro: failed\n  condition: evt.res != SUCCESS\n"
        #expect(!failuresMatched("evt.type = openat and not failed", extra: failed))
        #expect(failuresMatched("evt.type = openat and failed", extra: failed))
    }

    @Test func exceptionsAreAppliedAsTheEngineDoes() {
        // An exception only narrows: a success-only rule stays so.
        let narrow = """
              exceptions:
                - name: cats
                  fields: [proc.name]
                  values: [[cat]]
            """
        #expect(!failuresMatched("evt.type = openat and evt.rawres >= 0", rule: narrow))
        // An exception on the result: `and not (evt.res = SUCCESS)` leaves only failures.
        let onResult = """
              exceptions:
                - name: successes
                  fields: [evt.res]
                  values: [[SUCCESS]]
            """
        #expect(failuresMatched("evt.type = openat", rule: onResult))
    }

    @Test func overridesAndAppendsAreApplied() {
        let base = "- rule: r\n  desc: d\n  condition: evt.type = openat and evt.rawres >= 0\n  output: o\n  priority: WARNING\n"
        func matched(_ more: String) -> Bool {
            let (set, diags) = loadRules(base + more)
            #expect(errors(diags).isEmpty, "\(errors(diags))")
            return !set.rulesMatchingFailures(of: EventType(name: "openat")!).isEmpty
        }
        #expect(!matched(""))
        // Appended text joins the condition as written: (A and B) or C.
        #expect(matched("- rule: r\n  condition: or proc.name = cat\n  override:\n    condition: append\n"))
        #expect(!matched("- rule: r\n  condition: and proc.name = cat\n  override:\n    condition: append\n"))
        #expect(matched("- rule: r\n  condition: evt.type = openat\n  override:\n    condition: replace\n"))
        // A later definition of the same rule replaces it.
        #expect(matched("- rule: r\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: WARNING\n"))
    }

    @Test func onlyEnabledRulesCount() {
        let anyOpen = "- rule: any\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: NOTICE\n  tags: [noisy]\n"
        let success = "- rule: ok\n  desc: d\n  condition: evt.type = openat and evt.rawres >= 0\n  output: o\n  priority: WARNING\n"
        func matched(_ yaml: String, _ options: RuleLoadOptions = RuleLoadOptions()) -> [String] {
            let (set, diags) = loadRules(yaml, options: options)
            #expect(errors(diags).isEmpty, "\(errors(diags))")
            return set.rulesMatchingFailures(of: EventType(name: "openat")!)
        }
        #expect(matched(anyOpen + success) == ["any"])
        #expect(matched(anyOpen.replacingOccurrences("  tags", "  enabled: false\n  tags") + success).isEmpty)
        var o = RuleLoadOptions()
        o.disabledRules = ["any"]
        #expect(matched(anyOpen + success, o).isEmpty)
        o = RuleLoadOptions()
        o.disabledTags = ["noisy"]
        #expect(matched(anyOpen + success, o).isEmpty)
        o = RuleLoadOptions()
        o.minimumPriority = .warning
        #expect(matched(anyOpen + success, o).isEmpty)
        o = RuleLoadOptions()
        o.selectors = [RuleSelector(.disable, rule: "any")]
        #expect(matched(anyOpen + success, o).isEmpty)
        // And the other way: a rule disabled in its file, enabled by name.
        o = RuleLoadOptions()
        o.enabledRules = ["any"]
        #expect(matched(anyOpen.replacingOccurrences("  tags", "  enabled: false\n  tags") + success, o) == ["any"])
    }

    // MARK: the real rule sets: what is dropped, and proof by evaluation

    /// Event types whose failed calls the process table uses (never dropped).
    static let stateFailures = EventTable.types(withState: VIGIL_STATE_FAILED)

    /// The types whose failures would be dropped for `set` (native, or 32-bit when `compat`).
    static func dropped(_ set: RuleSet, compat: Bool) -> [EventType] {
        failable.intersection(set.requiredEventTypes).subtracting(stateFailures)
            .subtracting(set.failureEventTypes(compat: compat)).sorted { $0.rawValue < $1.rawValue }
    }

    static let failable: Set<EventType> = KernelInterest.failableTypes

    @Test func vigilDefaultRulesDropTheFailuresNoRuleUses() throws {
        let (set, source, diags) = Self.load([repoRoot() + "/rules/vigil_rules.yaml"])
        #expect(errors(diags).isEmpty)
        let native = Self.dropped(set, compat: false), compat = Self.dropped(set, compat: true)
        print("vigil_rules.yaml: failed calls dropped (native): \(native.map(\.name).joined(separator: ","))")
        print("vigil_rules.yaml: failed calls dropped (32-bit): \(compat.map(\.name).joined(separator: ","))")
        // dup's rule asks for the new fd (evt.rawres in (0, 1, 2)); the state never needs dup failures.
        for n in ["dup", "dup2", "dup3"] { #expect(native.contains(EventType(name: n)!) && compat.contains(EventType(name: n)!), "\(n)") }
        // The state's types are never dropped.
        #expect(Set(native).isDisjoint(with: Self.stateFailures))
        // Opens: "Kernel memory read" reports failed attempts on /proc/kcore and friends.
        #expect(set.rulesMatchingFailures(of: EventType(name: "openat")!).contains("Kernel memory read"))
        Self.proveByEvaluation(set, source: source, native: native, compat: compat, corpus: Self.ruleTestEvents(set))
    }

    static let falco = falcoRulesDir()

    @Test(.enabled(if: falco != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"),
          arguments: [["falco_rules.yaml"], ["falco_rules.yaml", "falco-incubating_rules.yaml"], ["falco_rules.yaml", "falco-sandbox_rules.yaml"]])
    func falcoRulesDropTheFailuresNoRuleUses(files: [String]) throws {
        let (set, source, _) = Self.load(files.map { Self.falco! + "/" + $0 })
        let native = Self.dropped(set, compat: false), compat = Self.dropped(set, compat: true)
        print("\(files.joined(separator: "+")): failed calls dropped (native): \(native.map(\.name).joined(separator: ",")); (32-bit): \(compat.map(\.name).joined(separator: ","))")
        // Falco's "Redirect STDOUT/STDIN" rules want the new fd (evt.rawres in (0, 1, 2)).
        if files == ["falco_rules.yaml"] {
            #expect(native.map(\.name) == ["dup", "dup2", "dup3"])
            #expect(compat.map(\.name) == ["dup", "dup2", "dup3"])
        }
        Self.proveByEvaluation(set, source: source, native: native, compat: compat, corpus: [])
    }

    // MARK: failed opens of exact paths

    /// The paths for which the only rule (`condition`) can match a failed `type` call (nil: any).
    func failurePaths(_ condition: String, type: String = "openat", compat: Bool = false, extra: String = "",
                      sourceLocation: SourceLocation = #_sourceLocation) -> [String]? {
        let yaml = extra + "\n- rule: r\n  desc: d\n  condition: \(condition)\n  output: o\n  priority: WARNING\n"
        let (set, diags) = loadRules(yaml)
        #expect(errors(diags).isEmpty, "\(errors(diags))", sourceLocation: sourceLocation)
        return set.failurePaths(of: EventType(name: type)!, compat: compat).map { $0.map { String(decoding: $0, as: UTF8.self) }.sorted() }
    }

    @Test func positivePathTestsBoundTheFailuresARuleCanMatch() {
        let kmem = "fd.name in (/proc/kcore, /dev/mem) and evt.type in (open, openat, openat2)"
        #expect(failurePaths(kmem) == ["/dev/mem", "/proc/kcore"])
        #expect(failurePaths(kmem, type: "open") == ["/dev/mem", "/proc/kcore"])
        #expect(failurePaths(kmem, type: "openat2", compat: true) == ["/dev/mem", "/proc/kcore"])
        #expect(failurePaths("evt.type = openat and fd.name = /etc/shadow") == ["/etc/shadow"])
        #expect(failurePaths("evt.type = openat and fd.nameraw = /etc/shadow") == ["/etc/shadow"])
        // and: the intersection; or: the union; a success-only branch adds nothing.
        #expect(failurePaths("evt.type = openat and fd.name in (/a, /b) and fd.name in (/b, /c)") == ["/b"])
        #expect(failurePaths("evt.type = openat and (fd.name = /a or fd.nameraw = /b)") == ["/a", "/b"])
        #expect(failurePaths("evt.type = openat and (fd.name = /a or (evt.rawres >= 0 and proc.name = x))") == ["/a"])
        #expect(failurePaths("evt.type = openat and evt.rawres >= 0") == [])
        // Exceptions and not-clauses only narrow (any path for them), macros and lists expand.
        #expect(failurePaths("evt.type = openat and fd.name in (paths) and not proc.name in (crash) and not fd.name = /dev/mem",
                             extra: "- list: paths\n  items: [/dev/mem, /dev/port]\n") == ["/dev/mem", "/dev/port"])
        // Values kept as written: what the kernel can compare is KernelInterest's call.
        #expect(failurePaths("evt.type = openat and fd.name in (kcore, /tmp/)") == ["/tmp/", "kcore"])
        // Two rules: the union.
        let two = "- rule: s\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n  output: o\n  priority: WARNING\n"
        #expect(failurePaths("evt.type = openat and fd.name = /dev/mem", extra: two) == ["/dev/mem", "/etc/shadow"])
    }

    @Test(arguments: [
        "evt.type = openat and fd.name startswith /dev/",
        "evt.type = openat and fd.name != /dev/mem",
        "evt.type = openat and not fd.name = /dev/mem",
        "evt.type = openat and fd.name pmatch (/dev/mem)",
        "evt.type = openat and fd.name glob /dev/m*",
        "evt.type = openat and tolower(fd.name) = /dev/mem",
        "evt.type = openat and fd.name = val(proc.exepath)",
        "evt.type = openat and fd.directory = /dev",
        "evt.type = openat and fd.filename = mem",
        "evt.type = openat and evt.arg.name = /dev/mem",
        "evt.type = openat and (fd.name = /dev/mem or proc.name = cat)",
        "evt.type = openat and evt.res != SUCCESS",
    ])
    func otherPathFormsBoundNothing(condition: String) {
        #expect(failurePaths(condition) == nil, "\(condition)")
    }

    /// Only the open family's failures name their file by the path as passed.
    @Test func onlyTheOpenFamilyHasFailurePaths() {
        for t in ["open", "openat", "openat2", "creat"] {
            #expect(failurePaths("evt.type = \(t) and fd.name = /dev/mem", type: t) == ["/dev/mem"], "\(t)")
        }
        for t in ["open_by_handle_at", "chmod", "unlink"] {
            #expect(failurePaths("evt.type = \(t) and fd.name = /dev/mem", type: t) == nil, "\(t)")
        }
    }

    /// The kernel's test of a failed open's path (bpf/syscalls.bpf.h, failed_path_sent): dropped
    /// only when it is at most VIGIL_FAILED_PATH_LEN bytes, absolute, with no "/" followed by
    /// "/", "." or its end, and none of `kernelPaths`.
    static func kernelDrops(_ path: [UInt8], _ kernelPaths: Set<[UInt8]>) -> Bool {
        guard path.count >= 1, path.count <= KernelInterest.failedPathMaxBytes, path[0] == UInt8(ascii: "/") else { return false }
        for i in path.indices where path[i] == UInt8(ascii: "/") {
            if i + 1 == path.count || path[i + 1] == UInt8(ascii: "/") || path[i + 1] == UInt8(ascii: ".") { return false }
        }
        return !kernelPaths.contains(path)
    }

    /// Proof by evaluation on the real rule sets: every failed open the kernel would drop by its
    /// path (a pool of paths: the rules' own lists, locale probes, relative, non-normal and long
    /// ones, invalid UTF-8) matches no enabled rule, while the failed opens of the kept paths do
    /// match one (so the test can fail).
    @Test func failedOpensDroppedByPathMatchNoRule() throws {
        var sets: [(String, [String])] = [("vigil", [repoRoot() + "/rules/vigil_rules.yaml"])]
        if let f = Self.falco { sets.append(("falco", [f + "/falco_rules.yaml", f + "/falco-incubating_rules.yaml", f + "/falco-sandbox_rules.yaml"])) }
        for (name, files) in sets {
            let (set, source, _) = Self.load(files)
            let pool = Pool(source: source)
            var rng = SplitMix(seed: 0xfa11)
            let scratch = set.makeScratch(hostname: "node-1")
            var candidates = pool.paths + ["/usr/lib/locale/C.utf8/LC_CTYPE", "/usr/share/locale/en_US.UTF-8/LC_MESSAGES/coreutils.mo",
                                           "/proc/kcore/", "/proc//kcore", "/proc/./kcore", "/dev/../dev/mem", "dev/mem", "kcore", "mem",
                                           "/dev/mem/.", "/" + String(repeating: "d", count: 70) + "/../../dev/mem"]
            var raw = candidates.map { Array($0.utf8) }
            raw.append(Array("/dev/m".utf8) + [0xff] + Array("m".utf8))
            candidates.removeAll()
            var dropped = 0, keptMatched = 0
            var wrong: [String] = []
            for t in KernelInterest.pathFilterableTypes.sorted(by: { $0.rawValue < $1.rawValue }) {
                for compat in [false, true] {
                    guard let paths = set.failurePaths(of: t, compat: compat), !paths.isEmpty else { continue }
                    guard let k = KernelInterest.kernelPaths(paths) else { continue }
                    for (i, p) in (raw + Array(k)).enumerated() {
                        for n in 0..<4 {
                            let ev = pool.event(type: t, success: true, rng: &rng, index: i * 4 + n)
                            guard let fired = Self.fire(set, ev, res: -2, compat: compat, scratch: scratch, str0: p) else { continue }
                            if Self.kernelDrops(p, k) {
                                dropped += 1
                                if !fired.isEmpty { wrong.append("\(t.name) \(String(decoding: p, as: UTF8.self)): \(fired)") }
                            } else if k.contains(p) && !fired.isEmpty {
                                keptMatched += 1
                            }
                        }
                    }
                }
            }
            print("\(name): failed opens dropped by path evaluated: \(dropped), kept paths that matched a rule: \(keptMatched)")
            #expect(wrong.isEmpty, "\(name): failed opens the kernel drops matched: \(wrong.prefix(10))")
            if name == "vigil" {
                #expect(dropped > 100 && keptMatched > 0, "\(name): dropped \(dropped), kept and matched \(keptMatched)")
            }
        }
    }

    // MARK: proof by evaluation

    /// Loads rule files as the agent does, keeping the loaded source (its lists feed the generator).
    static func load(_ paths: [String]) -> (RuleSet, RuleSource, [Diagnostic]) {
        var loader = RuleLoader()
        loader.load(paths: paths)
        let (set, diags) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics)
        return (set, loader.source, diags)
    }

    /// The events of rules/tests whose rules fire (success versions that match).
    static func ruleTestEvents(_ set: RuleSet) -> [SyntheticEvent] {
        let (files, _) = RuleTestRunner.files([repoRoot() + "/rules/tests"])
        var out: [SyntheticEvent] = []
        for f in files {
            let (cases, _) = RuleTestRunner.load(file: f)
            for c in cases where !c.fire.isEmpty { out += c.events }
        }
        return out
    }

    /// Failed variants of the corpus and of generated events, for every dropped type: none may
    /// match an enabled rule. The same events with a success result must match some rule
    /// (so the corpus reaches the rules, and the test can fail).
    static func proveByEvaluation(_ set: RuleSet, source: RuleSource, native: [EventType], compat: [EventType], corpus: [SyntheticEvent]) {
        let scratch = set.makeScratch(hostname: "node-1")
        var failedMatches: [String] = []
        var successMatches = 0
        var evaluated = 0
        func check(_ ev: SyntheticEvent, type: EventType, isCompat: Bool) {
            for res: Int64 in [-1, -2, -9, -13, -22, -115, -4095] {
                guard let fired = fire(set, ev, res: res, compat: isCompat, scratch: scratch) else { continue }
                evaluated += 1
                if !fired.isEmpty { failedMatches.append("\(type.name)\(isCompat ? "(32-bit)" : "") res=\(res): \(fired)") }
            }
            if let fired = fire(set, ev, res: nil, compat: isCompat, scratch: scratch), !fired.isEmpty { successMatches += 1 }
        }
        for ev in corpus {
            guard let t = ev.withContext({ $0.event.type }), ev.withContext({ $0.event.isSyscall }) == true else { continue }
            if native.contains(t) { check(ev, type: t, isCompat: false) }
            if compat.contains(t) { check(ev, type: t, isCompat: true) }
        }
        var rng = SplitMix(seed: 0x5eed)
        let pool = Pool(source: source)
        for t in native + compat.filter({ !native.contains($0) }) {
            for k in 0..<160 {
                let ev = pool.event(type: t, success: true, rng: &rng, index: k)
                if native.contains(t) { check(ev, type: t, isCompat: false) }
                if compat.contains(t) { check(ev, type: t, isCompat: true) }
            }
        }
        print("failure proof: \(evaluated) failed events evaluated, \(successMatches) success variants matched a rule")
        #expect(failedMatches.isEmpty, "failed events matched: \(failedMatches.prefix(10))")
        #expect(evaluated > 0)
        #expect(successMatches > 0, "no success variant matched any rule: the corpus does not reach the rules")
    }

    /// The rules that fire on `ev` with result `res` (nil: as built) as a native or 32-bit call,
    /// the record rebuilt as the kernel sends it (no opened file or returned socket on failure)
    /// and applied to the event's process table as the pipeline does.
    static func fire(_ set: RuleSet, _ ev: SyntheticEvent, res: Int64?, compat: Bool, scratch: RuleScratch, str0: [UInt8]? = nil) -> [String]? {
        let bytes: [UInt8]? = try? ev.record.withEvent { e -> [UInt8] in
            let ret = res ?? e.ret
            let row = EventTable.rows.first { $0.type == e.type }
            let capture = row?.capture ?? 0
            let failed = ret < 0
            var args = (0..<6).map { e.arg($0) }
            let kind = capture & VIGIL_CAPTURE_KIND_MASK
            if failed && (kind == VIGIL_CAPTURE_FDPAIR_ARG0 || kind == VIGIL_CAPTURE_FDPAIR_ARG3) { args[4] = 0; args[5] = 0 }
            let dropsFile = failed && capture & VIGIL_CAPTURE_FILE_REF != 0
            let dropsTuple = failed && kind == VIGIL_CAPTURE_TUPLE_RET
            var h = RecordEncoder.Header(timestampBootNs: e.timestampBootNs, pid: e.pid, tid: e.tid, ppid: e.ppid, uid: e.uid,
                                         gid: e.gid, comm: e.comm.vigilString)
            h.cgroupID = e.cgroupID
            var flags = e.headerFlags & ~UInt16(VIGIL_HF_COMPAT)
            if compat { flags = (flags | UInt16(VIGIL_HF_COMPAT)) & ~UInt16(VIGIL_HF_IO_URING) }
            h.flags = flags
            return RecordEncoder.syscall(h, type: e.type, ret: ret, args: args, rawStr0: str0 ?? Array(e.str0Raw),
                                         rawStr1: dropsFile ? [] : Array(e.str1Raw),
                                         tuple: dropsFile || dropsTuple ? vigil_sock_tuple() : e.tuple)
        }.get()
        guard let bytes else { return nil }
        let record = OwnedRecord(bytes: bytes)
        let r: Result<[String], DecodeError> = record.withEvent { e in
            let applied = ev.processes.apply(e)
            let ctx = EventContext(event: e, process: applied.process ?? ev.process, fd: applied.fd, fdNum: applied.fdNum,
                                   container: ev.container, processes: ev.processes, wallTimeNs: ev.wallTimeNs)
            for (k, v) in ev.userNames { scratch.userNames[k] = v }
            scratch.begin()
            return set.candidates(for: e.type).filter { set.matches(rule: $0, ctx, scratch: scratch, newEvent: false) }.map { set.rules[$0].name }
        }
        if case .success(let v) = r { return v }
        return nil
    }

    /// Values to build events from: the rule set's own list items (process names, paths, ports)
    /// and a fixed pool of common ones.
    struct Pool {
        var names = ["sh", "bash", "nc", "ncat", "cat", "python3", "runc", "containerd-shim", "sshd", "nginx", "node", "java",
                     "sudo", "su", "curl", "wget", "kubectl", "dd", "insmod", "gdb", "strace", "tcpdump", "socat", "vigil", "falco"]
        var paths = ["/etc/shadow", "/etc/passwd", "/etc/sudoers", "/root/.ssh/authorized_keys", "/dev/mem", "/proc/kcore",
                     "/tmp/x", "/dev/shm/y", "/usr/bin/ls", "/bin/sh", "/var/run/docker.sock", "/run/containerd/containerd.sock",
                     "/proc/1/environ", "/etc/ld.so.preload", "/var/lib/kubelet/pki/x.key", "/home/u/.bash_history", "/"]
        var numbers: [UInt64] = [0, 1, 2, 3, 4, 5, 7, 17, 22, 443, 3333, 4444, 6443, 0x80000, 0o101, 0o1102, 0o4755, 0o2755, 0x10,
                                 UInt64(bitPattern: -100)]

        init(source: RuleSource) {
            for (_, l) in source.lists {
                for i in l.items {
                    if i.hasPrefix("/") { paths.append(i) }
                    else if let n = UInt64(i) { numbers.append(n) }
                    else if !i.contains(" ") && !i.isEmpty && i.utf8.count <= 15 { names.append(i) }
                }
            }
        }

        func pick<T>(_ a: [T], _ rng: inout SplitMix) -> T { a[Int(rng.next() % UInt64(a.count))] }

        /// One event of `type` by a process with a parent, in a container or not, with fds 3...8
        /// open (files and connected sockets), and random arguments and strings from the pool.
        func event(type: EventType, success: Bool, rng: inout SplitMix, index: Int) -> SyntheticEvent {
            let table = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
            let pid: UInt32 = 5000 + UInt32(index), ppid: UInt32 = 4000 + UInt32(index)
            let ts: UInt64 = 1_000_000_000_000
            func execRecord(_ p: UInt32, _ pp: UInt32, _ name: String, uid: UInt32) -> [UInt8] {
                let exe = pick(paths.filter { $0.hasPrefix("/usr/bin/") || $0.hasPrefix("/bin/") } + ["/usr/bin/" + name], &rng)
                var x = RecordEncoder.Exec(exePath: exe, argv: [name, pick(paths, &rng), "-c", pick(names, &rng)], cwd: pick(["/", "/tmp", "/root"], &rng))
                x.loginUID = rng.next() % 2 == 0 ? 1000 : .max
                x.tty = UInt32(rng.next() % 2)
                x.capEffective = rng.next() % 3 == 0 ? ~0 : 0
                return RecordEncoder.exec(.init(timestampBootNs: ts - 2_000_000, pid: p, ppid: pp, uid: uid, comm: name), x)
            }
            let uid: UInt32 = pick([0, 33, 1000, 65534], &rng)
            let name = pick(names, &rng)
            for r in [execRecord(ppid, 1, pick(names, &rng), uid: uid), execRecord(pid, ppid, name, uid: uid)] {
                _ = try? OwnedRecord(bytes: r).withEvent { table.apply($0) }.get()
            }
            let h = RecordEncoder.Header(timestampBootNs: ts - 1_000_000, pid: pid, ppid: ppid, uid: uid, comm: name)
            for fd in Int64(3)...8 {
                let r: [UInt8]
                if fd % 2 == 1 {
                    r = RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: fd, args: [UInt64(bitPattern: -100), 0, pick(numbers, &rng)],
                                              str0: pick(paths, &rng))
                } else {
                    let t = SocketTuple.encode(family: 2, l4proto: 6, local: (IPAddress("10.0.0.2")!, 40000),
                                               remote: (IPAddress(pick(["10.96.0.1", "169.254.169.254", "8.8.8.8", "127.0.0.1"], &rng))!,
                                                        UInt16(truncatingIfNeeded: pick(numbers, &rng))))
                    _ = try? OwnedRecord(bytes: RecordEncoder.syscall(h, type: EventType(name: "socket")!, ret: fd, args: [2, 1, 0]))
                        .withEvent { table.apply($0) }.get()
                    r = RecordEncoder.syscall(h, type: EventType(name: "connect")!, ret: 0, args: [UInt64(fd)], tuple: t)
                }
                _ = try? OwnedRecord(bytes: r).withEvent { table.apply($0) }.get()
            }
            var args = (0..<6).map { _ in pick(numbers, &rng) }
            if rng.next() % 2 == 0 { args[0] = UInt64(3 + rng.next() % 6) }
            var eh = RecordEncoder.Header(timestampBootNs: ts, pid: pid, ppid: ppid, uid: uid, comm: name)
            if rng.next() % 4 == 0 { eh.flags = UInt16(VIGIL_HF_IO_URING) }
            let ret: Int64 = success ? Int64(rng.next() % 4) : -2
            let bytes = RecordEncoder.syscall(eh, type: type, ret: ret, args: args, str0: pick(paths, &rng),
                                              str1: rng.next() % 2 == 0 ? pick(paths, &rng) : nil)
            let container: ContainerInfo = switch rng.next() % 3 {
            case 0: .host
            case 1: ContainerInfo(id: "0123456789ab", fullID: "0123456789abcdef", runtime: "containerd", name: "app", image: "nginx:1",
                                  privileged: false, pod: PodInfo(name: "web-1", namespace: "default", uid: "u"))
            default: ContainerInfo(id: "abcdef012345", fullID: "abcdef0123456789", runtime: "containerd", name: "priv", image: "busybox",
                                   privileged: true)
            }
            let proc = table.processes[pid]!
            return SyntheticEvent(record: OwnedRecord(bytes: bytes), process: proc, processes: table, fd: nil, fdNum: -1,
                                  container: container, wallTimeNs: 1_750_000_000_000_000_000, userNames: [0: "root", 1000: "u"], groupNames: [:])
        }
    }
}

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
