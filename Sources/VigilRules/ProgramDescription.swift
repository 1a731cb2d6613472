import VigilDecode

extension RuleSet {
    /// What is evaluated for events of type `t`, in order: each candidate rule's condition
    /// as specialised for `t` (event-type tests folded, operands in evaluation order), with
    /// the estimated cost of each operand in brackets. For `vigil rules bench --explain`.
    package func describeEvaluation(for t: EventType) -> String {
        var out = ""
        for c in byType[Int(t.rawValue) & (EventType.count - 1)] {
            out += "\(rules[Int(c.rule)].name) [\(program.cost(c.root))]\n  "
            out += program.describe(c.root) + "\n"
        }
        return out
    }
}

extension Program {
    /// A condition tree as text, operands in evaluation order, `[cost]` after each check.
    func describe(_ n: Int32) -> String {
        let node = nodes[Int(n)]
        switch node.kind {
        case .yes: return "true"
        case .no: return "false"
        case .types: return "evt.type in (" + typeSets[Int(node.a)].types.map(\.name).joined(separator: ", ") + ")"
        case .not: return "not " + describe(node.a)
        case .and, .or:
            let parts = (0..<Int(node.b)).map { describe(kids[Int(node.a) + $0]) }
            return "(" + parts.joined(separator: node.kind == .and ? " and " : " or ") + ")"
        case .check:
            let c = checks[Int(node.a)]
            let name = FieldCatalog.all.first { $0.id == c.field.id }?.name ?? "?"
            return "\(name)\(c.anyAncestor ? "(any)" : "") \(c.negate ? "!" : "")\(c.kind)[\(CheckCost.check(c))]"
        }
    }
}
