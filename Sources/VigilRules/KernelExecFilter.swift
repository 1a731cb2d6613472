import VigilDecode

/// The part of an enforcing rule that the exec program can decide in the kernel: a conjunction
/// of exec-time facts, compiled from the rule's condition specialised for `execve`/`execveat`.
///
/// The kernel fires when every fact holds: the flags in ``require`` are set and those in
/// ``forbid`` are clear, and each non-empty string set matches (or, for the `…Not` sets, does
/// not). Strings are compared exactly (paths, `argv[0]`, `comm`) or as prefixes.
package struct KernelExecFilter: Sendable, Equatable {
    /// Exec-time facts the kernel computes as bits.
    package struct Facts: OptionSet, Sendable, Equatable {
        package let rawValue: UInt32
        package init(rawValue: UInt32) { self.rawValue = rawValue }
        /// The executable is a memfd (`proc.is_exe_from_memfd`).
        package static let memfd = Facts(rawValue: 1 << 0)
        /// The executable is on an overlayfs upper layer (`proc.is_exe_upper_layer`).
        package static let upperLayer = Facts(rawValue: 1 << 1)
        /// The process runs in a container (`container.id != host`): one of its cgroup names is a
        /// runtime scope (`cri-containerd-|crio-|docker-|libpod-<id>.scope`, `libpod-<id>`), as
        /// ``VigilState`` reads it. Neither this nor ``host`` holds when the cgroup path is
        /// undecidable in the kernel (cgroupfs-driver bare ids, deeper than 16 levels): user space decides.
        package static let container = Facts(rawValue: 1 << 2)
        /// The process runs on the host (`container.id = host`): no cgroup name up to the root
        /// can be a container's.
        package static let host = Facts(rawValue: 1 << 3)
    }

    /// Index of the rule in ``RuleSet/rules``.
    package var rule: Int
    package var require: Facts = []
    package var forbid: Facts = []
    /// `proc.exepath` equal to one of these (empty: no constraint) / to none of `exePathsNot`.
    package var exePaths: [String] = []
    package var exePathsNot: [String] = []
    /// `proc.exepath` starting with one of these (`startswith`; `pmatch` entries end with `/` and also match the directory itself).
    package var exePrefixes: [String] = []
    package var exePrefixesNot: [String] = []
    /// `proc.name` (comm, at most 15 bytes) in / not in.
    package var names: [String] = []
    package var namesNot: [String] = []
    /// `proc.exe` (`argv[0]`) in / not in.
    package var argv0: [String] = []
    package var argv0Not: [String] = []

    /// Longest string the kernel compares (bytes, NUL excluded): `VIGIL_ENF_STR - 1`.
    package static let maxString = 255
    /// Longest `comm`.
    package static let maxName = 15
    /// Most prefixes per rule.
    package static let maxPrefixes = 16

    /// One line: `upper-layer, container, exe path prefix in (/tmp/)`.
    package var summary: String {
        var p: [String] = []
        if require.contains(.memfd) { p.append("memfd exe") }
        if forbid.contains(.memfd) { p.append("not memfd exe") }
        if require.contains(.upperLayer) { p.append("exe on overlay upper layer") }
        if forbid.contains(.upperLayer) { p.append("exe not on upper layer") }
        if require.contains(.container) { p.append("in a container") }
        if require.contains(.host) { p.append("on the host") }
        func list(_ what: String, _ v: [String], _ neg: Bool) { if !v.isEmpty { p.append("\(what) \(neg ? "not in" : "in") (\(v.joined(separator: ", ")))") } }
        list("exe path", exePaths, false); list("exe path", exePathsNot, true)
        list("exe path prefix", exePrefixes, false); list("exe path prefix", exePrefixesNot, true)
        list("comm", names, false); list("comm", namesNot, true)
        list("argv[0]", argv0, false); list("argv[0]", argv0Not, true)
        return p.isEmpty ? "every exec" : p.joined(separator: ", ")
    }
}

/// Where an enforcing rule's kill happens.
package enum EnforcementPath: Sendable, Equatable {
    /// In the exec program, before the new image runs.
    case kernel(KernelExecFilter)
    /// From user space through a pidfd when the rule matches; `reason` says why not in the kernel.
    case userSpace(reason: String)
}

extension RuleSet {
    /// Decides where enforcing rule `k` kills: in the kernel at exec when its whole condition,
    /// specialised for `execve` and `execveat`, is a conjunction of exec facts the kernel computes;
    /// otherwise from user space, with the first reason it could not be compiled.
    package func enforcementPath(rule k: Int) -> EnforcementPath {
        let r = rules[k]
        let execTypes: Set<EventType> = [EventType(name: "execve"), EventType(name: "execveat")].reduce(into: []) { s, t in if let t { s.insert(t) } }
        let others = r.eventTypes.filter { !execTypes.contains($0) }
        if !others.isEmpty {
            return .userSpace(reason: "matches non-exec events (\(others.prefix(4).map(\.name).joined(separator: ", ")))")
        }
        var result: KernelExecFilter?
        for t in r.eventTypes {
            var prog = program
            prog.orderCheapFirst = false  // the rule's own order: the filter and its reasons do not depend on cost estimates
            let folded = prog.specialize(r.root, type: t.rawValue)
            var f = KernelExecFilter(rule: k)
            switch folded {
            case .const(false): continue
            case .const(true): break
            case .node(let n):
                if let reason = KernelExecCompiler(program: prog).add(n, into: &f) { return .userSpace(reason: reason) }
            }
            if let prev = result, prev != f { return .userSpace(reason: "execve and execveat conditions differ") }
            result = f
        }
        guard let f = result else { return .userSpace(reason: "the condition cannot match an exec") }
        return .kernel(f)
    }
}

/// Turns a specialised condition tree into a ``KernelExecFilter`` (or says why it cannot).
struct KernelExecCompiler {
    let program: Program

    /// Adds node `n` (which must hold) to `f`; returns a reason on failure.
    func add(_ n: Int32, into f: inout KernelExecFilter, negated: Bool = false) -> String? {
        let node = program.nodes[Int(n)]
        switch node.kind {
        case .yes: return negated ? "the condition is always false" : nil
        case .no: return negated ? nil : "the condition is always false"
        case .types: return "event-type test left after specialisation"
        case .not: return add(node.a, into: &f, negated: !negated)
        case .and, .or:
            // and, or not(or) (De Morgan): every child must hold.
            if (node.kind == .and) != negated {
                for j in 0..<Int(node.b) {
                    if let r = add(program.kids[Int(node.a) + j], into: &f, negated: negated) { return r }
                }
                return nil
            }
            // or of string tests on one field: a union.
            var union = KernelExecFilter(rule: f.rule)
            var singles: [KernelExecFilter] = []
            for j in 0..<Int(node.b) {
                var single = KernelExecFilter(rule: f.rule)
                if let r = add(program.kids[Int(node.a) + j], into: &single, negated: negated) { return r }
                singles.append(single)
            }
            for single in singles {
                guard single.require.isEmpty, single.forbid.isEmpty, single.exePathsNot.isEmpty, single.exePrefixesNot.isEmpty,
                      single.namesNot.isEmpty, single.argv0Not.isEmpty else {
                    return "an 'or' of tests other than exe path, comm or argv[0] lists"
                }
                union.exePaths += single.exePaths; union.exePrefixes += single.exePrefixes
                union.names += single.names; union.argv0 += single.argv0
            }
            let kinds = [union.exePaths, union.exePrefixes, union.names, union.argv0].filter { !$0.isEmpty }.count
            if kinds > 1 { return "an 'or' across different fields" }
            return merge(union, into: &f)
        case .check:
            return check(Int(node.a), into: &f, negated: negated)
        }
    }

    func merge(_ u: KernelExecFilter, into f: inout KernelExecFilter) -> String? {
        func one(_ a: inout [String], _ b: [String], _ what: String) -> String? {
            if b.isEmpty { return nil }
            if !a.isEmpty { return "two positive \(what) tests (an intersection)" }
            a = b; return nil
        }
        if let r = one(&f.exePaths, u.exePaths, "exe path") { return r }
        if let r = one(&f.exePrefixes, u.exePrefixes, "exe path prefix") { return r }
        if let r = one(&f.names, u.names, "proc.name") { return r }
        if let r = one(&f.argv0, u.argv0, "proc.exe") { return r }
        if f.exePrefixes.count + f.exePrefixesNot.count > KernelExecFilter.maxPrefixes { return "more than \(KernelExecFilter.maxPrefixes) exe path prefixes" }
        return nil
    }

    func check(_ i: Int, into f: inout KernelExecFilter, negated: Bool) -> String? {
        let c = program.checks[i]
        let name = FieldCatalog.name(of: c.field.id)
        if c.field.hasTransformers { return "\(name) with a transformer" }
        if c.anyAncestor || c.field.index >= 0 { return "\(name) with an index (ancestors are not known in the kernel)" }
        let neg = negated != c.negate
        func values() -> [String]? {
            switch c.kind {
            case .strEq: return [String(decoding: c.bytes, as: UTF8.self)]
            case .strIn: return c.p!.assumingMemoryBound(to: ByteSet.self).pointee.items.map { String(decoding: $0, as: UTF8.self) }
            default: return nil
            }
        }
        func strings(_ max: Int, _ pos: WritableKeyPath<KernelExecFilter, [String]>, _ negKP: WritableKeyPath<KernelExecFilter, [String]>) -> String? {
            guard let v = values() else { return "\(name) \(c.op.rawValue) (only = and in are compiled)" }
            if let long = v.first(where: { $0.utf8.count > max || $0.isEmpty }) { return "\(name) value '\(long)' is empty or longer than \(max) bytes" }
            if neg { f[keyPath: negKP] += v; return nil }
            var u = KernelExecFilter(rule: f.rule)
            u[keyPath: pos] = v
            return merge(u, into: &f)
        }
        switch c.field.id {
        case .procExepath:
            if c.kind == .strStartsWith || c.kind == .pmatch {
                var pfx: [String]
                if c.kind == .strStartsWith { pfx = [String(decoding: c.bytes, as: UTF8.self)] }
                else {
                    // pmatch: the directory or anything below it (an executable is never the directory itself).
                    let set = c.p!.assumingMemoryBound(to: PathPrefixSet.self).pointee
                    pfx = set.matchAll ? ["/"] : set.set.items.map { String(decoding: $0, as: UTF8.self) + "/" }
                }
                if let long = pfx.first(where: { $0.utf8.count > KernelExecFilter.maxString || $0.isEmpty }) { return "exe path prefix '\(long)' is empty or longer than \(KernelExecFilter.maxString) bytes" }
                if neg { f.exePrefixesNot += pfx }
                else { var u = KernelExecFilter(rule: f.rule); u.exePrefixes = pfx; if let r = merge(u, into: &f) { return r } }
                if f.exePrefixes.count + f.exePrefixesNot.count > KernelExecFilter.maxPrefixes { return "more than \(KernelExecFilter.maxPrefixes) exe path prefixes" }
                return nil
            }
            return strings(KernelExecFilter.maxString, \.exePaths, \.exePathsNot)
        case .procName: return strings(KernelExecFilter.maxName, \.names, \.namesNot)
        case .procExe: return strings(KernelExecFilter.maxString, \.argv0, \.argv0Not)
        case .procIsExeUpperLayer, .procIsExeFromMemfd:
            guard c.kind == .boolEq else { return "\(name) \(c.op.rawValue)" }
            let fact: KernelExecFilter.Facts = c.field.id == .procIsExeFromMemfd ? .memfd : .upperLayer
            let want = (c.i != 0) != neg
            if want { f.require.insert(fact) } else { f.forbid.insert(fact) }
            return f.require.isDisjoint(with: f.forbid) ? nil : "contradictory \(name) tests"
        case .containerId:
            guard c.kind == .strEq, String(decoding: c.bytes, as: UTF8.self) == "host" else {
                return "container.id compared with something other than 'host'"
            }
            // container.id = host (neg false) -> certainly on the host; != host -> certainly in a container.
            f.require.insert(neg ? .container : .host)
            return f.require.isSuperset(of: [.container, .host]) ? "contradictory container tests" : nil
        case .evtNum:
            // `never_true` (evt.num=0): no event has number 0.
            if c.kind == .intCmp, c.op == .eq, c.i == 0 { return neg ? nil : "the condition is always false" }
            return "evt.num"
        default:
            return "field \(name) is not known in the kernel at exec"
        }
    }
}

extension ByteSet {
    /// The distinct items.
    var items: [[UInt8]] {
        var out: [[UInt8]] = []
        for k in 0...mask where offsets[k] >= 0 {
            out.append(Array(UnsafeBufferPointer(start: pool + Int(offsets[k]), count: Int(lengths[k]))))
        }
        return out
    }
}

extension FieldCatalog {
    /// The Falco name of a field id (first catalog entry with it).
    static func name(of id: FieldID) -> String {
        all.first(where: { $0.id == id })?.name ?? "\(id)"
    }
}
