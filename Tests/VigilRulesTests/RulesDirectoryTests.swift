#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilRules
import VigilCore

/// Runs Vigil's own rule tests (rules/tests) against rules/.
@Suite struct RulesDirectoryTests {
    static let testFiles: [String] = RuleTestRunner.files([repoRoot() + "/rules/tests"]).0

    @Test(.enabled(if: !testFiles.isEmpty, "rules/tests is empty"))
    func vigilRuleTestsPass() throws {
        let (rules, diags) = try RuleSet.load(paths: [repoRoot() + "/rules/"])
        #expect(errors(diags).isEmpty)
        #expect(rules.summary.compiled == rules.summary.rules, "skipped: \(rules.summary.skipped.map(\.reason))")
        let scratch = rules.makeScratch(hostname: "t")
        var count = 0
        for f in Self.testFiles {
            let (cases, tdiags) = RuleTestRunner.load(file: f)
            // Load errors in test files are reported but owned by the ruleset; cases that load must pass.
            for d in tdiags { print("note: \(d)") }
            for c in cases {
                let r = RuleTestRunner.run(c, rules: rules, scratch: scratch)
                count += 1
                #expect(r.passed, "\(c.mark): \(c.name): missing \(r.missing), unexpected \(r.unexpected), unknown \(r.unknownRules), fired \(r.fired)")
            }
        }
        #expect(count > 0)
    }

    @Test func runnerReportsFailures() throws {
        let (rules, _) = loadRules("""
        - rule: Cat shadow
          desc: d
          condition: evt.type = openat and fd.name = /etc/shadow
          output: "%proc.name read %fd.name"
          priority: warning
        """)
        let yaml = """
        tests:
        - name: fires
          event: {type: openat, res: 3, args: {dirfd: -100, name: /etc/shadow, flags: O_RDONLY}, process: {exepath: /usr/bin/cat}}
          expect: {fire: [Cat shadow]}
        - name: wrong expectation
          event: {type: openat, res: 3, args: {dirfd: -100, name: /etc/hosts, flags: O_RDONLY}, process: {exepath: /usr/bin/cat}}
          expect: {fire: [Cat shadow], not_fire: [No such rule]}
        """
        let (cases, diags) = RuleTestRunner.load(text: Array(yaml.utf8), file: "t.yaml")
        #expect(errors(diags).isEmpty, "\(diags)")
        let s = rules.makeScratch(hostname: "h")
        let r0 = RuleTestRunner.run(cases[0], rules: rules, scratch: s)
        #expect(r0.passed && r0.fired == ["Cat shadow"])
        let r1 = RuleTestRunner.run(cases[1], rules: rules, scratch: s)
        #expect(!r1.passed)
        #expect(r1.missing == ["Cat shadow"])
        #expect(r1.unknownRules == ["No such rule"])
    }

    @Test func badTestFilesNamePlaces() {
        let yaml = """
        tests:
        - name: a
          event: {type: opnat}
          expect: {fire: [x]}
        - name: b
          event: {type: openat, bogus: 1}
          expect: {fire: [x]}
        - name: c
          event: {type: openat, args: {nosuch: 1}}
          expect: {fire: [x]}
        """
        let (_, diags) = RuleTestRunner.load(text: Array(yaml.utf8), file: "bad.yaml")
        let e = errors(diags)
        #expect(e.contains { $0.mark.line == 3 && $0.message.contains("unknown event type 'opnat'") && $0.item == "test 'a'" })
        #expect(e.contains { $0.mark.line == 6 && $0.message.contains("unknown key 'bogus'") })
        #expect(e.contains { $0.item == "test 'c'" && $0.message.contains("nosuch") })
    }
}
