import VigilCore

/// One item of a Falco-style `rules:` selection list: enable or disable the rules
/// whose name matches `rule` (wildcards `*`) and/or that carry the tag `tag`.
///
/// Falco's `falco.yaml` selects rules this way:
/// ```yaml
/// rules:
///   - disable:
///       rule: "*"
///   - enable:
///       tag: T1059
///   - enable:
///       rule: Drop and execute new binary in container
/// ```
/// Items apply in order, each overriding the ones before it for the rules it matches
/// (``RuleSelector/select(_:name:tags:initially:)``). An item naming both `rule` and
/// `tag` applies both, as Falco does. Vigil uses the same shape for the configuration's
/// top-level `rules:` and for `enforcement.rules` (which rules enforce).
package struct RuleSelector: Sendable, Equatable, CustomStringConvertible {
    /// What a matching item does.
    package enum Operation: String, Sendable, Equatable { case enable, disable }

    /// Enable or disable.
    package var operation: Operation
    /// A rule-name pattern (`*` matches any run of characters), or nil.
    package var rule: String?
    /// A tag (exact, case-sensitive), or nil.
    package var tag: String?
    /// Where the item was written (`file:line:column` or `-o ...`), for messages; not part of equality.
    package var origin: String

    package init(_ operation: Operation, rule: String? = nil, tag: String? = nil, origin: String = "") {
        self.operation = operation; self.rule = rule; self.tag = tag; self.origin = origin
    }

    package static func == (a: RuleSelector, b: RuleSelector) -> Bool {
        a.operation == b.operation && a.rule == b.rule && a.tag == b.tag
    }

    /// `enable rule 'X'`, `disable tag 'T'`.
    package var description: String {
        var parts: [String] = []
        if let rule { parts.append("rule '\(rule)'") }
        if let tag { parts.append("tag '\(tag)'") }
        return operation.rawValue + " " + parts.joined(separator: " and ")
    }

    /// Whether this item concerns a rule with `name` and `tags`.
    package func matches(name: String, tags: [String]) -> Bool {
        if let rule, Self.wildcardMatch(rule, name) { return true }
        if let tag, tags.contains(tag) { return true }
        return false
    }

    /// Whether a rule ends up selected after applying `selectors` in order, starting from `initially`.
    package static func select(_ selectors: [RuleSelector], name: String, tags: [String], initially: Bool) -> Bool {
        var on = initially
        for s in selectors where s.matches(name: name, tags: tags) { on = s.operation == .enable }
        return on
    }

    /// Items that match none of `rules` (name, tags): a likely typo worth a warning.
    package static func unmatched(_ selectors: [RuleSelector], rules: [(name: String, tags: [String])]) -> [RuleSelector] {
        selectors.filter { s in !rules.contains { s.matches(name: $0.name, tags: $0.tags) } }
    }

    /// Falco's wildcard match: `*` matches any run of characters (including none); every other
    /// character matches itself. Without `*` the pattern must equal the name.
    package static func wildcardMatch(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern.utf8), s = Array(name.utf8)
        var pi = 0, si = 0
        var star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] == s[si] {
                pi += 1; si += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi; mark = si; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; si = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}

/// Why a selection list could not be read: the key path (`enforcement.rules[1].enable.tag`), where, and what.
package struct RuleSelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path with list indexes.
    package var key: String
    /// 1-based line and column (0 when not from a file) and origin.
    package var mark: SourceMark
    package var message: String
    package init(key: String, mark: SourceMark, message: String) { self.key = key; self.mark = mark; self.message = message }
    package var description: String { "\(mark.line > 0 ? mark.description : mark.file): \(key): \(message)" }
}

extension RuleSelector {
    /// A neutral view of a YAML node for ``parse(_:key:)``: both the rules loader's
    /// ``YAMLNode`` and the agent configuration's tree can present themselves this way.
    package enum Tree: Sendable {
        case scalar(String, null: Bool, mark: SourceMark)
        case sequence([Tree], mark: SourceMark)
        case mapping([(key: String, keyMark: SourceMark, value: Tree)], mark: SourceMark)

        var mark: SourceMark {
            switch self {
            case .scalar(_, _, let m), .sequence(_, let m), .mapping(_, let m): return m
            }
        }
        var shape: String {
            switch self {
            case .scalar(let s, _, _): return "'\(s)'"
            case .sequence: return "a list"
            case .mapping: return "a mapping"
            }
        }
    }

    private static func origin(_ m: SourceMark) -> String { m.line > 0 ? m.description : m.file }

    /// Reads a selection list: a sequence of `{enable: {rule: R, tag: T}}` / `{disable: ...}` items.
    /// Null or an empty list gives no items. Errors name the key path with its index and the position.
    package static func parse(_ node: Tree, key: String) throws(RuleSelectorError) -> [RuleSelector] {
        let items: [Tree]
        switch node {
        case .scalar(_, true, _): return []
        case .sequence(let s, _): items = s
        default:
            throw RuleSelectorError(key: key, mark: node.mark,
                                    message: "expected a list of '- enable: {rule: NAME}' / '- disable: {tag: TAG}' items, got \(node.shape)")
        }
        var out: [RuleSelector] = []
        for (i, item) in items.enumerated() {
            let ik = "\(key)[\(i)]"
            guard case .mapping(let pairs, let m) = item, pairs.count == 1 else {
                throw RuleSelectorError(key: ik, mark: item.mark,
                                        message: "expected one 'enable:' or 'disable:' key, got \(item.shape)")
            }
            let (opName, opMark, body) = pairs[0]
            guard let op = Operation(rawValue: opName) else {
                throw RuleSelectorError(key: "\(ik).\(opName)", mark: opMark, message: "unknown key; expected 'enable' or 'disable'")
            }
            let bk = "\(ik).\(opName)"
            guard case .mapping(let fields, _) = body else {
                throw RuleSelectorError(key: bk, mark: body.mark, message: "expected a mapping with 'rule:' and/or 'tag:', got \(body.shape)")
            }
            var sel = RuleSelector(op, origin: origin(m))
            for (fk, fm, fv) in fields {
                let fkey = "\(bk).\(fk)"
                guard fk == "rule" || fk == "tag" else {
                    throw RuleSelectorError(key: fkey, mark: fm, message: "unknown key; expected 'rule' or 'tag'")
                }
                guard case .scalar(let s, let null, _) = fv, !null, !s.isEmpty else {
                    throw RuleSelectorError(key: fkey, mark: fv.mark, message: "expected a non-empty \(fk == "rule" ? "rule name or pattern" : "tag"), got \(fv.shape)")
                }
                if fk == "rule" { sel.rule = s } else { sel.tag = s }
            }
            guard sel.rule != nil || sel.tag != nil else {
                throw RuleSelectorError(key: bk, mark: body.mark, message: "needs 'rule:' (a name, '*' wildcards allowed) or 'tag:'")
            }
            out.append(sel)
        }
        return out
    }

    /// The items as a tree (for printing the effective configuration).
    package static func tree(_ selectors: [RuleSelector], mark: SourceMark) -> Tree {
        .sequence(selectors.map { s in
            var fields: [(key: String, keyMark: SourceMark, value: Tree)] = []
            if let r = s.rule { fields.append(("rule", mark, .scalar(r, null: false, mark: mark))) }
            if let t = s.tag { fields.append(("tag", mark, .scalar(t, null: false, mark: mark))) }
            return .mapping([(s.operation.rawValue, mark, .mapping(fields, mark: mark))], mark: mark)
        }, mark: mark)
    }
}

extension RuleSelector.Tree {
    /// The neutral view of a rules-file node.
    package init(_ n: YAMLNode) {
        switch n.kind {
        case .scalar(let s, _, _): self = .scalar(s, null: n.isNull, mark: n.mark)
        case .sequence(let items): self = .sequence(items.map(RuleSelector.Tree.init), mark: n.mark)
        case .mapping(let pairs):
            self = .mapping(pairs.map { ($0.key.scalar ?? "", $0.key.mark, RuleSelector.Tree($0.value)) }, mark: n.mark)
        }
    }
}
