import VigilState
/// One step of a condition compiled to a branch program: test comparison `check`, then go on
/// at step `ifTrue` or `ifFalse`, or stop with ``accept`` / ``reject``.
///
/// A condition tree of `and`, `or` and `not` over comparisons becomes a graph in which every
/// comparison appears once and knows where each of its outcomes leads (`a and b`: a's true
/// edge is b, its false edge rejects; `not` swaps the edges). Walking it visits exactly the
/// comparisons the recursive short-circuit evaluation visits, in the same order, so the
/// result is the same; it needs no recursion, no stack and no per-node dispatch: one load of
/// 12 bytes and one cached comparison per step.
struct BranchStep: Sendable, Equatable {
    /// Index of the comparison in ``Program/checks`` (and ``RuleSet/hotChecks``).
    var check: Int32
    /// Next step when the comparison holds (a step index, or ``accept`` / ``reject``).
    var ifTrue: Int32
    /// Next step when it does not.
    var ifFalse: Int32

    /// The condition holds.
    static let accept: Int32 = -1
    /// The condition does not hold.
    static let reject: Int32 = -2
}

extension Program {
    /// Appends the branch program of the tree at `root` to `steps` and returns its entry: a
    /// step index, or ``BranchStep/accept`` / ``BranchStep/reject`` for a constant condition.
    /// `type` decides event-type tests left in the tree (``specialize(_:type:)`` folds them
    /// already; a tree that was not specialised still compiles).
    func appendBranchProgram(_ root: Int32, type: UInt16, to steps: inout [BranchStep]) -> Int32 {
        branch(root, type: type, ifTrue: BranchStep.accept, ifFalse: BranchStep.reject, &steps)
    }

    /// The entry of node `n`'s program, continuing at `t` when `n` holds and at `f` when not.
    /// Operands are compiled last to first, so each one's continuation already exists.
    private func branch(_ n: Int32, type: UInt16, ifTrue t: Int32, ifFalse f: Int32, _ steps: inout [BranchStep]) -> Int32 {
        let node = nodes[Int(n)]
        switch node.kind {
        case .yes: return t
        case .no: return f
        case .types: return typeSets[Int(node.a)].contains(type) ? t : f
        case .not: return branch(node.a, type: type, ifTrue: f, ifFalse: t, &steps)
        case .check:
            steps.append(BranchStep(check: node.a, ifTrue: t, ifFalse: f))
            return Int32(steps.count - 1)
        case .and, .or:
            // and: an operand that holds goes on to the next one, the last one's holding accepts;
            // or: an operand that fails goes on to the next one, the last one's failing rejects.
            var next = node.kind == .and ? t : f
            for k in stride(from: Int(node.b) - 1, through: 0, by: -1) {
                let kid = kids[Int(node.a) + k]
                next = node.kind == .and ? branch(kid, type: type, ifTrue: next, ifFalse: f, &steps)
                                         : branch(kid, type: type, ifTrue: t, ifFalse: next, &steps)
            }
            return next
        }
    }
}

/// A ``Check`` as the evaluator reads it: 40 bytes instead of 144, with the two field specs it
/// may extract behind one pointer, so walking the comparisons of an event touches few cache lines.
struct HotCheck: @unchecked Sendable {
    var kind: CheckKind
    var op: CompareOp
    var negate: Bool
    /// `proc.aname` without index: true if any ancestor matches.
    var anyAncestor: Bool
    /// This comparison's bit in ``PathCheckMemo`` when its result depends only on the fd's name
    /// and type (``memoizable(_:)``), else -1.
    var memoBit: Int32 = -1
    /// Whether the result is a function of the event's ``PathCheckMemo/signature(_:)`` alone
    /// (``decidedBySignature(_:)``): such comparisons are not recorded in a walk's trace.
    var bySignature = false
    /// Which string of the event's process the comparison reads (``SnapshotField``), when its
    /// result is a function of that string alone: a trace keeps the string and its result, and a
    /// replay whose process has the very same string takes the result without comparing again.
    var snapshot: SnapshotField = .none
    /// `field` (at `fields[0]`) and, for `val(...)` and DNS-name comparisons, `other` (at `fields[1]`),
    /// in the rule set's ``PermanentStore``.
    var fields: UnsafePointer<FieldSpec>
    /// Operand: bytes, a ByteSet/PathPrefixSet/GlobPattern/CompiledRegex/DNSNameSet, Int64s or IPMatchPODs.
    var p: UnsafeRawPointer?
    /// Byte length or element count.
    var n: Int
    /// Integer or boolean operand.
    var i: Int64

    @inline(__always) var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: p?.assumingMemoryBound(to: UInt8.self), count: n) }

    /// The compact form of `c`, its field specs copied into `store`.
    init(_ c: Check, store: PermanentStore) {
        kind = c.kind; op = c.op; negate = c.negate; anyAncestor = c.anyAncestor
        fields = store.copy([c.field, c.other])
        p = c.p; n = c.n; i = c.i
    }

    /// Whether `c`'s result is a function of the event fd's name and type alone: a comparison
    /// of `fd.name`, `fd.directory`, `fd.filename`, `fd.type` or `fd.typechar` (transformed or
    /// not) with constants.
    static func memoizable(_ c: Check) -> Bool {
        guard !c.anyAncestor, c.kind != .field, c.kind != .dnsName else { return false }
        switch c.field.id {
        case .fdName, .fdDirectory, .fdFilename, .fdType, .fdTypechar: return true
        default: return false
        }
    }
}

/// A string property of the event's process that a comparison reads as is (``HotCheck/snapshot``).
enum SnapshotField: UInt8, Sendable {
    case none, name, exePath

    /// The field's string for the event's process; nil without a process (`proc.name` then
    /// comes from the record's `comm`), or for ``none``.
    @inline(__always) func string(_ cp: UnsafePointer<EventContext>, _ s: RuleScratch) -> String? {
        if self == .none { return nil }
        // The process read in place (the context holds it: no reference count): an Optional
        // class reference is one pointer, zero for nil.
        let bits = UnsafeRawPointer(cp).load(fromByteOffset: s.processOffset, as: UInt.self)
        guard let raw = UnsafeRawPointer(bitPattern: bits) else { return nil }
        return Unmanaged<ProcessInfo>.fromOpaque(raw)._withUnsafeGuaranteedRef { p in self == .name ? p.name : p.exePath }
    }

    /// The snapshot field `c` reads: `proc.name` or `proc.exepath`, untransformed, compared with
    /// constants (``FieldExtractor`` copies that string of the process and nothing else).
    static func of(_ c: Check) -> SnapshotField {
        guard !c.anyAncestor, !c.field.hasTransformers, c.field.index < 0, c.kind != .field, c.kind != .dnsName else { return .none }
        switch c.field.id {
        case .procName: return .name
        case .procExepath: return .exePath
        default: return .none
        }
    }
}

extension String {
    /// Whether `self` and `other` are the same string value bit for bit (a small string's bytes,
    /// or the same storage object and count). Equal bits mean equal contents while the storage
    /// is referenced by one of them (it cannot be freed and reused, and shared storage is never
    /// changed in place); different bits say nothing.
    @inline(__always) func isIdentical(to other: String) -> Bool {
        let a = unsafeBitCast(self, to: (UInt64, UInt64).self), b = unsafeBitCast(other, to: (UInt64, UInt64).self)
        return a.0 == b.0 && a.1 == b.1
    }
}

extension HotCheck {
    /// Whether `c`'s result is a function of the event's signature (``PathCheckMemo/signature(_:)``:
    /// `evt.is_open_read`, `evt.is_open_write`, `evt.is_compat` and the sign of `evt.rawres`): a
    /// boolean comparison of one of the flags, a comparison of `evt.rawres` with 0, or a test
    /// that one of them exists (they always do), untransformed.
    static func decidedBySignature(_ c: Check) -> Bool {
        guard !c.anyAncestor, !c.field.hasTransformers else { return false }
        switch c.field.id {
        case .evtIsOpenRead, .evtIsOpenWrite, .evtIsCompat: return c.kind == .boolEq || c.kind == .exists
        case .evtRawres: return (c.kind == .intCmp && c.i == 0) || c.kind == .exists
        default: return false
        }
    }
}

/// One entry of an event type's guard tree, the order ``RuleSet/match`` evaluates the type's
/// candidate rules in.
///
/// Most conditions start with a chain of comparisons that must all hold (`evt.is_open_write
/// and evt.rawres >= 0 and fd.typechar = f and ...`), and many rules of a type start with the
/// same ones. The tree shares those leading comparisons: a guard entry tests one, and when it
/// fails every rule below it is skipped at once (its `next` is the entry after its subtree);
/// a rule entry runs the rest of that rule's branch program. Conditions are pure, so the
/// order rules are evaluated in changes no result; ``RuleSet/match`` reports the matches in
/// load order.
struct GuardNode: Sendable, Equatable {
    /// Guard: the comparison tested (``Program/checks`` index); -1 for a rule entry.
    var check: Int32
    /// Guard: the entry after its subtree (where evaluation goes on when the comparison fails).
    var next: Int32
    /// Rule entry: the candidate's position in its type's candidate list.
    var ordinal: Int32
    /// Rule entry: where the rest of its branch program starts (after the shared guards).
    var entry: Int32

    /// Builds the guard tree of one event type's candidates (`entries`: each candidate's branch
    /// program entry, in load order) over `steps`; nodes are in preorder, `next` relative to the
    /// start of the returned array.
    static func tree(entries: [Int32], steps: [BranchStep]) -> [GuardNode] {
        final class Node {
            let check: Int32
            var children: [Node] = []
            var rules: [(ordinal: Int32, entry: Int32)] = []
            init(_ check: Int32) { self.check = check }
            func child(_ check: Int32) -> Node {
                if let c = children.first(where: { $0.check == check }) { return c }
                let c = Node(check)
                children.append(c)
                return c
            }
        }
        let root = Node(-1)
        for (ordinal, entry) in entries.enumerated() {
            var node = root
            var pc = entry
            // Leading comparisons that reject when they fail: the rule needs each of them.
            while pc >= 0 && steps[Int(pc)].ifFalse == BranchStep.reject {
                node = node.child(steps[Int(pc)].check)
                pc = steps[Int(pc)].ifTrue
            }
            node.rules.append((Int32(ordinal), pc))
        }
        var out: [GuardNode] = []
        func emit(_ n: Node) {
            for r in n.rules { out.append(GuardNode(check: -1, next: -1, ordinal: r.ordinal, entry: r.entry)) }
            for c in n.children {
                let at = out.count
                out.append(GuardNode(check: c.check, next: -1, ordinal: -1, entry: -1))
                emit(c)
                out[at].next = Int32(out.count)
            }
        }
        emit(root)
        return out
    }
}
