/// Collects the fields a rule source uses (conditions of rules and macros,
/// exception fields and output templates), with use counts.
package enum FieldUsage {
    /// Field name (with index/argument as written, `proc.aname[2]` shown as `proc.aname[]`) -> uses.
    package static func collect(_ source: RuleSource) -> [String: Int] {
        var out: [String: Int] = [:]
        func walk(_ e: ConditionExpr) {
            switch e {
            case .and(let xs), .or(let xs): xs.forEach(walk)
            case .not(let x): walk(x)
            case .macro, .constant: break
            case .compare(let f, _, let rhs, _):
                out[display(f), default: 0] += 1
                if case .field(let g) = rhs { out[display(g), default: 0] += 1 }
            }
        }
        for m in source.macros.values { if let e = try? ConditionParser.parse(m.condition.text) { walk(e) } }
        for r in source.rules {
            if let e = try? ConditionParser.parse(r.condition.text) { walk(e) }
            for ex in r.exceptions { for f in ex.fields { out[f, default: 0] += 1 } }
            _ = try? OutputTemplate.parse(r.output) { (ref: FieldRef) throws(RuleCompileError) -> FieldSpec in
                out[display(ref), default: 0] += 1
                return FieldSpec.none
            }
        }
        return out
    }

    static func display(_ f: FieldRef) -> String {
        if f.name == "evt.arg", let a = f.arg { return Int(a) == nil ? "evt.arg.\(a)" : "evt.arg[]" }
        return f.name + (f.arg != nil ? "[]" : "")
    }

    /// `proc.aname[]` -> `proc.aname`.
    package static func baseName(_ s: String) -> String { s.hasSuffix("[]") ? String(s.dropLast(2)) : s }
}
