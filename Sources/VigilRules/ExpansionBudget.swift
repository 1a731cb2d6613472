/// Limits on what a rule may expand to, checked before it is compiled so that hostile
/// rule files fail fast with a positioned error instead of exhausting stack, time or memory.
///
/// - Nesting (parentheses, `not`, `and`/`or` groups and macro references, counted through
///   macros) deeper than ``maxDepth``: `condition nested deeper than N`.
/// - Expanded size (nodes after inlining every macro, plus the items of every list operand)
///   above ``maxExpandedSize``: `condition expands to more than N nodes`, naming the macro chain.
///   Macro sizes are memoised, so `(m1 or m1)` chains are measured in linear time.
/// - Lists: cycles are errors; a list expanding to more than ``maxListItems`` items is an error
///   naming the chain of lists; list nesting deeper than ``maxDepth`` is an error.
enum ExpansionBudget {
    /// Deepest nesting of a condition counted through macros (the parser's limit per text).
    static let maxDepth = ConditionParser.maxDepth
    /// Largest expanded condition (nodes plus list items) of one rule.
    static let maxExpandedSize = 1_000_000
    /// Largest expanded list.
    static let maxListItems = 1_000_000

    /// `a -> b -> c`, shortened in the middle for long chains.
    static func chainText(_ chain: [String]) -> String {
        if chain.count <= 12 { return chain.joined(separator: " -> ") }
        return (chain.prefix(5) + ["…"] + chain.suffix(5)).joined(separator: " -> ") + " (\(chain.count) names)"
    }
}

/// A list expanded (other lists' items spliced in, quotes removed), or why it cannot be.
enum ResolvedList {
    case items([String])
    /// Why, and whether the fault is in this list itself (a cycle through it, its own size)
    /// rather than in a list it uses.
    case failed(String, own: Bool)
}

/// Expands every list once, with cycle detection and the item budget.
struct ListResolver {
    let lists: [String: ListDef]
    private(set) var resolved: [String: ResolvedList] = [:]
    /// Lists found on a cycle (each is at fault).
    private var onCycle = Set<String>()

    init(lists: [String: ListDef]) { self.lists = lists }

    /// Resolves every list; returns the lists at fault (name, message) in name order.
    /// Lists that only use a faulty list fail too, but are reported where a rule uses them.
    mutating func resolveAll() -> [(String, String)] {
        var failures: [(String, String)] = []
        for name in lists.keys.sorted() {
            var chain: [String] = []
            if case .failed(let why, true) = resolve(name, chain: &chain) { failures.append((name, why)) }
        }
        return failures
    }

    /// Recursion is bounded by ``ExpansionBudget/maxDepth``.
    private mutating func resolve(_ name: String, chain: inout [String]) -> ResolvedList {
        if let r = resolved[name] { return r }
        if let k = chain.firstIndex(of: name) {
            onCycle.formUnion(chain[k...])
            return .failed("list cycle: " + ExpansionBudget.chainText(Array(chain[k...]) + [name]), own: true)
        }
        if chain.count >= ExpansionBudget.maxDepth {
            return .failed("lists nested deeper than \(ExpansionBudget.maxDepth): " + ExpansionBudget.chainText(chain + [name]), own: true)
        }
        chain.append(name)
        defer { chain.removeLast() }
        var out: [String] = []
        var result = ResolvedList.items([])
        for item in lists[name]!.items {
            let (v, quoted) = ConditionCompiler.unquote(item)
            if !quoted, lists[v] != nil {
                switch resolve(v, chain: &chain) {
                case .items(let xs): out += xs
                case .failed(let why, _):
                    // A cycle through this list is this list's fault too.
                    result = .failed(why, own: onCycle.contains(name) || why.hasPrefix("lists nested"))
                    resolved[name] = result
                    return result
                }
            } else {
                out.append(v)
            }
            if out.count > ExpansionBudget.maxListItems {
                result = .failed("list '\(name)' expands to more than \(ExpansionBudget.maxListItems) items"
                                 + (chain.count > 1 ? " (used through " + ExpansionBudget.chainText(chain) + ")" : ""), own: true)
                resolved[name] = result
                return result
            }
        }
        result = .items(out)
        resolved[name] = result
        return result
    }
}

extension ConditionCompiler {
    /// Measured expansion of a macro: size in nodes and depth (both saturated above the limits).
    struct Extent { var size: Int; var depth: Int }

    /// Checks `e` (a rule's condition) against the budgets before it is compiled.
    /// Errors carry the offset of the macro reference in the rule, or a mark inside the macro.
    mutating func checkBudget(_ e: ConditionExpr) throws(RuleCompileError) {
        var chain: [String] = []
        let x = try measure(e, depth: 0, chain: &chain)
        if x.size > ExpansionBudget.maxExpandedSize {
            throw RuleCompileError(offset: nil, message: "condition expands to more than \(ExpansionBudget.maxExpandedSize) nodes")
        }
    }

    /// Size and depth of `e` with macros inlined; `depth` is the nesting above `e`, `chain` the macros being measured.
    private mutating func measure(_ e: ConditionExpr, depth: Int, chain: inout [String]) throws(RuleCompileError) -> Extent {
        let limit = ExpansionBudget.maxExpandedSize + 1
        func nested(_ offset: Int?) -> RuleCompileError {
            // A chain that deep is often a long cycle: name it as one.
            let cycle = chain.first.flatMap { findMacroCycle(from: $0) }
            var err = RuleCompileError(offset: offset, message: cycle.map { "macro cycle: " + ExpansionBudget.chainText($0) }
                                       ?? ("condition nested deeper than \(ExpansionBudget.maxDepth)"
                                           + (chain.isEmpty ? "" : " (through macros " + ExpansionBudget.chainText(chain) + ")")))
            if let m = chain.last, let offset, let def = macros[m] { err.mark = def.condition.mark(at: offset) }
            return err
        }
        switch e {
        case .and(let items), .or(let items):
            if depth + 1 > ExpansionBudget.maxDepth { throw nested(nil) }
            var x = Extent(size: 1, depth: 0)
            for i in items {
                let c = try measure(i, depth: depth + 1, chain: &chain)
                x.size = min(limit, x.size + c.size); x.depth = max(x.depth, c.depth)
            }
            x.depth += 1
            return x
        case .not(let i):
            if depth + 1 > ExpansionBudget.maxDepth { throw nested(nil) }
            let c = try measure(i, depth: depth + 1, chain: &chain)
            return Extent(size: min(limit, c.size + 1), depth: c.depth + 1)
        case .constant:
            return Extent(size: 1, depth: 1)
        case .compare(_, _, let operand, _):
            guard case .list(let items, _) = operand else { return Extent(size: 1, depth: 1) }
            var n = 1
            for (v, quoted) in items {
                if !quoted, case .items(let xs)? = resolvedLists[v] { n += xs.count } else { n += 1 }
                if n >= limit { break }
            }
            return Extent(size: min(limit, n), depth: 1)
        case .macro(let name, let offset):
            if let m = macroExtents[name] {
                if depth + m.depth > ExpansionBudget.maxDepth { throw nested(offset) }
                return m
            }
            if let k = chain.firstIndex(of: name) {
                var err = RuleCompileError(offset: offset, message: "macro cycle: " + ExpansionBudget.chainText(Array(chain[k...]) + [name]))
                if let m = chain.last, let def = macros[m] { err.mark = def.condition.mark(at: offset) }
                throw err
            }
            // Undefined macros and macros with syntax errors are reported by compile().
            guard macros[name] != nil, let entry = macroASTs[name], let ast = entry else { return Extent(size: 1, depth: 1) }
            if depth + 1 > ExpansionBudget.maxDepth { throw nested(offset) }
            chain.append(name)
            let inner = try measure(ast, depth: depth + 1, chain: &chain)
            let x = Extent(size: min(limit, inner.size + 1), depth: inner.depth + 1)
            if x.size > ExpansionBudget.maxExpandedSize {
                var err = RuleCompileError(offset: nil, message: "condition expands to more than \(ExpansionBudget.maxExpandedSize) nodes through macros "
                                           + ExpansionBudget.chainText(chain))
                chain.removeLast()
                if let m = chain.last, let def = macros[m] { err.mark = def.condition.mark(at: offset) } else { err.offset = offset }
                throw err
            }
            chain.removeLast()
            macroExtents[name] = x
            return x
        }
    }
}

extension ConditionCompiler {
    /// Macro names referenced by `e` (not through other macros), in order.
    static func macroReferences(_ e: ConditionExpr, into out: inout [String]) {
        switch e {
        case .and(let xs), .or(let xs): for x in xs { macroReferences(x, into: &out) }
        case .not(let x): macroReferences(x, into: &out)
        case .macro(let name, _): out.append(name)
        case .compare, .constant: break
        }
    }

    /// A cycle of macro references reachable from `start` (`a -> b -> a`), found with an
    /// iterative depth-first search (no recursion however long the chain), or nil.
    func findMacroCycle(from start: String) -> [String]? {
        var state: [String: Bool] = [:]   // false: on the current path; true: done
        var path: [(name: String, refs: [String], next: Int)] = []
        func refs(_ name: String) -> [String] {
            guard let entry = macroASTs[name], let ast = entry else { return [] }
            var out: [String] = []
            ConditionCompiler.macroReferences(ast, into: &out)
            return out.filter { macros[$0] != nil }
        }
        state[start] = false
        path.append((start, refs(start), 0))
        while !path.isEmpty {
            let top = path.count - 1
            guard path[top].next < path[top].refs.count else {
                state[path[top].name] = true
                path.removeLast()
                continue
            }
            let r = path[top].refs[path[top].next]
            path[top].next += 1
            switch state[r] {
            case false?:
                let k = path.firstIndex { $0.name == r }!
                return path[k...].map(\.name) + [r]
            case true?:
                continue
            case nil:
                state[r] = false
                path.append((r, refs(r), 0))
            }
        }
        return nil
    }
}
