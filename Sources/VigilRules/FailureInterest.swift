import VigilDecode

/// Which failed calls (a negative result, `evt.failed = true`) the enabled rules can match, per
/// event type and per kind of call (native or 32-bit): what lets the kernel drop the others
/// before building a record (``KernelInterest/dropFailed``, ``KernelInterest/dropFailedCompat``).
///
/// The analysis runs on what the engine evaluates: each enabled rule's condition (macros and
/// lists expanded, exceptions and overrides applied) specialised for the event type, exactly as
/// ``RuleSet/byType`` holds it. A rule is "success-only" for a type only when its tree implies a
/// non-negative result on every path; anything the analysis does not understand keeps the
/// failures wanted. Per node it computes two facts:
///
/// - **success**: when the node is true, the call succeeded (`ret >= 0`);
/// - **failure**: when the call failed, the node is true;
///
/// with `and` (success if any child has it; failure if all do), `or` (success if all; failure if
/// any), `not` (swaps them; the engine's checks are two-valued, an unset field makes a check
/// false) and these comparisons (the field values are ``FieldExtractor``'s):
///
/// | field | value on a failed call | success-only forms | true on every failure |
/// |---|---|---|---|
/// | `evt.res` | the errno name (`ENOENT`, `E<n>`), never `SUCCESS` | `= SUCCESS`, `in (SUCCESS)` | `!= SUCCESS`, `exists` |
/// | `evt.rawres` | the result (< 0) | `>= k`, `= k`, `in (...)` with k ≥ 0; `> k` with k ≥ -1 | `< k` with k ≥ 0, `<= k` with k ≥ -1, `!= k` with k ≥ 0, `exists` |
/// | `evt.failed` | `true` | `= false`, `!= true` | `= true`, `!= false`, `exists` |
/// | `fd.num` (opens, `socket`, `accept`, `accept4`, `memfd_create`) | -1 or unset | any test false for -1 (`>= 0`, `!= -1`, ...) | — |
/// | `evt.is_compat` | `compat` (the kind of call analysed: io_uring completions are native) | a test false for it | a test true for it |
///
/// Fields under a transformer, compared with another field (`val()`), or read from ancestors are
/// not understood.
struct FailureAnalysis {
    let program: Program
    let type: UInt16
    /// Whether the calls analysed are 32-bit ones (`evt.is_compat`).
    let compat: Bool

    /// Event types whose `fd.num` is the call's result: -1 or unset when it failed (ProcessTable+FD:
    /// the open family, socket, accept, accept4 and memfd_create return no fd number on failure).
    static let fdNumIsResult: Set<UInt16> = Set(["open", "openat", "openat2", "creat", "open_by_handle_at", "socket",
                                                 "accept", "accept4", "memfd_create"].compactMap { EventType(name: $0)?.rawValue })
    static let success = Array("SUCCESS".utf8)

    /// When node `n` is true, the call succeeded.
    func impliesSuccess(_ n: Int32) -> Bool {
        let node = program.nodes[Int(n)]
        switch node.kind {
        case .yes: return false
        case .no: return true
        case .types: return !program.typeSets[Int(node.a)].contains(type)
        case .not: return trueOnFailure(node.a)
        case .and: return children(node).contains { impliesSuccess($0) }
        case .or: return children(node).allSatisfy { impliesSuccess($0) }
        case .check: return check(Int(node.a)).success
        }
    }

    /// When the call failed, node `n` is true.
    func trueOnFailure(_ n: Int32) -> Bool {
        let node = program.nodes[Int(n)]
        switch node.kind {
        case .yes: return true
        case .no: return false
        case .types: return program.typeSets[Int(node.a)].contains(type)
        case .not: return impliesSuccess(node.a)
        case .and: return children(node).allSatisfy { trueOnFailure($0) }
        case .or: return children(node).contains { trueOnFailure($0) }
        case .check: return check(Int(node.a)).failure
        }
    }

    func children(_ node: CNode) -> [Int32] {
        (0..<Int(node.b)).map { program.kids[Int(node.a) + $0] }
    }

    /// The two facts for check `i`.
    func check(_ i: Int) -> (success: Bool, failure: Bool) {
        let c = program.checks[i]
        let unknown = (success: false, failure: false)
        guard !c.field.hasTransformers, !c.anyAncestor else { return unknown }
        // The set of results (all < 0) the check is true for, as predicates on one failed value.
        func intTest(_ x: Int64) -> Bool? {
            switch c.kind {
            case .intCmp:
                let k = c.i
                let r: Bool
                switch c.op {
                case .lt: r = x < k
                case .le: r = x <= k
                case .gt: r = x > k
                case .ge: r = x >= k
                case .eq: r = x == k
                default: return nil
                }
                return r != c.negate
            case .intIn:
                let ns = UnsafeBufferPointer(start: c.p?.assumingMemoryBound(to: Int64.self), count: c.n)
                return ns.contains(x) != c.negate
            default: return nil
            }
        }
        switch c.field.id {
        case .evtRes:
            switch c.kind {
            case .exists: return (false, true)
            case .strEq:
                let isSuccess = Array(c.bytes) == Self.success
                // = SUCCESS: only successes; != SUCCESS: every failure (a failure's name is never SUCCESS).
                guard isSuccess else { return unknown }
                return c.negate ? (false, true) : (true, false)
            case .strIn where !c.negate:
                let items = c.p!.assumingMemoryBound(to: ByteSet.self).pointee.items
                return (items.allSatisfy { $0 == Self.success }, false)
            default: return unknown
            }
        case .evtRawres:
            if c.kind == .exists { return (false, true) }
            // Success-only: false for every negative result; true on failure: true for every negative result.
            // The tests are monotone or single points, so the ends of the negative range decide.
            switch c.kind {
            case .intCmp:
                let k = c.i
                let n = c.negate
                switch c.op {
                case .ge: return (!n && k >= 0, n && k >= 0)
                case .gt: return (!n && k >= -1, n && k >= -1)
                case .eq: return (!n && k >= 0, n && k >= 0)
                case .lt: return (n && k >= 0, !n && k >= 0)
                case .le: return (n && k >= -1, !n && k >= -1)
                default: return unknown
                }
            case .intIn:
                let ns = UnsafeBufferPointer(start: c.p?.assumingMemoryBound(to: Int64.self), count: c.n)
                return (!c.negate && ns.allSatisfy { $0 >= 0 }, c.negate && ns.allSatisfy { $0 >= 0 })
            default: return unknown
            }
        case .evtFailed:
            switch c.kind {
            case .exists: return (false, true)
            case .boolEq:
                // true for a failed call when (true == (i == 1)) != negate.
                let trueOnFailed = (c.i == 1) != c.negate
                return trueOnFailed ? (false, true) : (true, false)
            default: return unknown
            }
        case .evtIsCompat:
            // Known for the kind of call analysed: a test constantly false never matches, one
            // constantly true holds on every failure.
            let holds: Bool
            switch c.kind {
            case .exists: holds = true
            case .boolEq: holds = (compat == (c.i == 1)) != c.negate
            default: return unknown
            }
            return (!holds, holds)
        case .fdNum:
            // -1 or unset on a failed call of these types; an unset value makes every test false
            // (`exists` aside), so the test at -1 decides.
            guard Self.fdNumIsResult.contains(type), c.kind != .exists, let atMinusOne = intTest(-1) else { return unknown }
            return (!atMinusOne, false)
        default:
            return unknown
        }
    }
}

extension FailureAnalysis {
    /// Event types whose failed call names its file by the path as passed (the record's first
    /// string, ``KernelInterest/pathFilterableTypes``): on a failure `fd.name` is that path when
    /// it is absolute and normal (`ProcessTable.applyOpen`), else its normalisation against the
    /// cwd or the dirfd, and `fd.nameraw` is the path as passed.
    static let pathOpenTypes: Set<UInt16> = Set(KernelInterest.pathFilterableTypes.map(\.rawValue))

    /// The paths a failed call can have when node `n` is true: nil when any path can (or the
    /// analysis cannot tell), else a finite set (empty: `n` is never true on a failure). Only
    /// for ``pathOpenTypes``: a positive `fd.name` or `fd.nameraw` test (`=`, `in`; no
    /// transformer) gives its values, `and` the intersection of its children's sets, `or` their
    /// union, and everything else any path, except nodes ``impliesSuccess(_:)`` proves false on
    /// a failure.
    ///
    /// Every value is kept, normal absolute path or not: ``KernelInterest/kernelPaths(_:)``
    /// decides what the kernel's filter must hold.
    func failedPaths(_ n: Int32) -> Set<[UInt8]>? {
        if impliesSuccess(n) { return [] }
        let node = program.nodes[Int(n)]
        switch node.kind {
        case .check: return pathCheck(Int(node.a))
        case .and:
            var result: Set<[UInt8]>? = nil
            for c in children(node) {
                guard let p = failedPaths(c) else { continue }
                result = result.map { $0.intersection(p) } ?? p
            }
            return result
        case .or:
            var result: Set<[UInt8]> = []
            for c in children(node) {
                guard let p = failedPaths(c) else { return nil }
                result.formUnion(p)
            }
            return result
        case .yes, .no, .types, .not: return nil
        }
    }

    /// The values of a positive path test (`fd.name` or `fd.nameraw`, `=` or `in`, no
    /// transformer), nil for any other check.
    private func pathCheck(_ i: Int) -> Set<[UInt8]>? {
        let c = program.checks[i]
        guard Self.pathOpenTypes.contains(type), c.field.id == .fdName || c.field.id == .fdNameraw,
              !c.field.hasTransformers, !c.anyAncestor, !c.negate else { return nil }
        switch c.kind {
        case .strEq: return [Array(c.bytes)]
        case .strIn: return Set(c.p!.assumingMemoryBound(to: ByteSet.self).pointee.items)
        default: return nil
        }
    }
}

extension RuleSet {
    /// The paths for which some enabled rule can match a failed call of `type` (native, or 32-bit
    /// when `compat`): nil when a rule can match failures of any path (or the analysis cannot
    /// tell, see ``FailureAnalysis/failedPaths(_:)``), empty when no rule matches its failures.
    /// Only the open family (`open`, `openat`, `openat2`, `creat`) can have a finite set.
    package func failurePaths(of type: EventType, compat: Bool = false) -> Set<[UInt8]>? {
        let t = Int(type.rawValue)
        guard t < byType.count else { return [] }
        let analysis = FailureAnalysis(program: program, type: type.rawValue, compat: compat)
        var all: Set<[UInt8]> = []
        for c in byType[t] {
            guard let p = analysis.failedPaths(c.root) else { return nil }
            all.formUnion(p)
        }
        return all
    }

    /// Names of the enabled rules that can match a failed call of `type` (in load order): a native
    /// call (or io_uring completion), or a 32-bit call when `compat`.
    package func rulesMatchingFailures(of type: EventType, compat: Bool = false) -> [String] {
        let t = Int(type.rawValue)
        guard t < byType.count else { return [] }
        let analysis = FailureAnalysis(program: program, type: type.rawValue, compat: compat)
        var names: [String] = []
        for c in byType[t] where !analysis.impliesSuccess(c.root) {
            let name = rules[Int(c.rule)].name
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    /// Event types some enabled rule can match when a native call (`compat`: a 32-bit call) of
    /// that type failed. The failures of every other type are of no use to the rules (the state
    /// may still need some: `VIGIL_STATE_FAILED`).
    package func failureEventTypes(compat: Bool = false) -> Set<EventType> {
        Set(requiredEventTypes.filter { !rulesMatchingFailures(of: $0, compat: compat).isEmpty })
    }
}
