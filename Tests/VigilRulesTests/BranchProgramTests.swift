import Testing
import VigilCore
import VigilDecode
import VigilState
@testable import VigilRules

/// ``RuleSet/match`` walks each event type's guard tree and the rules' branch programs
/// (``BranchStep``, ``GuardNode``); the condition trees they are compiled from stay the
/// reference (``RuleSet/matches(rule:_:scratch:newEvent:)``). Both must agree on every rule
/// and event, and `first` matching must still report the first matching rule in load order.
@Suite struct BranchProgramTests {
    /// The rules the condition trees say match `ev`, in load order.
    static func treeMatches(_ set: RuleSet, _ ev: SyntheticEvent, _ s: RuleScratch) -> [Int] {
        for (k, v) in ev.userNames { s.userNames[k] = v }
        for (k, v) in ev.groupNames { s.groupNames[k] = v }
        defer { s.userNames = [:]; s.groupNames = [:] }
        let type: EventType? = try? ev.record.withEvent { $0.type }.get()
        guard let type else { return [] }
        return set.candidates(for: type).filter { k in ev.withContext { set.matches(rule: k, $0, scratch: s) } ?? false }
    }

    /// The rules ``RuleSet/match`` reports for `ev`.
    static func reported(_ set: RuleSet, _ ev: SyntheticEvent, _ s: RuleScratch) -> [Int] {
        for (k, v) in ev.userNames { s.userNames[k] = v }
        for (k, v) in ev.groupNames { s.groupNames[k] = v }
        defer { s.userNames = [:]; s.groupNames = [:] }
        var out: [Int] = []
        _ = ev.withContext { set.match($0, scratch: s) { out.append($0) } }
        return out
    }

    /// Every enabled rule of `paths` on the events of rules/tests and their variants: `all`
    /// reports exactly the rules whose tree matches, `first` the first of them.
    static func compare(_ paths: [String]) throws -> (matches: Int, rules: Int) {
        let (all, first) = try EveryRuleLoading.allAndFirst(paths)
        let s1 = all.makeScratch(hostname: "h"), s2 = first.makeScratch(hostname: "h"), s3 = all.makeScratch(hostname: "h")
        var differences = 0, matches = 0
        var matched = Set<Int>()
        for ev in OperandOrderTests.events(variants: 4) {
            let tree = treeMatches(all, ev, s3)
            let a = reported(all, ev, s1), f = reported(first, ev, s2)
            if a != tree || f != Array(tree.prefix(1)) {
                differences += 1
                if differences <= 5 {
                    let type: String = (try? ev.record.withEvent { $0.type.name }.get()) ?? "?"
                    Issue.record(Comment(rawValue: "\(type) by \(ev.process.exePath) fd \(ev.fd?.name ?? "-"): trees \(tree.map { all.rules[$0].name }), match(all) \(a.map { all.rules[$0].name }), match(first) \(f.map { first.rules[$0].name })"))
                }
            }
            matches += tree.count
            matched.formUnion(tree)
        }
        #expect(differences == 0, "\(differences) events matched differently")
        return (matches, matched.count)
    }

    @Test func vigilRulesMatchAsTheirConditionTrees() throws {
        let r = try Self.compare([repoRoot() + "/rules/"])
        // Not vacuous: many rules match, many events match several rules (so order matters).
        #expect(r.rules >= 40, "\(r.rules) rules matched, \(r.matches) matches")
    }

    @Test(.enabled(if: falcoRulesDir() != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func falcoRulesMatchAsTheirConditionTrees() throws {
        let dir = falcoRulesDir()!
        let r = try Self.compare(["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"].map { dir + "/" + $0 })
        #expect(r.rules >= 15, "\(r.rules) rules matched, \(r.matches) matches")
    }

    /// The branch program of `a and (b or not c) and not (d and e)`: each comparison once,
    /// edges as short-circuit evaluation takes them, every assignment the same as the tree.
    @Test func branchProgramEqualsTheTree() {
        var p = Program()
        for _ in 0..<5 { p.checks.append(Check(kind: .exists, op: .exists, negate: false, anyAncestor: false, field: .none, other: .none, p: nil, n: 0, i: 0)) }
        let leaf = (0..<5).map { p.add(CNode(kind: .check, a: Int32($0), b: 0)) }
        let notC = p.add(CNode(kind: .not, a: leaf[2], b: 0))
        let bOrNotC = p.group(.or, [leaf[1], notC])
        let dAndE = p.group(.and, [leaf[3], leaf[4]])
        let root = p.group(.and, [leaf[0], bOrNotC, p.add(CNode(kind: .not, a: dAndE, b: 0))])
        var steps: [BranchStep] = []
        let entry = p.appendBranchProgram(root, type: 0, to: &steps)
        #expect(steps.count == 5)
        #expect(Set(steps.map(\.check)) == [0, 1, 2, 3, 4])
        func tree(_ n: Int32, _ v: [Bool], _ visited: inout [Int32]) -> Bool {
            let node = p.nodes[Int(n)]
            switch node.kind {
            case .check: visited.append(node.a); return v[Int(node.a)]
            case .not: return !tree(node.a, v, &visited)
            case .and: return (0..<Int(node.b)).allSatisfy { tree(p.kids[Int(node.a) + $0], v, &visited) }
            case .or: return (0..<Int(node.b)).contains { tree(p.kids[Int(node.a) + $0], v, &visited) }
            default: return node.kind == .yes
            }
        }
        var accepted = 0
        for bits in 0..<32 {
            let v = (0..<5).map { bits & (1 << $0) != 0 }
            var want: [Int32] = []
            let expected = tree(root, v, &want)
            var got: [Int32] = []
            var pc = entry
            while pc >= 0 { got.append(steps[Int(pc)].check); pc = v[Int(steps[Int(pc)].check)] ? steps[Int(pc)].ifTrue : steps[Int(pc)].ifFalse }
            #expect((pc == BranchStep.accept) == expected, "\(v)")
            #expect(got == want, "\(v): visited \(got), tree \(want)")
            if expected { accepted += 1 }
        }
        #expect(accepted > 0 && accepted < 32)
        // Constant conditions compile to no steps.
        let yes = p.add(CNode(kind: .yes, a: 0, b: 0))
        #expect(p.appendBranchProgram(yes, type: 0, to: &steps) == BranchStep.accept)
        let notYes = p.add(CNode(kind: .not, a: yes, b: 0))
        #expect(p.appendBranchProgram(notYes, type: 0, to: &steps) == BranchStep.reject)
    }

    /// Shared leading comparisons become one guard whose `next` skips every rule below it.
    @Test func guardTreeSharesLeadingComparisons() {
        // Rules: 0 = c7 and c8 and c1; 1 = c9 or c2; 2 = c7 and c8 and c3; 3 = c7 and c4.
        let steps = [
            BranchStep(check: 7, ifTrue: 1, ifFalse: BranchStep.reject), BranchStep(check: 8, ifTrue: 2, ifFalse: BranchStep.reject),
            BranchStep(check: 1, ifTrue: BranchStep.accept, ifFalse: BranchStep.reject),
            BranchStep(check: 9, ifTrue: BranchStep.accept, ifFalse: 4), BranchStep(check: 2, ifTrue: BranchStep.accept, ifFalse: BranchStep.reject),
            BranchStep(check: 7, ifTrue: 6, ifFalse: BranchStep.reject), BranchStep(check: 8, ifTrue: 7, ifFalse: BranchStep.reject),
            BranchStep(check: 3, ifTrue: BranchStep.accept, ifFalse: BranchStep.reject),
            BranchStep(check: 7, ifTrue: 9, ifFalse: BranchStep.reject), BranchStep(check: 4, ifTrue: BranchStep.accept, ifFalse: BranchStep.reject),
        ]
        let tree = GuardNode.tree(entries: [0, 3, 5, 8], steps: steps)
        let g = { (c: Int32, n: Int32) in GuardNode(check: c, next: n, ordinal: -1, entry: -1) }
        let r = { (o: Int32, e: Int32) in GuardNode(check: -1, next: -1, ordinal: o, entry: e) }
        // Rule 1 starts with an `or`: no guard. c7 is tested once for rules 0, 2 and 3, c8 once for 0
        // and 2; each rule entry runs the rest of its program (accept: nothing is left to test).
        #expect(tree == [r(1, 3), g(7, 9), g(8, 7), g(1, 5), r(0, BranchStep.accept), g(3, 7), r(2, BranchStep.accept),
                         g(4, 9), r(3, BranchStep.accept)], "\(tree)")
    }

    /// `first` reports the earliest matching rule in load order although the guard tree
    /// evaluates a later rule that shares its guard first.
    @Test func firstMatchIsTheEarliestInLoadOrder() {
        // b has no leading guard: the tree evaluates it before a and c (which share `evt.rawres >= 0`).
        let yaml = """
        - rule: a
          desc: d
          condition: evt.type = openat and evt.rawres >= 0 and fd.name = /etc/hosts
          output: o
          priority: WARNING
        - rule: b
          desc: d
          condition: evt.type = openat and (proc.name = cat or fd.name = /nope)
          output: o
          priority: WARNING
        - rule: c
          desc: d
          condition: evt.type = openat and evt.rawres >= 0 and fd.name startswith /etc
          output: o
          priority: WARNING
        """
        let ev = event("""
        type: openat
        res: 3
        args: {dirfd: -100, name: /etc/hosts, flags: O_RDONLY, mode: 0}
        process: {pid: 10, exepath: /usr/bin/cat}
        fd: {num: 3, type: file, name: /etc/hosts}
        """)
        var options = RuleLoadOptions()
        options.matching = .first
        let (first, diags) = loadRules(yaml, options: options)
        #expect(errors(diags).isEmpty, "\(diags)")
        #expect(Self.reported(first, ev, first.makeScratch(hostname: "h")).map { first.rules[$0].name } == ["a"])
        options.matching = .all
        let (all, _) = loadRules(yaml, options: options)
        #expect(Self.reported(all, ev, all.makeScratch(hostname: "h")).map { all.rules[$0].name } == ["a", "b", "c"])
    }
}
