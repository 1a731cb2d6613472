#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilCore
import VigilDecode
import VigilState
@testable import VigilRules

/// Ordering the operands of `and`/`or` cheapest first (``CheckCost``) must not change which
/// rules match: every enabled rule of Vigil's rules and of Falco's three rule files, on the
/// events of rules/tests and thousands of variants of them (other programs, paths, results),
/// matches exactly the same events with the ordering on and off.
@Suite struct OperandOrderTests {
    /// Both orderings of the same rules, every rule enabled, all matches reported.
    static func bothOrders(_ paths: [String]) throws -> (ordered: RuleSet, authored: RuleSet) {
        var options = EveryRuleLoading.everyRule()
        let (ordered, _) = try RuleSet.load(paths: paths, options: options)
        options.orderOperandsByCost = false
        let (authored, _) = try RuleSet.load(paths: paths, options: options)
        return (ordered, authored)
    }

    /// The events of rules/tests/*.yaml, and `variants` rewrites of each file in which the
    /// executables, file paths and syscall results are replaced by others (deterministically).
    static func events(variants: Int) -> [SyntheticEvent] {
        let dir = repoRoot() + "/rules/tests"
        let files = ["execution.yaml", "files.yaml", "incubating.yaml", "kernel_reach.yaml", "live_variants.yaml",
                     "network.yaml", "privilege.yaml", "vigil_self.yaml"]
        let exes = ["/usr/bin/cat", "/bin/bash", "/usr/bin/python3", "/usr/sbin/sshd", "/tmp/x", "/usr/bin/sudo",
                    "/usr/local/bin/kubectl", "/usr/bin/nc", "/dev/shm/a", "/usr/bin/apt-get", "/usr/sbin/unix_chkpwd",
                    "/usr/bin/vigil", "/usr/bin/sh", "/usr/bin/curl", "/usr/bin/dd", "/usr/bin/ssh-keygen"]
        let paths = ["/etc/shadow", "/etc/passwd", "/etc/ld.so.preload", "/root/.ssh/id_rsa", "/var/log/auth.log",
                     "/proc/1/environ", "/dev/mem", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/tmp/.x", "/etc/cron.d/job",
                     "/var/run/secrets/kubernetes.io/serviceaccount/token", "/home/u/.bash_history", "/etc/sudoers.d/x",
                     "/bin/ls", "/etc/pam.d/sshd", "/sys/kernel/mm/x", "/dev/shm/payload", "/etc/kubernetes/admin.conf"]
        let results = ["0", "3", "-2", "-13", "-1"]
        var out: [SyntheticEvent] = []
        for file in files {
            guard let bytes = try? FileReader.read(dir + "/" + file) else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            for v in 0...variants {
                let yaml = v == 0 ? text : rewrite(text, seed: UInt64(v) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(file.utf8.count),
                                                     exes: exes, paths: paths, results: results)
                let (cases, _) = RuleTestRunner.load(text: Array(yaml.utf8), file: file)
                for c in cases { out += c.events }
            }
        }
        return out
    }

    /// Replaces the values of `exepath:`, path-like keys and `res:` with picks from the pools.
    static func rewrite(_ text: String, seed: UInt64, exes: [String], paths: [String], results: [String]) -> String {
        var rng = seed | 1
        func pick(_ a: [String]) -> String {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            return a[Int(rng % UInt64(a.count))]
        }
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var l = String(line)
            l = replaceValues(l, key: "exepath: ") { pick(exes) }
            if l.contains("args:") || l.contains("fd:") {
                for key in ["name: ", "newpath: ", "oldpath: ", "path: ", "linkpath: ", "target: ", "filename: "] {
                    l = replaceValues(l, key: key) { pick(paths) }
                }
            }
            if l.hasPrefix("    res: ") { l = "    res: " + pick(results) }
            lines.append(l)
        }
        return lines.joined(separator: "\n")
    }

    /// `line` with the plain value after each occurrence of `key` (up to `,`, `}` or the end) replaced.
    static func replaceValues(_ line: String, key: String, _ value: () -> String) -> String {
        var out = ""
        var rest = Substring(line)
        while let r = rest.range(of: key) {
            out += rest[..<r.upperBound]
            let after = rest[r.upperBound...]
            let end = after.firstIndex { $0 == "," || $0 == "}" } ?? after.endIndex
            let old = after[..<end]
            // Keep quoted, anchored, flow and empty values as they are.
            if old.isEmpty || old.first == "\"" || old.first == "'" || old.first == "&" || old.first == "*" || old.first == "[" || old.first == "{" {
                out += old
            } else {
                out += value()
            }
            rest = after[end...]
        }
        return out + rest
    }

    /// The names of the rules of `set` matching `ev`, in evaluation order.
    static func matching(_ set: RuleSet, _ ev: SyntheticEvent, _ s: RuleScratch) -> [String] {
        for (k, v) in ev.userNames { s.userNames[k] = v }
        for (k, v) in ev.groupNames { s.groupNames[k] = v }
        var names: [String] = []
        _ = ev.withContext { ctx in set.match(ctx, scratch: s) { names.append(set.rules[$0].name) } }
        s.userNames = [:]; s.groupNames = [:]
        return names
    }

    /// Runs both orderings over the events; returns how many (event, rule) matches there were,
    /// how many distinct rules matched, and how many specialised conditions the ordering changed.
    static func compare(_ paths: [String], events: [SyntheticEvent]) throws -> (matches: Int, rules: Int, reordered: Int) {
        let (ordered, authored) = try bothOrders(paths)
        #expect(ordered.summary.enabled == authored.summary.enabled)
        #expect(ordered.summary.enabled > 20, "\(paths): \(ordered.summary.enabled) rules enabled")
        let s1 = ordered.makeScratch(hostname: "h"), s2 = authored.makeScratch(hostname: "h")
        var matches = 0
        var matched = Set<String>()
        var differences = 0
        for ev in events {
            let a = matching(ordered, ev, s1), b = matching(authored, ev, s2)
            if a != b {
                differences += 1
                if differences <= 5 {
                    let type: String = (try? ev.record.withEvent { $0.type.name }.get()) ?? "?"
                    let files = paths.map { String($0.split(separator: "/").last ?? "") }.joined(separator: " ")
                    let fd = ev.fd?.name ?? "-"
                    Issue.record(Comment(rawValue: "\(files): event \(type) by \(ev.process.exePath) fd \(fd): cheap-first matched \(a), as written \(b)"))
                }
            }
            matches += a.count
            matched.formUnion(a)
        }
        #expect(differences == 0, "\(differences) of \(events.count) events matched differently")
        // The ordering did change what is evaluated first (else this compares a set with itself).
        var reordered = 0
        for t in EventType.all where ordered.describeEvaluation(for: t) != authored.describeEvaluation(for: t) { reordered += 1 }
        return (matches, matched.count, reordered)
    }

    @Test func vigilRulesMatchTheSameWithOperandsReordered() throws {
        let events = Self.events(variants: 8)
        #expect(events.count > 1500, "\(events.count) events")
        let r = try Self.compare([repoRoot() + "/rules/"], events: events)
        // Not vacuous: many rules match some of the events, and the ordering changed many event types' conditions.
        #expect(r.rules >= 40, "\(r.rules) rules matched, \(r.matches) matches")
        #expect(r.reordered >= 20, "\(r.reordered) event types reordered")
    }

    @Test(.enabled(if: falcoRulesDir() != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func falcoRulesMatchTheSameWithOperandsReordered() throws {
        let dir = falcoRulesDir()!
        let files = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"].map { dir + "/" + $0 }
        let r = try Self.compare(files, events: Self.events(variants: 8))
        #expect(r.rules >= 15, "\(r.rules) rules matched, \(r.matches) matches")
        #expect(r.reordered >= 20, "\(r.reordered) event types reordered")
    }

    /// The ordering itself: a cheap integer test runs before an ancestor walk and an environment
    /// lookup, positive tests before negations, and `evt.type` folding still applies.
    @Test func cheapTestsComeFirst() {
        let (set, diags) = loadRules("""
        - rule: r
          desc: d
          condition: >
            evt.type = openat and not proc.name in (a, b) and proc.aname = bash
            and proc.env[HOME] = /root and fd.num = 3
          output: o
          priority: WARNING
        """)
        #expect(errors(diags).isEmpty, "\(diags)")
        let text = set.describeEvaluation(for: EventType(name: "openat")!)
        let order = ["fd.num", "proc.env", "not proc.name", "proc.aname"].map { text.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil }, "\(text)")
        #expect(zip(order, order.dropFirst()).allSatisfy { $0! < $1! }, "\(text)")
        #expect(!text.contains("evt.type"), "\(text)")
    }
}
