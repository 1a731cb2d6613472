import VigilDecode

/// An error while compiling a condition; `offset` points into the condition
/// text being compiled (nil: the whole item). `unsupported` marks things Falco
/// knows but Vigil does not implement (the rule is skipped rather than invalid).
struct RuleCompileError: Error {
    var offset: Int?
    var message: String
    var unsupported = false
    /// Set once resolved to a source position (errors inside macros).
    var mark: SourceMark?
}

/// 128 event types as a bit set.
struct TypeSet: Sendable, Equatable {
    var lo: UInt64 = 0
    var hi: UInt64 = 0
    static let all: TypeSet = {
        var t = TypeSet()
        for e in EventType.all { t.insert(e.rawValue) }
        return t
    }()
    @inline(__always) func contains(_ v: UInt16) -> Bool { v < 64 ? lo & (1 << UInt64(v)) != 0 : (v < 128 ? hi & (1 << UInt64(v - 64)) != 0 : false) }
    mutating func insert(_ v: UInt16) { if v < 64 { lo |= 1 << UInt64(v) } else if v < 128 { hi |= 1 << UInt64(v - 64) } }
    func union(_ o: TypeSet) -> TypeSet { TypeSet(lo: lo | o.lo, hi: hi | o.hi) }
    func intersection(_ o: TypeSet) -> TypeSet { TypeSet(lo: lo & o.lo, hi: hi & o.hi) }
    var complement: TypeSet { TypeSet(lo: ~lo & TypeSet.all.lo, hi: ~hi & TypeSet.all.hi) }
    var isEmpty: Bool { lo == 0 && hi == 0 }
    var types: [EventType] { (0..<128).compactMap { contains(UInt16($0)) ? EventType(rawValue: UInt16($0)) : nil } }
}

/// The compiled test of one comparison.
enum CheckOp: Sendable {
    case exists
    case strEq([UInt8])
    case strIn(ByteSet)
    case strContains([UInt8])
    case strIContains([UInt8])
    case strStartsWith([UInt8])
    case strEndsWith([UInt8])
    case strOrder(CompareOp, [UInt8])
    case glob(GlobPattern)
    case regex(CompiledRegex)
    case pmatch(PathPrefixSet)
    case intCmp(CompareOp, Int64)
    case intIn([Int64])
    case boolEq(Bool)
    case ip([IPMatch])
    case field(CompareOp, FieldSpec)
}

/// One comparison: field, test, and whether the result is inverted (`!=`).
/// Unset values never match, whatever the operator (Falco's semantics).
struct Check: Sendable {
    var field: FieldSpec
    var op: CheckOp
    var negate: Bool
    /// `proc.aname` without index: true if any ancestor matches.
    var anyAncestor: Bool
    /// Source text, for profiling output.
    var text: String
}

/// A node of the compiled condition tree, stored flat.
struct CNode: Sendable {
    enum Kind: UInt8, Sendable { case and, or, not, yes, no, check, types }
    var kind: Kind
    /// and/or: first child in `kids`; not: child node; check: check index; types: type-set index.
    var a: Int32
    /// and/or: child count.
    var b: Int32
}

/// All compiled conditions of a rule set, in flat arrays.
struct Program: Sendable {
    var nodes: [CNode] = []
    var kids: [Int32] = []
    var checks: [Check] = []
    var typeSets: [TypeSet] = []
    var slotCount = 0

    mutating func add(_ n: CNode) -> Int32 { nodes.append(n); return Int32(nodes.count - 1) }
    mutating func group(_ kind: CNode.Kind, _ children: [Int32]) -> Int32 {
        if children.count == 1 { return children[0] }
        let start = Int32(kids.count)
        kids += children
        return add(CNode(kind: kind, a: start, b: Int32(children.count)))
    }

    /// Event types a node can match, and whether the node is a pure event-type test.
    func eventTypes(_ n: Int32) -> (TypeSet, pure: Bool) {
        let node = nodes[Int(n)]
        switch node.kind {
        case .types: return (typeSets[Int(node.a)], true)
        case .yes: return (TypeSet.all, false)
        case .no: return (TypeSet(), false)
        case .check: return (TypeSet.all, false)
        case .not:
            let (t, pure) = eventTypes(node.a)
            return pure ? (t.complement, true) : (TypeSet.all, false)
        case .and:
            var t = TypeSet.all
            var pure = true
            for k in 0..<Int(node.b) { let (c, p) = eventTypes(kids[Int(node.a) + k]); t = t.intersection(c); pure = pure && p }
            return (t, pure)
        case .or:
            var t = TypeSet()
            var pure = true
            for k in 0..<Int(node.b) { let (c, p) = eventTypes(kids[Int(node.a) + k]); t = t.union(c); pure = pure && p }
            return (t, pure)
        }
    }
}
