#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilRules
import VigilCore

@Suite struct BadInputTests {
    func rule(_ cond: String, name: String = "R") -> String {
        "- rule: \(name)\n  desc: d\n  condition: \(cond)\n  output: o\n  priority: info\n"
    }

    @Test func malformedYAML() {
        let d = errors(loadRules("- rule: R\n  desc: [unclosed\n  output: x\n", file: "bad.yaml").1)
        #expect(d.count == 1)
        #expect(d.first?.mark.file == "bad.yaml")
        #expect((d.first?.mark.line ?? 0) >= 2)
        #expect(d.first?.message.contains("invalid YAML") == true)
        let top = errors(loadRules("rule: R\n").1)
        #expect(top.first?.message.contains("must be a sequence of items") == true)
    }

    @Test func missingRequiredKeys() {
        let d = errors(loadRules("- rule: R\n  desc: d\n  condition: evt.type = open\n").1)
        #expect(d.first?.description == "test.yaml:1:3: error: rule 'R': missing required keys 'output', 'priority'")
        let m = errors(loadRules("- macro: m\n").1)
        #expect(m.first?.description == "test.yaml:1:3: error: macro 'm': missing required key 'condition'")
        let l = errors(loadRules("- list: l\n").1)
        #expect(l.first?.message == "missing required key 'items'")
        let p = errors(loadRules("- rule: R\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: loud\n").1)
        #expect(p.first?.mark.line == 5 && p.first?.mark.column == 13 && p.first?.message.contains("invalid priority 'loud'") == true)
    }

    /// Falco's configuration-level `rules:` selectors, in order over the files' `enabled`.
    @Test func configurationSelectorsEnableAndDisable() {
        let text = """
        - rule: Shell A
          desc: d
          condition: evt.type = execve
          output: o
          priority: WARNING
          tags: [shell, T1059]
        - rule: Shell B
          desc: d
          condition: evt.type = execve
          output: o
          priority: WARNING
          tags: [shell]
        - rule: Net C
          desc: d
          condition: evt.type = connect
          output: o
          priority: WARNING
          enabled: false
          tags: [network]

        """
        var options = RuleLoadOptions()
        options.selectors = [RuleSelector(.disable, rule: "*"), RuleSelector(.enable, tag: "T1059"), RuleSelector(.enable, rule: "Net*")]
        let (set, d) = loadRules(text, options: options)
        #expect(errors(d).isEmpty)
        let on = Dictionary(uniqueKeysWithValues: set.rules.map { ($0.name, $0.enabled) })
        #expect(on == ["Shell A": true, "Shell B": false, "Net C": true])
        options.selectors = [RuleSelector(.disable, tag: "shell")]
        let on2 = Dictionary(uniqueKeysWithValues: loadRules(text, options: options).0.rules.map { ($0.name, $0.enabled) })
        #expect(on2 == ["Shell A": false, "Shell B": false, "Net C": false])
    }

    /// Falco 0.44: an unknown key in an item is an error naming the key and its place;
    /// `rules_unknown_keys: warn` (RuleLoadOptions.unknownKeys) makes it a warning.
    @Test func unknownKeyIsAnErrorUnlessWarned() throws {
        let text = rule("evt.type = open") + "  colour: red\n"
        let d = errors(loadRules(text).1)
        #expect(d.map(\.description) == ["test.yaml:6:3: error: rule 'R': unknown key 'colour' (set rules_unknown_keys: warn to ignore it)"])
        for item in ["- macro: m\n  condition: evt.type = open\n  condtion: x\n", "- list: l\n  items: [a]\n  item: [b]\n"] {
            let e = errors(loadRules(item).1)
            #expect(e.count == 1 && e.first?.mark.line == 3 && e.first?.mark.column == 3, "\(e)")
        }
        var options = RuleLoadOptions()
        options.unknownKeys = .warn
        let (set, w) = loadRules(text, options: options)
        #expect(errors(w).isEmpty)
        #expect(w.contains { $0.severity == .warning && $0.description == "test.yaml:6:3: warning: rule 'R': unknown key 'colour' ignored" })
        #expect(set.summary.compiled == 1)
        // Falco's own files use no key Vigil does not know.
        if let dir = falcoRulesDir() {
            let (_, fd) = try RuleSet.load(paths: [dir + "/falco_rules.yaml", dir + "/falco-incubating_rules.yaml", dir + "/falco-sandbox_rules.yaml"])
            #expect(!fd.contains { $0.message.contains("unknown key") })
        }
    }

    @Test func undefinedMacroAndList() {
        let d = errors(loadRules(rule("evt.type = open and not_a_macro")).1)
        #expect(d.first?.description == "test.yaml:3:34: error: rule 'R': undefined macro 'not_a_macro'")
        let l = errors(loadRules("- list: l\n  items: [a]\n  append: true\n").1)
        #expect(l.first?.message.contains("cannot append to list 'l': it is not defined earlier") == true)
        #expect(l.first?.item == "list 'l'")
    }

    @Test func macroCycle() {
        let d = errors(loadRules("- macro: a\n  condition: b\n- macro: b\n  condition: evt.type = open and a\n" + rule("a")).1)
        #expect(d.first?.message.contains("macro cycle: a -> b -> a") == true)
        #expect(d.first?.item == "rule 'R'")
    }

    @Test func invalidRegexAndGlob() {
        let r = errors(loadRules(rule("evt.type = open and fd.name regex 'a(b'")).1)
        #expect(r.first?.mark.line == 3 && r.first?.mark.column == 48)
        #expect(r.first?.message.contains("invalid regex 'a(b'") == true)
        let g = errors(loadRules(rule("evt.type = open and fd.name glob '/etc/[a'")).1)
        #expect(g.first?.message.contains("unclosed '['") == true && g.first?.mark.column == 47)
    }

    @Test func unknownFieldInRuleAndMacro() {
        let d = errors(loadRules(rule("evt.type = execve and proc.nope = x")).1)
        #expect(d.first?.description == "test.yaml:3:36: error: rule 'R': unknown field 'proc.nope'")
        let m = errors(loadRules("- macro: m\n  condition: >\n    evt.type = execve and\n    proc.bogus = x\n" + rule("m")).1)
        #expect(m.first?.mark.line == 4 && m.first?.mark.column == 5, "\(m)")
        #expect(m.first?.message == "in macro 'm': unknown field 'proc.bogus'")
        let o = errors(loadRules("- rule: R\n  desc: d\n  condition: evt.type = open\n  output: file=%fd.nam\n  priority: info\n").1)
        #expect(o.first?.message == "output: unknown field 'fd.nam'" && o.first?.mark.line == 4 && o.first?.mark.column == 16)
    }

    @Test func syntaxErrorPosition() {
        let d = errors(loadRules(rule("evt.type = open and (proc.name = a")).1)
        #expect(d.first?.mark.line == 3 && d.first?.message.contains("missing ')'") == true)
        let s = errors(loadRules("- macro: m\n  condition: proc.name in (a\n").1)
        #expect(s.first?.item == "macro 'm'" && s.first?.message.contains("syntax error") == true)
    }

    @Test func skipIfUnknownFilterAndUnsupported() {
        let (set, d) = loadRules(rule("evt.type = open and proc.nope = x") + "  skip-if-unknown-filter: true\n")
        #expect(errors(d).isEmpty)
        #expect(set.summary.skipped.first?.reason == "unknown field 'proc.nope'")
        let (s2, d2) = loadRules(rule("evt.type = execve and evt.buffer contains X"))
        #expect(errors(d2).isEmpty)
        #expect(s2.summary.skipped.first?.reason.contains("not supported by Vigil") == true)
        let (s3, _) = loadRules(rule("ka.verb = get") + "  source: k8s_audit\n")
        #expect(s3.summary.skipped.first?.reason.contains("source 'k8s_audit'") == true)
    }

    @Test func loadThrowsOnErrorsUnlessSkipping() throws {
        let path = "/tmp/vigil-rules-test-\(UInt32.random(in: 0...UInt32.max)).yaml"
        let text = rule("evt.type = open") + rule("evt.type = open and nope", name: "Broken")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        defer { unlink(path) }
        #expect(throws: RuleLoadError.self) { _ = try RuleSet.load(paths: [path]) }
        var o = RuleLoadOptions()
        o.skipInvalidRules = true
        let (set, d) = try RuleSet.load(paths: [path], options: o)
        #expect(set.rules.map(\.name) == ["R"])
        #expect(errors(d).count == 1)
        #expect(throws: RuleLoadError.self) { _ = try RuleSet.load(paths: ["/nonexistent/rules.yaml"]) }
    }

    @Test func engineVersion() {
        let d = errors(loadRules("- required_engine_version: 99.0.0\n").1)
        #expect(d.first?.message.contains("require engine version 99.0.0") == true)
        #expect(errors(loadRules("- required_engine_version: 12\n").1).isEmpty)
    }
}
