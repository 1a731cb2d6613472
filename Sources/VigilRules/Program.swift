import VigilDecode
import VigilCore

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

/// The kind of test a ``Check`` performs.
enum CheckKind: UInt8, Sendable {
    case exists, strEq, strIn, strContains, strIContains, strStartsWith, strEndsWith, strOrder
    case glob, regex, pmatch, intCmp, intIn, boolEq, ip, field
    /// List fields (`fd.types`): every item in the set (`in`), any item in the set (`intersects`).
    case listIn, listIntersects
    /// `fd.*ip.name = NAME` / `in (...)`: the fd's address is one of the names' (``DNSNameCache``).
    case dnsName
}

/// One comparison, as plain data: field, test, operand (pointers into the rule
/// set's ``PermanentStore``), and whether the result is inverted (`!=`).
/// Unset values never match, whatever the operator (Falco's semantics).
struct Check: @unchecked Sendable {
    var kind: CheckKind
    var op: CompareOp
    var negate: Bool
    /// `proc.aname` without index: true if any ancestor matches.
    var anyAncestor: Bool
    var field: FieldSpec
    /// For `val(field)` comparisons.
    var other: FieldSpec
    /// Operand: bytes, a ByteSet/PathPrefixSet/GlobPattern/CompiledRegex, Int64s or IPMatchPODs.
    var p: UnsafeRawPointer?
    /// Byte length or element count.
    var n: Int
    /// Integer or boolean operand.
    var i: Int64

    @inline(__always) var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: p?.assumingMemoryBound(to: UInt8.self), count: n) }
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
struct Program: @unchecked Sendable {
    var nodes: [CNode] = []
    var kids: [Int32] = []
    var checks: [Check] = []
    var typeSets: [TypeSet] = []
    var slotCount = 0
    /// Whether ``specialize(_:type:)`` orders `and`/`or` operands cheapest first (``CheckCost``).
    var orderCheapFirst = false

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

/// A node folded to a constant, or a node index.
enum Folded: Equatable { case const(Bool), node(Int32) }

extension Program {
    /// Whether check `i` has a value fixed for every event of type `t` (Vigil
    /// events are all exit events: `evt.dir = <` is always true).
    func constantCheck(_ i: Int, type t: UInt16) -> Bool? {
        let c = checks[i]
        guard c.field.id == .evtDir, !c.field.hasTransformers, !c.anyAncestor else { return nil }
        let isExit = c.n == 1 && c.bytes[0] == 60
        switch c.kind {
        case .strEq: return isExit != c.negate
        case .exists: return true
        default: return nil
        }
    }

    /// Builds a copy of the tree at `n` specialised for events of type `t`:
    /// event-type tests and constant checks folded, nested and/or flattened,
    /// double negations removed, and (with ``orderCheapFirst``) the operands of
    /// each `and`/`or` ordered cheapest first.
    mutating func specialize(_ n: Int32, type t: UInt16) -> Folded {
        let node = nodes[Int(n)]
        switch node.kind {
        case .yes: return .const(true)
        case .no: return .const(false)
        case .types: return .const(typeSets[Int(node.a)].contains(t))
        case .check:
            if let k = constantCheck(Int(node.a), type: t) { return .const(k) }
            return .node(n)
        case .not:
            switch specialize(node.a, type: t) {
            case .const(let b): return .const(!b)
            case .node(let c):
                if nodes[Int(c)].kind == .not { return .node(nodes[Int(c)].a) }
                return .node(add(CNode(kind: .not, a: c, b: 0)))
            }
        case .and, .or:
            let isAnd = node.kind == .and
            var out: [Int32] = []
            for k in 0..<Int(node.b) {
                switch specialize(kids[Int(node.a) + k], type: t) {
                case .const(let b):
                    if b != isAnd { return .const(b) }  // false in and, true in or
                case .node(let c):
                    let cn = nodes[Int(c)]
                    if cn.kind == node.kind {
                        for j in 0..<Int(cn.b) { out.append(kids[Int(cn.a) + j]) }
                    } else { out.append(c) }
                }
            }
            if out.isEmpty { return .const(isAnd) }
            if orderCheapFirst { out = cheapFirst(out, and: isAnd) }
            return .node(group(node.kind, out))
        }
    }
}
