#if canImport(Glibc)
import Glibc
#endif
import VigilCore
import VigilRules

/// `vigil rules test [-r RULES]... TESTS...`: runs rule tests.
enum RulesTestCommand {
    static func run(_ args: [String]) -> Int32 {
        if args.contains("-h") || args.contains("--help") {
            print("""
            Usage: vigil rules test [-r RULES]... [-v] TESTFILE|DIR...

            Loads the rules (default rules/), builds each test's synthetic events, evaluates
            them against every enabled rule, and reports tests whose expectations fail with a
            diff of expected and actual rules. Exits 1 when any test fails or does not load.
            """)
            return 0
        }
        var verbose = false
        let a = RulesCommand.Args(args.filter { if $0 == "-v" || $0 == "--verbose" { verbose = true; return false }; return true })
        if let e = a.error { writeStderr("vigil rules test: \(e)\n"); return 2 }
        let rulePaths = a.rules.isEmpty ? ["rules/"] : a.rules
        guard !a.positional.isEmpty else { writeStderr("vigil rules test: give test files or directories\n"); return 2 }
        var options = RuleLoadOptions()
        options.matching = .all
        let rules: RuleSet
        do { (rules, _) = try RuleSet.load(paths: rulePaths, options: options) } catch {
            for d in error.errors { writeStderr(d.description + "\n") }
            writeStderr("vigil rules test: the rules do not load\n")
            return 1
        }
        let (files, errs) = RuleTestRunner.files(a.positional)
        var failures = 0, passed = 0, loadErrors = errs.count
        for d in errs { writeStderr(d.description + "\n") }
        let scratch = rules.makeScratch(hostname: "vigil-test")
        var out = ""
        for f in files {
            let (cases, diags) = RuleTestRunner.load(file: f)
            for d in diags { writeStderr(d.description + "\n") }
            loadErrors += diags.filter { $0.severity == .error }.count
            for c in cases {
                let r = RuleTestRunner.run(c, rules: rules, scratch: scratch)
                if r.passed {
                    passed += 1
                    if verbose { out += "PASS \(c.name)\n" }
                    continue
                }
                failures += 1
                out += "FAIL \(c.mark.file):\(c.mark.line): \(c.name)\n"
                out += "  --- expected\n  +++ actual\n"
                for m in r.missing { out += "  - fire: \(m)        (did not fire)\n" }
                for u in r.unexpected { out += "  + fired: \(u)       (expected not to fire)\n" }
                for u in r.unknownRules { out += "  ? \(u)       (no such rule in the loaded rules)\n" }
                out += "  fired: " + (r.fired.isEmpty ? "(nothing)" : r.fired.joined(separator: ", ")) + "\n"
            }
        }
        out += "\(passed + failures) tests: \(passed) passed, \(failures) failed" + (loadErrors > 0 ? ", \(loadErrors) load errors" : "") + "\n"
        print(out, terminator: "")
        return failures == 0 && loadErrors == 0 ? 0 : 1
    }
}

