import Testing
@testable import VigilAgent
import VigilRules

@Suite struct RuleSelectorConfigTests {
    struct Root: Equatable { var rules: [RuleSelector] = [] }
    static var fields: [FieldSpec<Root>] { [.ruleSelectors("rules", \.rules)] }

    static func decode(_ text: String, overrides: [String] = []) throws(ConfigError) -> Root {
        var node = try ConfigYAML.parse(text, origin: "c.yaml")
        for o in overrides { try ConfigLoader.applyOverride(o, to: &node) }
        var r = Root()
        try ConfigValue.decodeMapping(&r, node, "", fields)
        return r
    }

    @Test func readsFromConfigAndOverrides() throws {
        let r = try Self.decode("rules:\n  - disable: {rule: '*'}\n  - enable:\n      tag: T1059\n",
                                overrides: ["rules[]={enable: {rule: Shell*}}"])
        #expect(r.rules == [RuleSelector(.disable, rule: "*"), RuleSelector(.enable, tag: "T1059"), RuleSelector(.enable, rule: "Shell*")])
        #expect(r.rules[1].origin == "c.yaml:3:5")
        #expect(r.rules[2].origin.hasPrefix("-o rules[]="))
        let replaced = try Self.decode("rules: [{enable: {rule: a}}]", overrides: ["rules=[{disable: {tag: t}}]"])
        #expect(replaced.rules == [RuleSelector(.disable, tag: "t")])
    }

    @Test func errorsNameTheKeyAndPosition() {
        #expect {
            _ = try Self.decode("rules:\n  - enable: {rule: a}\n  - enable: {rul: b}\n")
        } throws: { e in
            let e = e as! ConfigError
            return e.key == "rules[1].enable.rul" && e.source.description == "c.yaml:3:14"
                && e.description.hasPrefix("c.yaml:3:14: rules[1].enable.rul: unknown key")
        }
        #expect {
            _ = try Self.decode("rules: {}", overrides: ["rules=[{enable: 3}]"])
        } throws: { e in
            let e = e as! ConfigError
            return e.key == "rules[0].enable" && e.source.origin == "-o rules=[{enable: 3}]"
        }
    }

    @Test func printsBackAsLoaded() throws {
        let r = try Self.decode("rules:\n  - disable: {rule: '*'}\n  - enable: {tag: net, rule: 'x: y'}\n")
        let node = ConfigValue.encodeMapping(r, Self.fields)
        var again = Root()
        try ConfigValue.decodeMapping(&again, node, "", Self.fields)
        #expect(again == r)
    }
}
