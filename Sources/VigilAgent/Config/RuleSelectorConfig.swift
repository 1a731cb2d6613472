import VigilCore
import VigilRules

extension FieldSpec {
    /// A Falco-style `rules:` selection list (``RuleSelector`` items: `- enable: {rule: NAME}`,
    /// `- disable: {tag: TAG}`), with errors naming the item (`key[2].enable.rule`) and its position.
    static func ruleSelectors(_ key: String, _ kp: WritableKeyPath<Root, [RuleSelector]>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            r[keyPath: kp] = try ConfigValue.ruleSelectors(n, p)
        }, encode: { root in
            ConfigNode(RuleSelector.tree(root[keyPath: kp], mark: SourceMark(file: "effective", line: 0, column: 0)))
        })
    }
}

extension ConfigValue {
    /// Reads a ``RuleSelector`` list from a configuration node.
    static func ruleSelectors(_ n: ConfigNode, _ p: String) throws(ConfigError) -> [RuleSelector] {
        do throws(RuleSelectorError) {
            return try RuleSelector.parse(RuleSelector.Tree(n), key: p)
        } catch {
            throw ConfigError(key: error.key, source: ConfigSource(error.mark), message: error.message)
        }
    }
}

extension ConfigSource {
    /// The configuration position of a rules-module mark.
    init(_ m: SourceMark) { self.init(origin: m.file, line: m.line, column: m.column) }
}

extension SourceMark {
    /// The rules-module mark of a configuration position.
    init(_ s: ConfigSource) { self.init(file: s.origin, line: s.line, column: s.column) }
}

extension RuleSelector.Tree {
    /// The neutral view of a configuration node.
    init(_ n: ConfigNode) {
        let m = SourceMark(n.source)
        switch n.kind {
        case .scalar(let s, _): self = .scalar(s, null: n.isNull, mark: m)
        case .sequence(let items): self = .sequence(items.map(RuleSelector.Tree.init), mark: m)
        case .mapping(let pairs): self = .mapping(pairs.map { ($0.key, SourceMark($0.keySource), RuleSelector.Tree($0.value)) }, mark: m)
        }
    }
}

extension ConfigNode {
    /// A configuration node from the neutral tree (for printing the effective configuration).
    init(_ t: RuleSelector.Tree) {
        switch t {
        case .scalar(let s, _, let m): self.init(.scalar(s, plain: false), source: ConfigSource(m))
        case .sequence(let items, let m): self.init(.sequence(items.map(ConfigNode.init)), source: ConfigSource(m))
        case .mapping(let pairs, let m):
            self.init(.mapping(pairs.map { ($0.key, ConfigSource($0.keyMark), ConfigNode($0.value)) }), source: ConfigSource(m))
        }
    }
}
