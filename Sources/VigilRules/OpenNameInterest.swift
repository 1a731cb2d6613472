import VigilDecode

/// What a rule reads of the path an open was passed (the record's first string, Falco's
/// `fd.nameraw` and the open's `name` argument), as opposed to the path of the file it opened
/// (`fd.name`, which the kernel resolves from the file itself).
package struct OpenNameUse: OptionSet, Sendable, Hashable {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `evt.args`, or an `evt.arg` / `evt.rawarg` that is the path argument of an open type of
    /// ``KernelInterest/openNameTypes`` (`evt.arg.name`, `evt.arg[1]` of openat, ...): read from
    /// the open event itself.
    package static let argument = OpenNameUse(rawValue: 1)
    /// `fd.nameraw`: kept in the fd table, so any later event on the fd can read it.
    package static let fdNameraw = OpenNameUse(rawValue: 2)

    /// Whether `evt.arg` / `evt.rawarg` with argument `index` (`evt.arg[N]`; -1 when by name) or
    /// `key` (`evt.arg.NAME`) is the path as passed of an open of ``KernelInterest/openNameTypes``.
    static func argumentReadsOpenName(index: Int, key: String) -> Bool {
        KernelInterest.openNameTypes.contains { t in
            let schema = SyscallSchema.of(t)
            let i = index >= 0 ? index : (schema.index(of: key) ?? -1)
            guard i >= 0, i < schema.arguments.count else { return false }
            return schema.arguments[i].source == .str0
        }
    }
}

/// Whether an enabled rule's condition, specialised for an open type (`open` or `openat`), can be
/// true for a successful read-only open (access mode `O_RDONLY`): what lets the kernel send such
/// an open without the path as passed (``RuleSet/openNameWriteOnlyTypes``).
///
/// Per node it computes one fact, **write**: when the node is true, the open has write access
/// (`O_WRONLY` or `O_RDWR`, Falco's `evt.is_open_write`), so it is false for every read-only
/// open. `and`: any child has it; `or`: every child; a type set without the type analysed:
/// never true, so it has it; `no` has it; `not`, `yes` and every check other than these do not:
///
/// | check (no transformer, not on ancestors) | write |
/// |---|---|
/// | `evt.is_open_write = true`, `evt.is_open_write != false` | yes |
/// | `evt.is_open_read = false`, `evt.is_open_read != true` (false only for `O_WRONLY`) | yes |
struct OpenWriteAnalysis {
    let program: Program
    let type: UInt16

    /// When node `n` is true, the open has write access.
    func impliesWrite(_ n: Int32) -> Bool {
        let node = program.nodes[Int(n)]
        switch node.kind {
        case .yes, .not: return false
        case .no: return true
        case .types: return !program.typeSets[Int(node.a)].contains(type)
        case .and: return (0..<Int(node.b)).contains { impliesWrite(program.kids[Int(node.a) + $0]) }
        case .or: return (0..<Int(node.b)).allSatisfy { impliesWrite(program.kids[Int(node.a) + $0]) }
        case .check: return checkImpliesWrite(Int(node.a))
        }
    }

    private func checkImpliesWrite(_ i: Int) -> Bool {
        let c = program.checks[i]
        guard !c.field.hasTransformers, !c.anyAncestor, c.kind == .boolEq else { return false }
        // The check is true when (value == (c.i == 1)) != negate.
        let trueWhenValueIs = (c.i == 1) != c.negate
        switch c.field.id {
        case .evtIsOpenWrite: return trueWhenValueIs
        case .evtIsOpenRead: return !trueWhenValueIs
        default: return false
        }
    }
}

extension RuleSet {
    /// Of ``KernelInterest/openNameTypes`` (`open`, `openat`), the types whose successful
    /// read-only opens no enabled rule can read the path as passed of: no enabled rule reads
    /// `fd.nameraw` (any later event on the fd could), and every enabled rule of the type that
    /// reads the open's path argument (`evt.arg.name`, `evt.args`, ...; in its condition, output
    /// or `append_output` fields) is false for every read-only open (``OpenWriteAnalysis``). The
    /// kernel may send those opens without the path as passed when it resolved the file's path
    /// (`fd.name` is then that path, and no rule reads anything else of it); the process table
    /// names the fd from the resolved path either way.
    package var openNameWriteOnlyTypes: Set<EventType> {
        if rules.contains(where: { $0.enabled && $0.openNameUse.contains(.fdNameraw) }) { return [] }
        var out: Set<EventType> = []
        for type in KernelInterest.openNameTypes {
            let t = Int(type.rawValue)
            let analysis = OpenWriteAnalysis(program: program, type: type.rawValue)
            let needed = t < byType.count && byType[t].contains { c in
                rules[Int(c.rule)].openNameUse.contains(.argument) && !analysis.impliesWrite(c.root)
            }
            if !needed { out.insert(type) }
        }
        return out
    }

    /// Names of the enabled rules that need the path as passed of some successful read-only open
    /// (of ``KernelInterest/openNameTypes``), in load order: why a type is not in ``openNameWriteOnlyTypes``.
    package var rulesNeedingReadOnlyOpenNames: [String] {
        var names: [String] = []
        for (i, r) in rules.enumerated() where r.enabled && !r.openNameUse.isEmpty {
            let needs = r.openNameUse.contains(.fdNameraw) || KernelInterest.openNameTypes.contains { type in
                let t = Int(type.rawValue)
                let analysis = OpenWriteAnalysis(program: program, type: type.rawValue)
                return t < byType.count && byType[t].contains { $0.rule == Int32(i) && !analysis.impliesWrite($0.root) }
            }
            if needs && !names.contains(r.name) { names.append(r.name) }
        }
        return names
    }
}
