import Testing
import VigilDecode
@testable import VigilRules

@Suite struct FalcoCompatibilityTests {
    static let dir = falcoRulesDir()

    @Test(.enabled(if: dir != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func stableRulesCompileFully() throws {
        let (set, diags) = try RuleSet.load(paths: [Self.dir! + "/falco_rules.yaml"])
        #expect(errors(diags).isEmpty, "\(diags)")
        #expect(set.summary.rules == 25)
        #expect(set.summary.compiled == 25, "skipped: \(set.summary.skipped.map { "\($0.name): \($0.reason)" })")
        #expect(set.summary.skipped.isEmpty)
        // No field the stable rules use is unknown or unsupported.
        var loader = RuleLoader()
        loader.load(paths: [Self.dir! + "/falco_rules.yaml"])
        let used = FieldUsage.collect(loader.source)
        #expect(used.count == 65, "fields used: \(used.keys.sorted())")
        for (name, _) in used {
            let def = FieldCatalog.lookup(name) ?? FieldCatalog.lookup(FieldUsage.baseName(name))
            #expect(def != nil, "unknown field \(name)")
            #expect(def?.0.unsupported == nil, "unsupported field \(name)")
        }
        #expect(set.requiredEventTypes.contains(EventTypeName.execve))
    }

    @Test(.enabled(if: dir != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"),
          arguments: ["falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"])
    func otherRulesLoadWithReasons(file: String) throws {
        // Loaded after the stable file, as Falco users do.
        let (set, diags) = try RuleSet.load(paths: [Self.dir! + "/falco_rules.yaml", Self.dir! + "/" + file])
        #expect(errors(diags).isEmpty, "\(errors(diags))")
        #expect(set.summary.compiled + set.summary.skipped.count == set.summary.rules)
        for s in set.summary.skipped {
            #expect(!s.reason.isEmpty)
            #expect(diags.contains { $0.item == "rule '\(s.name)'" && $0.message.contains(s.reason) })
        }
    }
}

enum EventTypeName {
    static let execve = EventType(name: "execve")!
}
