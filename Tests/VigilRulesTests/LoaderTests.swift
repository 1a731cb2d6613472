import Testing
import VigilDecode
@testable import VigilRules
import VigilCore

@Suite struct LoaderTests {
    let base = """
    - required_engine_version: 0.50.0
    - list: shells
      items: [bash, sh]
    - macro: spawned
      condition: evt.type in (execve, execveat)
    - macro: shell
      condition: spawned and proc.name in (shells)
    - rule: Shell
      desc: a shell ran
      condition: shell
      output: "shell %proc.name (parent %proc.pname)"
      priority: info
      tags: [shell, T1059]
    """
    let bash = event("type: execve\nprocess: {exepath: /bin/bash, parents: [{exepath: /usr/sbin/nginx}]}")
    let zsh = event("type: execve\nprocess: {exepath: /bin/zsh, parents: [{exepath: /usr/sbin/nginx}]}")

    func fires(_ set: RuleSet, _ ev: SyntheticEvent, _ rule: String = "Shell") -> Bool {
        guard let k = set.rules.firstIndex(where: { $0.name == rule }) else { return false }
        let s = set.makeScratch(hostname: "h")
        return ev.withContext { set.matches(rule: k, $0, scratch: s) } ?? false
    }

    @Test func basicLoad() {
        let (set, diags) = loadRules(base)
        #expect(diags.isEmpty, "\(diags)")
        #expect(set.summary.rules == 1 && set.summary.macros == 2 && set.summary.lists == 1 && set.summary.compiled == 1)
        #expect(set.rules[0].priority == .informational)
        #expect(set.rules[0].tags == ["shell", "T1059"])
        #expect(Set(set.requiredEventTypes.map(\.name)) == ["execve", "execveat"])
        #expect(fires(set, bash) && !fires(set, zsh))
    }

    @Test func listAppendAndOverride() {
        let (a, _) = loadRules(base + "\n- list: shells\n  items: [zsh]\n  append: true\n")
        #expect(fires(a, bash) && fires(a, zsh))
        let (b, d) = loadRules(base + "\n- list: shells\n  items: [zsh]\n  override:\n    items: replace\n")
        #expect(errors(d).isEmpty, "\(d)")
        #expect(!fires(b, bash) && fires(b, zsh))
        let (c, _) = loadRules(base + "\n- list: shells\n  items: [zsh]\n  override:\n    items: append\n")
        #expect(fires(c, bash) && fires(c, zsh))
    }

    @Test func macroAppendAndReplace() {
        let (a, _) = loadRules(base + "\n- macro: shell\n  condition: and proc.pname = nginx\n  override:\n    condition: append\n")
        #expect(fires(a, bash))
        let (b, _) = loadRules(base + "\n- macro: shell\n  condition: and proc.pname = apache\n  append: true\n")
        #expect(!fires(b, bash))
        let (c, _) = loadRules(base + "\n- macro: shell\n  condition: spawned and proc.name = zsh\n  override:\n    condition: replace\n")
        #expect(!fires(c, bash) && fires(c, zsh))
    }

    @Test func ruleOverrideAppendReplaceAndRedefinition() {
        let (a, d) = loadRules(base + """

        - rule: Shell
          condition: and not proc.pname = nginx
          output: more=%proc.exepath
          priority: critical
          tags: [extra]
          override:
            condition: append
            output: append
            priority: replace
            tags: append
        """)
        #expect(errors(d).isEmpty, "\(d)")
        #expect(!fires(a, bash))
        #expect(a.rules[0].priority == .critical)
        #expect(a.rules[0].tags == ["shell", "T1059", "extra"])
        let s = a.makeScratch(hostname: "h")
        let msg = bash.withContext { a.alert(rule: 0, $0, scratch: s).message }
        #expect(msg == "shell bash (parent nginx) more=/bin/bash")
        // Redefinition replaces the rule; a rule with only `enabled` toggles it.
        let (b, _) = loadRules(base + "\n- rule: Shell\n  desc: x\n  condition: spawned and proc.name = zsh\n  output: o\n  priority: debug\n")
        #expect(b.rules.count == 1 && fires(b, zsh) && !fires(b, bash) && b.rules[0].priority == .debug)
        let (c, _) = loadRules(base + "\n- rule: Shell\n  enabled: false\n")
        #expect(c.rules[0].enabled == false && c.requiredEventTypes.isEmpty)
        let (e, _) = loadRules(base + "\n- rule: Shell\n  enabled: false\n  override:\n    enabled: replace\n")
        #expect(e.rules[0].enabled == false)
        // Legacy append on a rule.
        let (f, _) = loadRules(base + "\n- rule: Shell\n  condition: and proc.pname = apache\n  append: true\n")
        #expect(!fires(f, bash))
    }

    @Test func overrideRulesOnKeys() {
        // priority cannot be appended; override names a missing key; a present key must be listed.
        let d1 = errors(loadRules(base + "\n- rule: Shell\n  priority: debug\n  override:\n    priority: append\n").1)
        #expect(d1.contains { $0.message.contains("key 'priority' cannot be appended to, use 'replace' instead") && $0.mark.line == 17 && $0.item == "rule 'Shell'" })
        let d2 = errors(loadRules(base + "\n- rule: Shell\n  override:\n    condition: append\n").1)
        #expect(d2.contains { $0.message.contains("override names key 'condition' but the item does not define it") && $0.mark.line == 16 })
        let d3 = errors(loadRules(base + "\n- rule: Shell\n  condition: and x\n  output: y\n  override:\n    condition: append\n").1)
        #expect(d3.contains { $0.message.contains("key 'output' is given but not listed in override") && $0.mark.line == 16 })
        let d4 = errors(loadRules("- rule: Missing\n  condition: x\n  override:\n    condition: append\n").1)
        #expect(d4.contains { $0.message.contains("it is not defined earlier") && $0.mark.line == 1 })
        let d5 = errors(loadRules(base + "\n- list: shells\n  items: [zsh]\n  override:\n    items: merge\n").1)
        #expect(d5.contains { $0.message.contains("must be 'append' or 'replace'") })
    }

    @Test func exceptions() {
        let rule = """
        - rule: Shell
          desc: d
          condition: evt.type = execve and proc.name in (bash, zsh)
          output: o
          priority: warning
          exceptions:
            - name: by_parent
              fields: [proc.pname, proc.name]
              comps: [=, in]
              values:
                - [nginx, [bash, dash]]
            - name: by_name
              fields: proc.name
              values: [fish]
            - name: empty
              fields: [proc.name]
        """
        let (set, d) = loadRules(rule)
        #expect(errors(d).isEmpty, "\(d)")
        #expect(!fires(set, bash))   // nginx -> bash is excepted
        #expect(fires(set, zsh))
        // Appending values to an exception.
        let (b, d2) = loadRules(rule + "\n- rule: Shell\n  exceptions:\n    - name: by_parent\n      values: [[nginx, zsh]]\n  override:\n    exceptions: append\n")
        #expect(errors(d2).isEmpty, "\(d2)")
        #expect(!fires(b, zsh))
        // Bad exceptions name their place.
        let d3 = errors(loadRules("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: info\n  exceptions:\n    - name: e\n      fields: [proc.name, proc.pname]\n      comps: [=]\n").1)
        #expect(d3.contains { $0.message.contains("different lengths") && $0.mark.line == 9 })
        let d4 = errors(loadRules("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: info\n  exceptions:\n    - name: e\n      fields: [proc.nope]\n      values: [[a]]\n").1)
        #expect(d4.contains { $0.message.contains("exception 'e': unknown field 'proc.nope'") && $0.mark.line == 7 })
    }

    @Test func listsNamingListsAndMacrosUsingMacros() {
        let (set, d) = loadRules("""
        - list: a
          items: [bash]
        - list: b
          items: [a, zsh]
        - macro: m1
          condition: proc.name in (b)
        - macro: m2
          condition: evt.type = execve and m1
        - rule: Shell
          desc: d
          condition: m2
          output: o
          priority: notice
        """)
        #expect(errors(d).isEmpty)
        #expect(fires(set, bash) && fires(set, zsh))
    }

    @Test func laterFilesOverrideEarlier() throws {
        var loader = RuleLoader()
        loader.load(text: Array(base.utf8), file: "a.yaml")
        loader.load(text: Array("- list: shells\n  items: [zsh]\n  override:\n    items: replace\n".utf8), file: "b.yaml")
        let (set, d) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics)
        #expect(errors(d).isEmpty)
        #expect(fires(set, zsh) && !fires(set, bash))
        #expect(set.summary.files == ["a.yaml", "b.yaml"])
    }

    @Test func ruleMatchingFirstAndAll() {
        let two = base + "\n- rule: Second\n  desc: d\n  condition: spawned\n  output: o\n  priority: info\n"
        var opts = RuleLoadOptions()
        opts.matching = .first
        let (first, _) = loadRules(two, options: opts)
        opts.matching = .all
        let (all, _) = loadRules(two, options: opts)
        let s = first.makeScratch(hostname: "h")
        var a: [String] = [], b: [String] = []
        _ = bash.withContext { ctx in
            first.evaluate(ctx, scratch: s) { a.append($0.rule) }
            all.evaluate(ctx, scratch: s) { b.append($0.rule) }
        }
        #expect(a == ["Shell"])
        #expect(b == ["Shell", "Second"])
        // Priority filter disables rules below the minimum.
        opts.minimumPriority = .warning
        let (filtered, _) = loadRules(two, options: opts)
        #expect(filtered.summary.enabled == 0)
    }

    @Test func noEventTypeRestrictionWarns() {
        let (set, d) = loadRules("- rule: Any\n  desc: d\n  condition: proc.name = bash\n  output: o\n  priority: info\n")
        #expect(d.contains { $0.severity == .warning && $0.message.contains("matches all event types") && $0.mark.line == 3 })
        #expect(set.rules[0].eventTypes.count == EventTypeCount.all)
        let (_, d2) = loadRules("- rule: Any\n  desc: d\n  condition: evt.type != open\n  output: o\n  priority: info\n  warn_evttypes: false\n")
        #expect(!d2.contains { $0.message.contains("matches all event types") })
        let (s3, _) = loadRules("- rule: Few\n  desc: d\n  condition: not evt.type in (open, openat) and evt.type != close and evt.type in (open, close, connect)\n  output: o\n  priority: info\n")
        #expect(s3.rules[0].eventTypes.map(\.name) == ["connect"])
        let (s4, d4) = loadRules("- rule: Unk\n  desc: d\n  condition: evt.type = sendfile\n  output: o\n  priority: info\n")
        #expect(s4.summary.skipped.first?.reason.contains("sendfile") == true)
        #expect(errors(d4).isEmpty)
    }
}

enum EventTypeCount { static let all = EventType.all.count }
