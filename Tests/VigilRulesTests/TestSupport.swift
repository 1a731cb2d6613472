#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilRules
import VigilDecode
import VigilState

/// Loads rules from YAML text.
func loadRules(_ yaml: String, file: String = "test.yaml", options: RuleLoadOptions = RuleLoadOptions()) -> (RuleSet, [Diagnostic]) {
    var loader = RuleLoader(unknownKeys: options.unknownKeys)
    loader.load(text: Array(yaml.utf8), file: file)
    return RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics, options: options)
}

/// Diagnostics of a load that are errors.
func errors(_ d: [Diagnostic]) -> [Diagnostic] { d.filter { $0.severity == .error } }

/// One synthetic event from a rule-test `event:` YAML body (indented under `event:`).
func event(_ body: String) -> SyntheticEvent {
    let yaml = "tests:\n- name: t\n  event:\n" + body.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n") + "\n  expect: {fire: [x]}\n"
    let (cases, diags) = RuleTestRunner.load(text: Array(yaml.utf8), file: "event.yaml")
    #expect(errors(diags).isEmpty, "\(diags)")
    return cases.first!.events.first!
}

/// Compiles `condition` as the only rule and evaluates it on `ev`.
func matches(_ condition: String, _ ev: SyntheticEvent, lists: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    let yaml = lists + """

    - rule: r
      desc: d
      condition: \(condition.contains("\n") || condition.contains(": ") || condition.hasPrefix("\"") ? "|\n    " + condition.replacingOccurrences("\n", "\n    ") : condition)
      output: o
      priority: WARNING
      warn_evttypes: false
    """
    let (set, diags) = loadRules(yaml)
    #expect(errors(diags).isEmpty, "\(diags)", sourceLocation: sourceLocation)
    guard set.rules.count == 1 else { return false }
    let s = set.makeScratch(hostname: "h")
    for (k, v) in ev.userNames { s.userNames[k] = v }
    let tree = ev.withContext { set.matches(rule: 0, $0, scratch: s) } ?? false
    // The agent's path (guard tree and branch program) must say the same as the condition tree.
    var viaMatch = false
    _ = ev.withContext { set.match($0, scratch: s) { _ in viaMatch = true } }
    #expect(viaMatch == tree, "match() says \(viaMatch), the condition tree \(tree): \(condition)", sourceLocation: sourceLocation)
    return tree
}

/// The error diagnostics for a condition that must not compile.
func compileErrors(_ condition: String, lists: String = "") -> [Diagnostic] {
    let yaml = lists + "\n- rule: r\n  desc: d\n  condition: \(condition)\n  output: o\n  priority: WARNING\n"
    return errors(loadRules(yaml).1)
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) { out += rest[..<r.lowerBound] + b; rest = rest[r.upperBound...] }
        return out + rest
    }
    func range(of s: String) -> Range<String.Index>? {
        guard !s.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(s) { return i..<index(i, offsetBy: s.count) }
            i = index(after: i)
        }
        return nil
    }
}

extension Substring {
    func range(of s: String) -> Range<String.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(s) { return i..<index(i, offsetBy: s.count) }
            i = index(after: i)
        }
        return nil
    }
}

/// The repository root (this file is Tests/VigilRulesTests/TestSupport.swift).
func repoRoot() -> String {
    var p = #filePath
    for _ in 0..<3 { if let s = p.lastIndex(of: "/") { p = String(p[..<s]) } }
    return p
}

/// The Falco rules directory: $VIGIL_FALCO_RULES_DIR or <repo>/../shared/falco-rules.
func falcoRulesDir() -> String? {
    if let e = getenv("VIGIL_FALCO_RULES_DIR") { return String(cString: e) }
    let d = repoRoot() + "/../shared/falco-rules"
    return access(d + "/falco_rules.yaml", R_OK) == 0 ? d : nil
}
