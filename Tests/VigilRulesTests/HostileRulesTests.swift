import Testing
import VigilCore
@testable import VigilRules

/// The hostile rule files of issue 11, generated here: each is a positioned error, never a
/// crash or a hang. How long they take is measured in bench/hostile (`make bench-hostile`).
@Suite struct HostileRulesTests {
    func rule(_ cond: String, output: String = "o %proc.name") -> String {
        "- rule: R\n  desc: d\n  condition: \(cond)\n  output: \(output)\n  priority: info\n"
    }

    func onlyError(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> Diagnostic? {
        let (set, diags) = loadRules(yaml, file: "hostile.yaml")
        let e = errors(diags)
        #expect(e.count == 1, "\(e.prefix(3))", sourceLocation: sourceLocation)
        #expect(set.summary.compiled == 0, sourceLocation: sourceLocation)
        return e.first
    }

    /// An exception's `comps` must name comparison operators: an unknown one (it was compared
    /// with `=`, so the exception silently matched other values than written) is an error
    /// naming the exception and its place, in the list form and the single-field form.
    @Test func unknownExceptionComparisonIsAnError() {
        let tuple = rule("evt.type = open") + """
          exceptions:
          - name: e
            fields: [proc.name, fd.name]
            comps: [=, starts_with]
            values: [[cat, /tmp]]

        """
        let d = onlyError(tuple)
        #expect(d?.description == "hostile.yaml:9:12: error: rule 'R' exception 'e': unknown comparison operator 'starts_with' in 'comps' (=, ==, !=, <, <=, >, >=, in, intersects, pmatch, contains, icontains, bcontains, startswith, bstartswith, endswith, glob, iglob, regex)", "\(String(describing: d))")
        let single = rule("evt.type = open") + """
          exceptions:
          - name: e
            fields: proc.name
            comps: exists
            values: [cat]

        """
        #expect(onlyError(single)?.description.contains("unknown comparison operator 'exists'") == true)
        // Every real operator is accepted.
        let ok = rule("evt.type = open") + """
          exceptions:
          - name: e
            fields: [proc.name, fd.name, proc.pid]
            comps: [in, startswith, ">="]
            values: [[[cat, dog], /tmp, 100]]

        """
        let (set, diags) = loadRules(ok, file: "ok.yaml")
        #expect(errors(diags).isEmpty, "\(diags)")
        #expect(set.summary.compiled == 1)
    }

    @Test func twentyThousandNestedParentheses() {
        let n = 20_000
        let d = onlyError(rule("evt.type = open and " + String(repeating: "(", count: n) + "proc.name = x" + String(repeating: ")", count: n)))
        // The 1,001st '(' starts at column 14 + 20 + 1000 of line 3.
        #expect(d?.description == "hostile.yaml:3:1034: error: rule 'R': syntax error: condition nested deeper than 1000")
    }

    @Test func stackedRegexQuantifiersAreRefusedBeforeRegcomp() {
        // Found by the condition fuzzer: 24 stacked '+' made glibc's regcomp take about 3 GB.
        let d = onlyError(rule("evt.type = open and proc.name regex \"ain" + String(repeating: "+", count: 24) + "\""))
        #expect(d?.description.contains("too complex") == true, "\(String(describing: d))")
        #expect(d?.mark.line == 3)
        let nested = onlyError(rule("evt.type = open and proc.name regex '" + String(repeating: "(", count: 8) + "a{1000}" + String(repeating: "){1000}", count: 8) + "'"))
        #expect(nested?.description.contains("too complex") == true)
        #expect(onlyError(rule("evt.type = open and proc.name regex '" + String(repeating: "x", count: 5000) + "'"))?.description.contains("longer than 4096 bytes") == true)
        // Ordinary patterns stay well inside the budget and still compile.
        #expect(CompiledRegex.estimatedSize("/etc/(ssh|ssl)/.*") < 100)
        #expect(CompiledRegex.estimatedSize("[[:alpha:]]+[0-9]{1,3}") < 100)
        let (set, diags) = loadRules(rule("evt.type = open and proc.name regex 'ai(n|m)+x{2,4}'"), file: "ok.yaml")
        #expect(errors(diags).isEmpty)
        #expect(set.summary.compiled == 1)
    }

    @Test func fiftyThousandNots() {
        let d = onlyError(rule("evt.type = open and " + String(repeating: "not ", count: 50_000) + "proc.name = x"))
        #expect(d?.description == "hostile.yaml:3:4034: error: rule 'R': syntax error: condition nested deeper than 1000")
    }

    @Test func fiftyThousandUnclosedParentheses() {
        let d = onlyError(rule("evt.type = open and " + String(repeating: "(", count: 50_000)))
        #expect(d?.message == "syntax error: condition nested deeper than 1000")
        #expect(d?.mark.line == 3)
        // Shallow unclosed parentheses still get the old message.
        let shallow = onlyError(rule("evt.type = open and ((proc.name = x"))
        #expect(shallow?.message.contains("missing ')'") == true)
    }

    @Test func nestingAtTheLimitCompiles() {
        let n = 999
        let (set, diags) = loadRules(rule("evt.type = open and " + String(repeating: "(", count: n) + "proc.name = x" + String(repeating: ")", count: n)))
        #expect(errors(diags).isEmpty)
        #expect(set.summary.compiled == 1)
        let (set2, diags2) = loadRules(rule("evt.type = open and " + String(repeating: "not ", count: 998) + "proc.name = x"))
        #expect(errors(diags2).isEmpty)
        #expect(set2.summary.compiled == 1)
    }

    @Test func eightThousandMacroChain() {
        var y = "- macro: m0\n  condition: proc.name = x\n"
        for i in 1..<8000 { y += "- macro: m\(i)\n  condition: m\(i - 1)\n" }
        let d = onlyError(y + rule("evt.type = open and m7999"))
        #expect(d?.message.hasPrefix("condition nested deeper than 1000 (through macros m7999 -> m7998 -> ") == true, "\(String(describing: d))")
        #expect(d?.item == "rule 'R'")
        #expect(d?.mark.file == "hostile.yaml" && (d?.mark.line ?? 0) > 2)
        // A chain of 500 is fine.
        var ok = "- macro: m0\n  condition: proc.name = x\n"
        for i in 1..<500 { ok += "- macro: m\(i)\n  condition: m\(i - 1)\n" }
        #expect(errors(loadRules(ok + rule("evt.type = open and m499")).1).isEmpty)
    }

    @Test func tenThousandMacroCycle() {
        var y = ""
        for i in 0..<10_000 { y += "- macro: c\(i)\n  condition: c\((i + 1) % 10_000)\n" }
        let d = onlyError(y + rule("evt.type = open and c0"))
        #expect(d?.message.hasPrefix("macro cycle: c0 -> c1 -> ") == true, "\(String(describing: d))")
        #expect(d?.message.hasSuffix("-> c9999 -> c0 (10001 names)") == true)
    }

    /// 64 macros, each `(m{i-1} or m{i-1})`: 2^64 nodes if inlined; measured in linear time.
    @Test func exponentialMacros() {
        var y = "- macro: m0\n  condition: proc.name = x\n"
        for i in 1..<64 { y += "- macro: m\(i)\n  condition: (m\(i - 1) or m\(i - 1))\n" }
        let d = onlyError(y + rule("evt.type = open and m63"))
        // m{i} expands to 2^(i+2) - 2 nodes: m18 is the first over the budget, reached through m63 ... m18.
        #expect(d?.message.hasPrefix("condition expands to more than 1000000 nodes through macros m63 -> m62 -> ") == true, "\(String(describing: d))")
        #expect(d?.message.hasSuffix("-> m18 (46 names)") == true, "\(String(describing: d))")
        // The mark is the reference to m18 inside m19's condition.
        #expect(d?.mark == SourceMark(file: "hostile.yaml", line: 40, column: 15))
    }

    @Test func exponentialLists() {
        var y = "- list: l0\n  items: [a, b]\n"
        for i in 1..<64 { y += "- list: l\(i)\n  items: [l\(i - 1), l\(i - 1)]\n" }
        let (_, diags) = loadRules(y + rule("evt.type = open and proc.name in (l63)"), file: "hostile.yaml")
        let e = errors(diags)
        #expect(e.count == 2, "\(e.prefix(4))")
        // l19 is the first list over 1,000,000 items (2^20).
        #expect(e.contains { $0.description == "hostile.yaml:39:3: error: list 'l19': list 'l19' expands to more than 1000000 items" })
        #expect(e.contains { $0.item == "rule 'R'" && $0.message == "list 'l63' cannot be used: list 'l19' expands to more than 1000000 items" })
    }

    @Test func cyclicListsAreErrors() {
        let y = "- list: a\n  items: [x, b]\n- list: b\n  items: [a]\n- list: c\n  items: [b]\n- list: self\n  items: [self]\n"
        let (_, diags) = loadRules(y + rule("evt.type = open and proc.name in (c)"), file: "hostile.yaml")
        let e = errors(diags).map(\.description)
        #expect(e.contains("hostile.yaml:1:3: error: list 'a': list cycle: a -> b -> a"))
        #expect(e.contains("hostile.yaml:3:3: error: list 'b': list cycle: a -> b -> a"))
        #expect(e.contains("hostile.yaml:7:3: error: list 'self': list cycle: self -> self"))
        #expect(e.contains { $0.contains("rule 'R': list 'c' cannot be used: list cycle: a -> b -> a") })
        #expect(e.count == 4, "\(e)")
        // Lists that name lists (not cyclically) still splice.
        let ok = "- list: x\n  items: [a, '\"b\"']\n- list: y\n  items: [x, x, c]\n"
        #expect(matches("evt.type = open and proc.name in (y)", event("type: open\nprocess: {name: c}"), lists: ok))
        #expect(matches("evt.type = open and proc.name in (y)", event("type: open\nprocess: {name: b}"), lists: ok))
    }

    @Test func hundredThousandItemList() {
        let items = (0..<100_000).map { "p\($0)" }.joined(separator: ", ")
        let y = "- list: big\n  items: [\(items)]\n"
        #expect(matches("evt.type = open and proc.name in (big)", event("type: open\nprocess: {name: p99999}"), lists: y))
        #expect(!matches("evt.type = open and proc.name in (big)", event("type: open\nprocess: {name: q}"), lists: y))
    }

    @Test func megabyteOutputTemplate() {
        let d = onlyError(rule("evt.type = open", output: "\"" + String(repeating: "%", count: 1 << 20) + "\""))
        #expect(d?.description == "hostile.yaml:4:11: error: rule 'R': output: output template is 1048576 bytes, more than the limit of 64 KiB")
        // Many fields in a template under the limit: parsed in one pass.
        let many = "\"" + String(repeating: "%proc.name ", count: 5000) + "\""
        let (set, diags) = loadRules(rule("evt.type = open", output: many))
        #expect(errors(diags).isEmpty)
        #expect(set.summary.compiled == 1)
    }

    @Test func deepYAMLInRulesFile() {
        let d = onlyError(String(repeating: "[", count: 40_000) + String(repeating: "]", count: 40_000) + "\n")
        #expect(d?.description == "hostile.yaml:1:257: error: YAML nested deeper than 256")
    }
}

/// Inputs found by the fuzz targets (`make fuzz`): each crashed once; now each is an error.
@Suite struct FuzzRegressionTests {
    /// A non-transformer call nested in a right-hand transformer: `tolower(foo(...))` force-unwrapped a nil transformer.
    @Test func unknownFunctionInsideRightHandTransformer() {
        for cond in ["proc.name = tolower(foo(proc.name))", "proc.name = tolower(tolower(x(", "proc.name = toupper(val(proc.name) and proc.name = b64(a("] {
            #expect(throws: ConditionSyntaxError.self) { try ConditionParser.parse(cond) }
            let e = errors(loadRules("- rule: R\n  desc: d\n  condition: evt.type = open and \(cond)\n  output: o\n  priority: info\n").1)
            #expect(e.count == 1 && e[0].mark.line == 3 && e[0].message.hasPrefix("syntax error: "), "\(e)")
        }
    }
}
