import Testing
import VigilCore
import VigilRules

@Suite struct RuleSelectorTests {
    static func tree(_ yaml: String, file: String = "sel.yaml") throws -> RuleSelector.Tree {
        let docs = try YAMLDocumentParser.parse(Array(yaml.utf8), file: file)
        return RuleSelector.Tree(docs[0])
    }

    @Test func wildcardsAsFalco() {
        #expect(RuleSelector.wildcardMatch("Terminal shell in container", "Terminal shell in container"))
        #expect(!RuleSelector.wildcardMatch("Terminal shell", "Terminal shell in container"))
        #expect(RuleSelector.wildcardMatch("*", "anything"))
        #expect(RuleSelector.wildcardMatch("*", ""))
        #expect(RuleSelector.wildcardMatch("Terminal*", "Terminal shell in container"))
        #expect(RuleSelector.wildcardMatch("*container", "Terminal shell in container"))
        #expect(RuleSelector.wildcardMatch("*shell*", "Terminal shell in container"))
        #expect(RuleSelector.wildcardMatch("T*l*r", "Terminal shell in container"))
        #expect(!RuleSelector.wildcardMatch("*shellx*", "Terminal shell in container"))
        #expect(!RuleSelector.wildcardMatch("terminal*", "Terminal shell"), "case-sensitive like Falco")
        #expect(!RuleSelector.wildcardMatch("a?c", "abc"), "only '*' is a wildcard")
        #expect(RuleSelector.wildcardMatch("a?c", "a?c"))
        #expect(RuleSelector.wildcardMatch("**a", "bba"))
    }

    @Test func itemsApplyInOrder() throws {
        let sel = try RuleSelector.parse(Self.tree("""
            - disable:
                rule: "*"
            - enable:
                tag: T1059
            - disable:
                rule: Noisy*
            - enable:
                rule: Noisy but wanted
            """), key: "rules")
        #expect(sel.count == 4)
        #expect(sel[0] == RuleSelector(.disable, rule: "*"))
        #expect(sel[1] == RuleSelector(.enable, tag: "T1059"))
        #expect(sel[1].origin == "sel.yaml:3:3")
        func on(_ name: String, _ tags: [String] = [], initially: Bool = true) -> Bool {
            RuleSelector.select(sel, name: name, tags: tags, initially: initially)
        }
        #expect(!on("Anything"))
        #expect(on("Shell", ["T1059", "shell"]))
        #expect(!on("Noisy shell", ["T1059"]), "a later disable wins over an earlier enable")
        #expect(on("Noisy but wanted"))
        #expect(RuleSelector.select([], name: "x", tags: [], initially: false) == false)
        #expect(RuleSelector.select([], name: "x", tags: [], initially: true) == true)
    }

    @Test func ruleAndTagInOneItemBothApply() throws {
        let sel = try RuleSelector.parse(Self.tree("- enable: {rule: A, tag: t}"), key: "rules")
        #expect(RuleSelector.select(sel, name: "A", tags: [], initially: false))
        #expect(RuleSelector.select(sel, name: "B", tags: ["t"], initially: false))
        #expect(!RuleSelector.select(sel, name: "B", tags: ["u"], initially: false))
        #expect(sel[0].description == "enable rule 'A' and tag 't'")
    }

    @Test func nullAndEmptyAreNoItems() throws {
        #expect(try RuleSelector.parse(Self.tree("~"), key: "rules").isEmpty)
        #expect(try RuleSelector.parse(Self.tree("[]"), key: "rules").isEmpty)
    }

    @Test func unmatchedItemsAreReported() throws {
        let sel = try RuleSelector.parse(Self.tree("- enable: {rule: Typo rule}\n- enable: {tag: net}\n"), key: "rules")
        let u = RuleSelector.unmatched(sel, rules: [(name: "Real rule", tags: ["net"])])
        #expect(u == [RuleSelector(.enable, rule: "Typo rule")])
    }

    @Test(arguments: [
        ("enable: {rule: x}", "enforcement.rules", "sel.yaml:1:1", "expected a list"),
        ("- enable: {rule: x}\n- {enable: {rule: y}, disable: {rule: z}}", "enforcement.rules[1]", "sel.yaml:2:3", "expected one 'enable:' or 'disable:' key"),
        ("- enabled: {rule: x}", "enforcement.rules[0].enabled", "sel.yaml:1:3", "expected 'enable' or 'disable'"),
        ("- enable: x", "enforcement.rules[0].enable", "sel.yaml:1:11", "expected a mapping"),
        ("- enable: {}", "enforcement.rules[0].enable", "sel.yaml:1:11", "needs 'rule:'"),
        ("- enable:\n    rules: x", "enforcement.rules[0].enable.rules", "sel.yaml:2:5", "expected 'rule' or 'tag'"),
        ("- disable:\n    tag: [a, b]", "enforcement.rules[0].disable.tag", "sel.yaml:2:10", "expected a non-empty tag"),
        ("- disable:\n    rule: ''", "enforcement.rules[0].disable.rule", "sel.yaml:2:11", "expected a non-empty rule name"),
    ])
    func badItemsNameTheKeyAndPlace(yaml: String, key: String, place: String, message: String) throws {
        #expect {
            _ = try RuleSelector.parse(Self.tree(yaml), key: "enforcement.rules")
        } throws: { e in
            guard let e = e as? RuleSelectorError else { return false }
            return e.key == key && e.mark.description == place && e.message.contains(message)
        }
    }
}
