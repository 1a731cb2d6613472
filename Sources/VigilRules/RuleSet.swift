#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilDecode
import VigilState
import VigilCore

/// Falco's `rule_matching`: stop at the first matching rule, or report all.
package enum RuleMatching: String, Sendable { case first, all }

/// What an unknown key in a list, macro or rule item is: an error naming the key and its
/// place (Falco 0.44's behaviour, the default), or a warning (the item loads without it).
package enum UnknownKeyPolicy: String, Sendable, Equatable { case error, warn }

/// How rules are loaded and which are active.
package struct RuleLoadOptions: Sendable {
    /// Unknown keys in rule items: errors (default) or warnings.
    package var unknownKeys: UnknownKeyPolicy = .error
    /// Falco's configuration-level `rules:` items (enable/disable by rule-name wildcard or tag,
    /// applied in order over each rule's own `enabled`), before the priority and tag filters.
    package var selectors: [RuleSelector] = []
    /// `first` or `all` (Falco's default is `first`).
    package var matching: RuleMatching = .first
    /// Rules below this priority are not evaluated (Falco's `priority`).
    package var minimumPriority: Priority = .debug
    /// Load even when some rules have errors (they are skipped); default: any error fails the load.
    package var skipInvalidRules = false
    /// Rules disabled / enabled by name, and disabled by tag (Falco's -D, -t, -T style filters).
    package var disabledRules: Set<String> = []
    package var enabledRules: Set<String> = []
    package var disabledTags: Set<String> = []
    /// When non-empty, only rules with one of these tags are enabled.
    package var onlyTags: Set<String> = []
    /// Which enabled rules enforce (the configuration's `enforcement.rules`, Falco's `rules:` selector
    /// items applied from "none"). Enforcing rules are always evaluated, even after a first match.
    package var enforcing: [RuleSelector] = []
    /// Largest rules file read (bytes).
    package var maxFileBytes = FileReader.defaultLimit
    /// The configuration's `append_output` entries (text and `output_fields` added to the rules they match).
    package var appendOutput: [AppendOutput] = []
    /// The configuration's `static_fields` (`static.NAME` in conditions and outputs).
    package var staticFields: [StaticField] = []
    /// Set from another thread to stop a compilation early (it then fails with an error).
    package var cancellation: RuleLoadCancellation?
    /// Evaluates the operands of each `and`/`or` cheapest first (``CheckCost``); the results are
    /// the same either way (conditions have no side effects). Off only to compare in tests.
    package var orderOperandsByCost = true
    package init() {}
}

/// Stops a rule-set compilation running on another thread (checked between items).
package final class RuleLoadCancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    package init() {}
    /// Asks the compilation to stop.
    package func cancel() { flag.store(true, ordering: .releasing) }
    /// Whether ``cancel()`` was called.
    package var isCancelled: Bool { flag.load(ordering: .acquiring) }
}

/// A skipped rule and why.
package struct SkippedRule: Sendable {
    package var name: String
    package var reason: String
    package var mark: SourceMark
}

/// What a load did: counts, skipped rules, files.
package struct RuleSetSummary: Sendable {
    package var files: [String] = []
    package var rules = 0
    package var macros = 0
    package var lists = 0
    /// Rules whose condition and output compiled.
    package var compiled = 0
    /// Compiled and enabled (evaluated).
    package var enabled = 0
    /// Compiled but disabled (`enabled: false`, priority or tag filters).
    package var disabled = 0
    package var skipped: [SkippedRule] = []
    package var errors = 0
    package var warnings = 0
}

/// A compiled rule.
package struct CompiledRule: Sendable {
    package let name: String
    package let description: String
    package let priority: Priority
    package let tags: [String]
    package let source: String
    package let enabled: Bool
    /// Event types the condition can match.
    package let eventTypes: [EventType]
    package let mark: SourceMark
    let root: Int32
    let output: OutputTemplate
    /// `append_output` extra fields for this rule (JSON `output_fields` only), in order, names unique.
    let extraFields: [ExtraOutputField]
    /// Whether the rule is enabled and selected by ``RuleLoadOptions/enforcing``.
    package internal(set) var enforcing = false
    /// Whether the condition or output reads the environment (`proc.env`, `proc.aenv`).
    package internal(set) var usesEnvironment = false
    /// What the condition, output or `append_output` fields read of the path an open was passed.
    package internal(set) var openNameUse: OpenNameUse = []
}

/// An immutable, compiled rule set: conditions compiled once into a flat
/// program, rules indexed by event type. Share it across threads and swap it
/// atomically on reload; each evaluating thread keeps its own ``RuleScratch``.
///
/// ```swift
/// let (rules, warnings) = try RuleSet.load(paths: ["rules/"], options: .init())
/// let scratch = RuleScratch(hostname: "node-1")
/// rules.evaluate(ctx, scratch: scratch) { alert in sink.send(alert) }
/// capture.setInterest(rules.requiredEventTypes)
/// ```
package final class RuleSet: Sendable {
    /// Every compiled rule (enabled or not), in load order.
    package let rules: [CompiledRule]
    let program: Program
    /// Enabled rules per event type (load order): rule index and the root of
    /// its condition specialised for that type.
    let byType: [[Candidate]]
    /// Event types the enabled rules need (hand these to capture).
    package let requiredEventTypes: Set<EventType>
    /// Whether an enabled rule reads the environment: the exec program must copy it
    /// (``EventType/environmentCapture`` in the capture interest).
    package var needsEnvironment: Bool { rules.contains { $0.enabled && $0.usesEnvironment } }
    /// ``byType`` flattened into the permanent store for ``match`` (no array retained per event).
    let table: CandidateTable
    /// `EventType.count - 1` (a stored copy: the other module's static is a lazy global, checked per read).
    let typeMask = EventType.count - 1
    /// The most candidates an event type has (the matches ``match`` can collect for one event).
    let maxCandidates: Int
    /// This set's id for ``PathCheckMemo`` (unique among the sets of this process).
    let memoID = PathCheckMemo.nextID()
    /// Comparisons ``PathCheckMemo`` keeps (``HotCheck/memoBit``).
    let memoCount: Int
    package let matching: RuleMatching
    package let summary: RuleSetSummary
    /// Owns the memory the compiled checks point into.
    let store: PermanentStore
    /// The routing fields added to every alert, with their per-event cache slots (shared
    /// with conditions and outputs that use the same field).
    let routing: [(spec: FieldSpec, name: String)]
    /// Per rule: the ``routing`` fields its output's fields do not already have (indices, in
    /// order), found once here rather than by comparing names at every alert.
    let routingAdded: [[Int32]]
    /// The DNS names `fd.*ip.name` checks registered (released with the set).
    let dnsLease: DNSNameLease

    /// A rule evaluated for an event type: its condition specialised for that type (`root`, the
    /// tree) and compiled to a branch program (`entry`, into ``steps``), which ``match`` walks.
    struct Candidate: Sendable { let rule: Int32; let root: Int32; let enforcing: Bool; var entry: Int32 = BranchStep.reject }

    init(rules: [CompiledRule], program: Program, store: PermanentStore, matching: RuleMatching, summary: RuleSetSummary,
         routing: [(spec: FieldSpec, name: String)], dnsIDs: [Int32] = [], orderOperandsByCost: Bool = true) {
        dnsLease = DNSNameLease(ids: dnsIDs, active: RuleSet.dnsNamesReachable(from: rules.filter(\.enabled).map(\.root), program))
        var program = program
        program.orderCheapFirst = orderOperandsByCost
        var idx = [[Candidate]](repeating: [], count: EventType.count)
        var req = Set<EventType>()
        var steps: [BranchStep] = []
        for (k, r) in rules.enumerated() where r.enabled {
            for t in r.eventTypes {
                let root: Int32
                switch program.specialize(r.root, type: t.rawValue) {
                case .const(false): continue
                case .const(true): root = program.add(CNode(kind: .yes, a: 0, b: 0))
                case .node(let n): root = n
                }
                idx[Int(t.rawValue)].append(Candidate(rule: Int32(k), root: root, enforcing: r.enforcing,
                                                      entry: program.appendBranchProgram(root, type: t.rawValue, to: &steps)))
                req.insert(t)
            }
        }
        self.rules = rules; self.program = program; self.store = store; self.matching = matching; self.summary = summary
        self.routing = routing
        routingAdded = rules.map { r in
            routing.indices.filter { i in !r.output.fields.contains(where: { $0.1 == routing[i].name }) }.map { Int32($0) }
        }
        byType = idx
        let hasEnforcing = idx.map { $0.contains(where: \.enforcing) }
        var starts: [Int32] = [0]
        for list in idx { starts.append(starts.last! + Int32(list.count)) }
        var guards: [GuardNode] = []
        var guardStarts: [Int32] = [0]
        for list in idx {
            let base = Int32(guards.count)
            for var g in GuardNode.tree(entries: list.map(\.entry), steps: steps) {
                if g.check >= 0 { g.next += base }
                guards.append(g)
            }
            guardStarts.append(Int32(guards.count))
        }
        var memoized = 0
        let hotChecks = program.checks.map { c -> HotCheck in
            var h = HotCheck(c, store: store)
            if HotCheck.memoizable(c) { h.memoBit = Int32(memoized); memoized += 1 }
            h.bySignature = HotCheck.decidedBySignature(c)
            h.snapshot = SnapshotField.of(c)
            return h
        }
        memoCount = memoized
        var checkOfBit = [Int32](repeating: 0, count: memoized)
        for (k, h) in hotChecks.enumerated() where h.memoBit >= 0 { checkOfBit[Int(h.memoBit)] = Int32(k) }
        table = CandidateTable(candidates: store.copy(idx.flatMap { $0 }), start: store.copy(starts), enforcing: store.copy(hasEnforcing),
                               steps: store.copy(steps), checks: store.copy(hotChecks),
                               guards: store.copy(guards), guardStart: store.copy(guardStarts), checkOfMemoBit: store.copy(checkOfBit))
        maxCandidates = idx.map(\.count).max() ?? 0
        requiredEventTypes = req
    }

    /// The ``DNSNameCache`` ids of the `fd.*ip.name` checks the given roots can reach.
    static func dnsNamesReachable(from roots: [Int32], _ program: Program) -> [Int32] {
        var out = Set<Int32>()
        var seen = Set<Int32>()
        var stack = roots
        while let n = stack.popLast() {
            guard seen.insert(n).inserted else { continue }
            let node = program.nodes[Int(n)]
            switch node.kind {
            case .and, .or: for k in Int(node.a)..<Int(node.a + node.b) { stack.append(program.kids[k]) }
            case .not: stack.append(node.a)
            case .check:
                let c = program.checks[Int(node.a)]
                if c.kind == .dnsName { out.formUnion(c.p!.assumingMemoryBound(to: DNSNameSet.self).pointee.buffer) }
            default: break
            }
        }
        return out.sorted()
    }

    /// Number of field-cache slots a scratch needs.
    package var slotCount: Int { program.slotCount }

    /// A scratch sized for this rule set.
    package func makeScratch(hostname: String = RuleScratch.systemHostname()) -> RuleScratch {
        RuleScratch(slots: program.slotCount, checks: program.checks.count, hostname: hostname)
    }

    // MARK: loading

    /// Loads rule files and directories (in order) and compiles them.
    /// Throws ``RuleLoadError`` when any error was found (unless `skipInvalidRules`);
    /// returns the rule set and every diagnostic (warnings, and skipped-rule reasons).
    package static func load(paths: [String], options: RuleLoadOptions = RuleLoadOptions()) throws(RuleLoadError) -> (RuleSet, [Diagnostic]) {
        var loader = RuleLoader(maxFileBytes: options.maxFileBytes)
        loader.unknownKeys = options.unknownKeys
        loader.load(paths: paths)
        let (set, diags) = build(loader.source, loaderDiagnostics: loader.diagnostics, options: options)
        if !options.skipInvalidRules && diags.contains(where: { $0.severity == .error }) {
            throw RuleLoadError(diagnostics: diags)
        }
        return (set, diags)
    }

    /// Compiles loaded rules. Never throws: errors are in the diagnostics and the summary.
    package static func build(_ source: RuleSource, loaderDiagnostics: [Diagnostic] = [], options: RuleLoadOptions = RuleLoadOptions()) -> (RuleSet, [Diagnostic]) {
        var diags = loaderDiagnostics
        var summary = RuleSetSummary()
        summary.files = source.files
        summary.rules = source.rules.count
        summary.macros = source.macros.count
        summary.lists = source.lists.count

        // Parse every macro once (syntax errors are reported even for unused macros).
        var asts: [String: ConditionExpr?] = [:]
        for (name, m) in source.macros.sorted(by: { $0.key < $1.key }) where options.cancellation?.isCancelled != true {
            do { asts[name] = try ConditionParser.parse(m.condition.text) } catch {
                asts[name] = .some(nil)
                diags.append(Diagnostic(.error, m.condition.mark(at: error.offset), item: "macro '\(name)'", "syntax error: \(error.message)"))
            }
        }
        var cc = ConditionCompiler(lists: source.lists, macros: source.macros, macroASTs: asts)
        for f in options.staticFields { cc.staticFields[f.name] = f.value }
        for (name, why) in cc.listFailures {
            diags.append(Diagnostic(.error, source.lists[name]!.mark, item: "list '\(name)'", why))
        }
        cc.openNameUse = []
        let appends = compileAppendOutput(options, &cc, &diags)
        // append_output's JSON fields are compiled once for every rule they may apply to.
        let appendsOpenNameUse = cc.openNameUse
        var compiled: [CompiledRule] = []

        for r in source.rules.sorted(by: { $0.order < $1.order }) {
            if options.cancellation?.isCancelled == true {
                diags.append(Diagnostic(.error, r.mark, item: nil, "compilation cancelled"))
                break
            }
            let item = "rule '\(r.name)'"
            func skip(_ reason: String, _ mark: SourceMark) {
                summary.skipped.append(SkippedRule(name: r.name, reason: reason, mark: mark))
                diags.append(Diagnostic(.warning, mark, item: item, "rule skipped: \(reason)"))
            }
            if r.source != "syscall" {
                skip("source '\(r.source)' is not supported (Vigil evaluates syscall rules)", r.mark)
                continue
            }
            let ast: ConditionExpr
            do { ast = try ConditionParser.parse(r.condition.text) } catch {
                diags.append(Diagnostic(.error, r.condition.mark(at: error.offset), item: item, "syntax error: \(error.message)"))
                continue
            }
            cc.unknownTypes = []
            cc.usesEnvironment = false
            cc.openNameUse = appendsOpenNameUse
            var root: Int32
            do throws(RuleCompileError) {
                try cc.checkBudget(ast)
                root = try cc.compile(ast)
                // Exceptions: `and not (...)`.
                var parts = [root]
                for e in r.exceptions {
                    guard let ex = cc.exceptionExpr(e) else { continue }
                    do throws(RuleCompileError) { parts.append(try cc.compile(ex)) } catch {
                        var err = error
                        err.mark = err.mark ?? e.mark
                        err.message = "exception '\(e.name)': " + err.message
                        throw err
                    }
                }
                root = cc.program.group(.and, parts)
            } catch {
                let mark = error.mark ?? error.offset.map { r.condition.mark(at: $0) } ?? r.mark
                if error.unsupported || (r.skipIfUnknownFilter && error.message.hasPrefix("unknown field")) {
                    skip(error.message, mark)
                } else {
                    diags.append(Diagnostic(.error, mark, item: item, error.message))
                }
                continue
            }
            // Output template.
            let output: OutputTemplate
            do throws(RuleCompileError) {
                // Folded YAML scalars (`output: >`) end with a newline; Falco trims it.
                var text = Substring(r.output)
                while let last = text.last, last == "\n" || last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
                var full = String(text)
                for a in appends where a.entry.matches(rule: r.name, source: r.source, tags: r.tags) {
                    for extra in a.texts { full += " " + extra }
                }
                output = try OutputTemplate.parse(full) { (ref: FieldRef) throws(RuleCompileError) -> FieldSpec in
                    try cc.resolve(ref, forOutput: true).0
                }
            } catch {
                let mark = error.offset.map { r.outputMark.advanced(column: $0) } ?? r.outputMark
                if error.unsupported { skip("output: " + error.message, mark) }
                else { diags.append(Diagnostic(.error, mark, item: item, "output: " + error.message)) }
                continue
            }
            // Event types.
            let (types, _) = cc.program.eventTypes(root)
            if types.isEmpty {
                if !cc.unknownTypes.isEmpty {
                    skip("event types not captured by Vigil: " + Array(Set(cc.unknownTypes)).sorted().joined(separator: ", "), r.condition.mark(at: 0))
                } else {
                    skip("the condition cannot match any event type", r.condition.mark(at: 0))
                }
                continue
            }
            if types == TypeSet.all && r.warnEventTypes {
                diags.append(Diagnostic(.warning, r.condition.mark(at: 0), item: item,
                                        "rule matches all event types (no evt.type restriction): it is evaluated for every event"))
            }
            var enabled = RuleSelector.select(options.selectors, name: r.name, tags: r.tags, initially: r.enabled)
            if options.disabledRules.contains(r.name) || r.priority > options.minimumPriority { enabled = false }
            if !options.onlyTags.isEmpty && options.onlyTags.isDisjoint(with: r.tags) { enabled = false }
            if !options.disabledTags.isDisjoint(with: r.tags) { enabled = false }
            if options.enabledRules.contains(r.name) { enabled = true }
            var extra: [ExtraOutputField] = []
            for a in appends where a.entry.matches(rule: r.name, source: r.source, tags: r.tags) {
                for f in a.fields {
                    if let i = extra.firstIndex(where: { $0.name == f.name }) { extra[i] = f } else { extra.append(f) }
                }
            }
            var rule = CompiledRule(name: r.name, description: r.desc, priority: r.priority, tags: r.tags, source: r.source,
                                    enabled: enabled, eventTypes: types.types, mark: r.mark, root: root, output: output,
                                    extraFields: extra)
            rule.enforcing = enabled && RuleSelector.select(options.enforcing, name: r.name, tags: r.tags, initially: false)
            rule.usesEnvironment = cc.usesEnvironment
            rule.openNameUse = cc.openNameUse
            compiled.append(rule)
        }
        summary.compiled = compiled.count
        summary.enabled = compiled.filter(\.enabled).count
        summary.disabled = compiled.count - summary.enabled
        summary.errors = diags.filter { $0.severity == .error }.count
        summary.warnings = diags.count - summary.errors
        let routing = RuleSet.routingFields.map { name -> (spec: FieldSpec, name: String) in
            let def = FieldCatalog.byName[name]!
            return (FieldSpec(id: def.id, type: def.type, slot: cc.slot(name)), name)
        }
        return (RuleSet(rules: compiled, program: cc.program, store: cc.store, matching: options.matching, summary: summary,
                        routing: routing, dnsIDs: cc.dnsIDs, orderOperandsByCost: options.orderOperandsByCost), diags)
    }

    /// Checks `append_output` formats and field names against the field catalog and the static
    /// fields (what a rules load would report), for configuration checks before any rule loads.
    package static func checkAppendOutput(_ entries: [AppendOutput], staticFields: [StaticField]) -> [Diagnostic] {
        var options = RuleLoadOptions()
        options.appendOutput = entries
        options.staticFields = staticFields
        var cc = ConditionCompiler(lists: [:], macros: [:], macroASTs: [:])
        for f in staticFields { cc.staticFields[f.name] = f.value }
        var diags: [Diagnostic] = []
        _ = compileAppendOutput(options, &cc, &diags)
        return diags
    }

    /// `append_output` entries compiled once: the texts appended to matching rules' outputs and
    /// their extra fields. An entry with an error is reported at its place and left out.
    static func compileAppendOutput(_ options: RuleLoadOptions, _ cc: inout ConditionCompiler,
                                    _ diags: inout [Diagnostic]) -> [(entry: AppendOutput, texts: [String], fields: [ExtraOutputField])] {
        var out: [(entry: AppendOutput, texts: [String], fields: [ExtraOutputField])] = []
        for (i, entry) in options.appendOutput.enumerated() {
            let item = "append_output[\(i)]"
            func parse(_ text: String) throws(RuleCompileError) -> OutputTemplate {
                try OutputTemplate.parse(text) { (ref: FieldRef) throws(RuleCompileError) -> FieldSpec in try cc.resolve(ref, forOutput: true).0 }
            }
            var texts: [String] = []
            var fields: [ExtraOutputField] = []
            var ok = true
            if !entry.extraOutput.isEmpty {
                do throws(RuleCompileError) { _ = try parse(entry.extraOutput); texts.append(entry.extraOutput) } catch {
                    diags.append(Diagnostic(.error, entry.mark, item: item, "extra_output: " + error.message)); ok = false
                }
            }
            if entry.suggestedOutput {
                for f in options.staticFields.map(\.name).sorted() { texts.append(AppendOutput.suggestedFormat("static." + f)) }
            }
            for f in entry.extraFields {
                do throws(RuleCompileError) {
                    if let format = f.format {
                        fields.append(ExtraOutputField(name: f.name, field: .none, template: try parse(format)))
                    } else {
                        let t = try parse("%" + f.name)
                        guard t.pieces.count == 1, case .field(let spec, _) = t.pieces[0] else {
                            throw RuleCompileError(offset: nil, message: "'\(f.name)' is not a field name (use `- NAME: \"FORMAT\"` for a formatted value)")
                        }
                        fields.append(ExtraOutputField(name: f.name, field: spec, template: nil))
                    }
                } catch {
                    diags.append(Diagnostic(.error, f.mark, item: item, "extra_fields '\(f.name)': " + error.message)); ok = false
                }
            }
            if ok { out.append((entry, texts, fields)) }
        }
        return out
    }

    // MARK: evaluation

    /// Evaluates `ctx` against the enabled rules for its event type and calls
    /// `onMatch` with the index (into ``rules``) of each matching rule, in load order. With
    /// `rule_matching: first`, only the first match is reported (and enforcing rules after it).
    @inline(__always)
    package func match(_ ctx: EventContext, scratch: RuleScratch, _ onMatch: (Int) -> Void) {
        withUnsafePointer(to: ctx) { match($0, scratch: scratch, onMatch) }
    }

    /// ``match(_:scratch:_:)`` for a context the caller keeps in place (no copy).
    @inline(__always)
    package func match(_ cp: UnsafePointer<EventContext>, scratch: RuleScratch, _ onMatch: (Int) -> Void) {
        let t = Int(cp.pointee.event.type.rawValue) & typeMask
        let lo = Int(table.start[t]), hi = Int(table.start[t + 1])
        if lo == hi { scratch.eventNumber &+= 1; return }  // evt.num counts every event
        let candidates = UnsafeBufferPointer(start: table.candidates + lo, count: hi - lo)
        let enforcingType = table.enforcing[t]
        scratch.ensure(program.slotCount, program.checks.count)
        scratch.ensureMatches(maxCandidates)
        scratch.begin()
        let found = scratch.matchBuffer
        // The memo without a reference count per event (the scratch holds it).
        let n = scratch.pathMemoRef._withUnsafeGuaranteedRef { memo in
            collect(cp, type: t, scratch, memo, into: found)
        }
        if n == 0 { return }
        // With `first`, only enforcing rules are still reported after a match.
        let first = matching == .first
        var matched = false
        for k in 0..<n {
            let c = candidates[Int(found[k])]
            if matched && !c.enforcing { continue }
            onMatch(Int(c.rule))
            if first { if !enforcingType { break }; matched = true }
        }
    }

    /// The candidates of type `t` that match the event at `cp`: their positions in the type's
    /// candidate list, ascending, written to `found`; returns their number.
    @inline(__always)
    private func collect(_ cp: UnsafePointer<EventContext>, type t: Int, _ scratch: RuleScratch, _ memo: PathCheckMemo,
                         into found: UnsafeMutablePointer<Int32>) -> Int {
        memo.use(memoID, count: memoCount, checkOfBit: table.checkOfMemoBit)
        let ev = Evaluator(checks: table.checks, ctxp: cp, s: scratch, memoize: true)
        var n = 0
        var steps = 0
        // An event whose fd name was seen: the last walk for that name and type, replayed when
        // the comparisons it consulted besides the name's give the same results (``PathCheckMemo``).
        // An event without an fd (an exec): the last walk for its type.
        let entry = memo.entry(gen: scratch.gen, cp, scratch)
        let row = entry >= 0 ? entry : (FieldExtractor.fdPointer(cp, scratch) == nil ? memo.typeRow(t) : -1)
        let signature = row >= 0 ? PathCheckMemo.signature(cp) : 0
        if row < 0 || !memo.replay(row, type: t, signature: signature, ev, found, &n, steps: &steps) {
            if entry >= 0 { memo.enterKnown(marks: ev.marks, key: ev.key) }
            // Every candidate's condition, in guard-tree order (shared leading comparisons tested
            // once); the matching candidates' positions are collected, then reported in load order.
            var i = Int(table.guardStart[t])
            let end = Int(table.guardStart[t + 1])
            while i < end {
                let g = table.guards + i
                steps &+= 1
                if g.pointee.check >= 0 {
                    i = ev.check(Int(g.pointee.check)) ? i + 1 : Int(g.pointee.next)
                    continue
                }
                if ev.run(table.steps, from: g.pointee.entry, steps: &steps) { found[n] = g.pointee.ordinal; n += 1 }
                i += 1
            }
            // Load order (insertion sort: an event matches few rules).
            for a in 1..<max(n, 1) {
                let x = found[a]
                var b = a
                while b > 0 && found[b - 1] > x { found[b] = found[b - 1]; b -= 1 }
                found[b] = x
            }
            if row >= 0 { memo.finish(row, type: t, signature: signature, found, n) }
        }
        scratch.nodesEvaluated &+= UInt64(steps)
        return n
    }

    /// Evaluates `ctx` and emits one ``Alert`` per matching rule.
    package func evaluate(_ ctx: EventContext, scratch: RuleScratch, emit: (Alert) -> Void) {
        withUnsafePointer(to: ctx) { cp in
            match(cp, scratch: scratch) { k in emit(alert(rule: k, cp, scratch: scratch)) }
        }
    }

    /// ``evaluate(_:scratch:emit:)`` for a context the caller keeps in place (no copy).
    package func evaluate(_ cp: UnsafePointer<EventContext>, scratch: RuleScratch, emit: (Alert) -> Void) {
        match(cp, scratch: scratch) { k in emit(alert(rule: k, cp, scratch: scratch)) }
    }

    /// Whether rule `k` matches `ctx` (no index, no first-match stop; for tests and profiling).
    package func matches(rule k: Int, _ ctx: EventContext, scratch: RuleScratch, newEvent: Bool = true) -> Bool {
        scratch.ensure(program.slotCount, program.checks.count)
        if newEvent { scratch.begin() }
        if !rules[k].eventTypes.contains(ctx.event.type) { return false }
        let t = Int(ctx.event.type.rawValue) & (EventType.count - 1)
        let root = byType[t].first(where: { $0.rule == Int32(k) })?.root ?? rules[k].root
        return program.nodes.withUnsafeBufferPointer { nodes in
            program.kids.withUnsafeBufferPointer { kids in
                program.typeSets.withUnsafeBufferPointer { types in
                    withUnsafePointer(to: ctx) { ctxp in
                        TreeEvaluator(nodes: nodes, kids: kids, types: types, type: UInt16(t),
                                      checks: Evaluator(checks: table.checks, ctxp: ctxp, s: scratch)).eval(root)
                    }
                }
            }
        }
    }

    /// Indices of the enabled rules evaluated for events of type `t`.
    package func candidates(for t: EventType) -> [Int] { byType[Int(t.rawValue) & (EventType.count - 1)].map { Int($0.rule) } }

    /// Number of condition nodes evaluated (all types), for diagnostics.
    package var nodeCount: Int { program.nodes.count }

    /// Fields added to every alert's output_fields (pipeline routing).
    static let routingFields: [String] = ["container.id", "container.name", "container.image.repository", "container.image.tag",
                                          "k8s.ns.name", "k8s.pod.name"]
    /// Renders the alert of rule `k` for the event just matched. Every field comes from the
    /// per-event cache the match filled: a field is extracted once per event, whether it was
    /// tested by a condition, printed in an output or added for routing.
    package func alert(rule k: Int, _ ctx: EventContext, scratch s: RuleScratch) -> Alert {
        withUnsafePointer(to: ctx) { alert(rule: k, $0, scratch: s) }
    }

    /// ``alert(rule:_:scratch:)`` for the context the match was given (no copy).
    package func alert(rule k: Int, _ cp: UnsafePointer<EventContext>, scratch s: RuleScratch) -> Alert {
        // The rule, its templates and field lists are read in place (no copy of the rule, of
        // its pieces or of each (field, name) pair: a retain and a release each).
        rules.withUnsafeBufferPointer { all in
            let r = all.baseAddress! + k
            s.ensure(program.slotCount, program.checks.count)
            func value(_ f: FieldSpec) -> FV {
                if f.slot >= 0 { return FieldExtractor.value(f, cp, s) }
                var v = FieldExtractor.extract(f, level: f.index, cp, s)  // not cached (no slot)
                if f.hasTransformers { v = FieldExtractor.transform(v, f, s) }
                return v
            }
            func render(_ pieces: UnsafeBufferPointer<OutputTemplate.Piece>) -> String {
                var text = ""
                for i in pieces.indices {
                    switch pieces[i] {
                    case .text(let t): text += t
                    case .field(let f, _): text += OutputRendering.text(value(f), f, s)
                    }
                }
                return text
            }
            let msg = r.pointee.output.pieces.withUnsafeBufferPointer(render)
            var fields: [(String, AlertFieldValue)] = []
            let added = routingAdded[k]
            fields.reserveCapacity(r.pointee.output.fields.count + added.count)
            r.pointee.output.fields.withUnsafeBufferPointer { of in
                for i in of.indices {
                    let p = of.baseAddress! + i
                    fields.append((p.pointee.name, OutputRendering.typed(value(p.pointee.spec), p.pointee.spec, s)))
                }
            }
            routing.withUnsafeBufferPointer { rt in
                for i in added {
                    let p = rt.baseAddress! + Int(i)
                    fields.append((p.pointee.1, OutputRendering.typed(value(p.pointee.0), p.pointee.0, s)))
                }
            }
            // append_output extra fields: a later definition of a key replaces the value (Falco's map assignment).
            for x in r.pointee.extraFields {
                let v: AlertFieldValue
                if let t = x.template {
                    v = .string(t.pieces.withUnsafeBufferPointer(render))
                } else {
                    v = OutputRendering.typed(value(x.field), x.field, s)
                }
                if let i = fields.firstIndex(where: { $0.0 == x.name }) { fields[i].1 = v } else { fields.append((x.name, v)) }
            }
            return Alert(timeNs: cp.pointee.wallTimeNs, rule: r.pointee.name, priority: r.pointee.priority, source: r.pointee.source,
                         hostname: s.hostname, message: msg, tags: r.pointee.tags, outputFields: fields)
        }
    }
}

/// A rule set's candidates per event type in one block of its ``PermanentStore``: those of
/// type `t` are `candidates[start[t] ..< start[t + 1]]`; `enforcing[t]` says whether one enforces.
/// Their branch programs are in `steps`, the comparisons those test in `checks`; the order they
/// are evaluated in is type `t`'s guard tree, `guards[guardStart[t] ..< guardStart[t + 1]]`.
struct CandidateTable: @unchecked Sendable {
    let candidates: UnsafePointer<RuleSet.Candidate>
    let start: UnsafePointer<Int32>
    let enforcing: UnsafePointer<Bool>
    /// Every candidate's branch program (``BranchStep``).
    let steps: UnsafePointer<BranchStep>
    /// ``Program/checks`` in their compact form.
    let checks: UnsafePointer<HotCheck>
    /// Every type's ``GuardNode`` tree (`next` indices absolute).
    let guards: UnsafePointer<GuardNode>
    let guardStart: UnsafePointer<Int32>
    /// The check index of each ``PathCheckMemo`` bit.
    let checkOfMemoBit: UnsafePointer<Int32>
}

/// Walks a condition tree node by node (``RuleSet/matches(rule:_:scratch:newEvent:)``, and the
/// reference the branch programs are tested against); comparisons through ``Evaluator``.
struct TreeEvaluator {
    let nodes: UnsafeBufferPointer<CNode>
    let kids: UnsafeBufferPointer<Int32>
    let types: UnsafeBufferPointer<TypeSet>
    let type: UInt16
    let checks: Evaluator

    func eval(_ n: Int32) -> Bool {
        checks.s.nodesEvaluated &+= 1
        let node = nodes[Int(n)]
        switch node.kind {
        case .and:
            let a = Int(node.a)
            for k in a..<(a + Int(node.b)) where !eval(kids[k]) { return false }
            return true
        case .or:
            let a = Int(node.a)
            for k in a..<(a + Int(node.b)) where eval(kids[k]) { return true }
            return false
        case .not: return !eval(node.a)
        case .yes: return true
        case .no: return false
        case .types: return types[Int(node.a)].contains(type)
        case .check: return checks.check(Int(node.a))
        }
    }
}

/// Evaluates the comparisons of a rule set for one event: branch programs (``run(_:from:)``),
/// each comparison computed at most once per event (``RuleScratch/checkMarks``).
struct Evaluator {
    let checks: UnsafePointer<HotCheck>
    let ctxp: UnsafePointer<EventContext>
    let s: RuleScratch

    /// `s.checkMarks` and `s.checkMarkKey`, read once (they change only between events).
    let marks: UnsafeMutablePointer<UInt32>
    let key: UInt32

    /// Whether comparisons of the fd's name come from (and go to) ``RuleScratch/pathMemo``
    /// (``RuleSet/match``; the condition trees, the reference, compute every comparison).
    let memoize: Bool

    init(checks: UnsafePointer<HotCheck>, ctxp: UnsafePointer<EventContext>, s: RuleScratch, memoize: Bool = false) {
        self.checks = checks; self.ctxp = ctxp; self.s = s; self.memoize = memoize
        marks = s.checkMarks; key = s.checkMarkKey
    }

    /// Walks the branch program starting at `entry` (``BranchStep``): whether the condition
    /// holds. `steps` counts the comparisons visited.
    @inline(__always) func run(_ program: UnsafePointer<BranchStep>, from entry: Int32, steps: inout Int) -> Bool {
        var pc = entry
        while pc >= 0 {
            let st = program + Int(pc)
            steps &+= 1
            pc = check(Int(st.pointee.check)) ? st.pointee.ifTrue : st.pointee.ifFalse
        }
        return pc == BranchStep.accept
    }

    /// Whether comparison `i` holds for this event (computed once per event).
    @inline(__always) func check(_ i: Int) -> Bool {
        let mark = marks[i]
        if mark & ~1 == key { return mark & 1 != 0 }
        let r = evalCheck(checks + i)
        marks[i] = key | (r ? 1 : 0)
        return r
    }

    /// Comparison `i` computed for this event and entered in its comparison cache, without the
    /// path memo (``PathCheckMemo/replay``: a trace holds no comparison of the name).
    @inline(never) func computeAndMark(_ i: Int) -> Bool {
        let r = compute(checks + i)
        marks[i] = key | (r ? 1 : 0)
        return r
    }

    /// Comparison `c` for this event: from the path memo when it depends on the fd's name only
    /// and this event's name was seen, else computed (small: the common comparisons inline, the
    /// rest and ancestor walks out of line, so most calls pay a short prologue).
    @inline(never) func evalCheck(_ c: UnsafePointer<HotCheck>) -> Bool {
        if memoize && c.pointee.memoBit >= 0 { return memoizedCheck(c) }
        let r = compute(c)
        // The walk's trace (``PathCheckMemo/replay``) keeps what the name and the signature do not decide.
        if memoize && !c.pointee.bySignature && s.pathMemo.isRecording { recordCheck(c, r) }
        return r
    }

    /// ``evalCheck(_:)`` of a comparison of the fd's name: from the path memo, else computed into it.
    @inline(never) func memoizedCheck(_ c: UnsafePointer<HotCheck>) -> Bool {
        let memo = s.pathMemo
        if let r = memo.result(c.pointee.memoBit, gen: s.gen, ctxp, s, marks: marks, key: key) { return r }
        let r = compute(c)
        if memo.hasEntry { memo.store(c.pointee.memoBit, r) } else if memo.isRecording { recordCheck(c, r) }  // no name: traced
        return r
    }

    /// Records comparison `c`, first tested by the walk with result `r`, in the trace being recorded.
    @inline(never) func recordCheck(_ c: UnsafePointer<HotCheck>, _ r: Bool) {
        s.pathMemo.record(Int32(truncatingIfNeeded: c - checks), r, c.pointee.snapshot, ctxp, s)
    }

    /// Computes comparison `c` for this event.
    @inline(__always) func compute(_ c: UnsafePointer<HotCheck>) -> Bool {
        s.checksEvaluated &+= 1
        if c.pointee.anyAncestor { return anyAncestorMatches(c) }
        let v = FieldExtractor.value(c.pointee.fields, ctxp, s)
        let kind = c.pointee.kind
        if kind == .exists { return v.isSet != c.pointee.negate }
        guard v.isSet else { return false }  // unset never matches, whatever the operator
        let r: Bool
        switch kind {
        case .strEq: r = Bytes.equal(str(v).bytes, c.pointee.bytes)
        case .strIn: r = ByteSet.contains(c.pointee.p!.assumingMemoryBound(to: ByteSet.self), str(v).bytes)
        case .strContains: r = Bytes.contains(str(v).bytes, c.pointee.bytes)
        case .strStartsWith: r = Bytes.startsWith(str(v).bytes, c.pointee.bytes)
        case .strEndsWith: r = Bytes.endsWith(str(v).bytes, c.pointee.bytes)
        case .pmatch: r = PathPrefixSet.matches(c.pointee.p!.assumingMemoryBound(to: PathPrefixSet.self), str(v).bytes)
        case .intCmp:
            guard let x = int(v) else { return false }
            let n = c.pointee.i
            r = ordered(c.pointee.op, x < n ? -1 : (x > n ? 1 : 0))
        case .boolEq: r = v.kind == .bool && v.i == c.pointee.i
        default: return test(c, v)
        }
        return r != c.pointee.negate
    }

    /// `proc.aname` (and the other ancestor fields) without an index: whether any ancestor's value passes.
    @inline(never) func anyAncestorMatches(_ c: UnsafePointer<HotCheck>) -> Bool {
        let field = c.pointee.fields
        // The chain is stepped once here (ancestor `level` exists iff each step does) rather
        // than walked from the process again for each level.
        guard var a = ctxp.pointee.process else { return false }
        let table = ctxp.pointee.processes
        var level = 1
        while level < 64 {
            guard let up = table.parent(of: a) else { return false }
            a = up
            var v = FieldExtractor.extract(field.pointee, level: level, ctxp, s)
            if field.pointee.hasTransformers { v = FieldExtractor.transform(v, field.pointee, s) }
            if test(c, v) { return true }
            level += 1
        }
        return false
    }

    /// Whether `v0` passes comparison `c` (every kind; ``evalCheck(_:)`` inlines the common ones).
    @inline(never) func test(_ c: UnsafePointer<HotCheck>, _ v0: FV) -> Bool {
        let kind = c.pointee.kind
        if kind == .exists { return v0.isSet }
        guard v0.isSet else { return false }
        var v = v0
        let r: Bool
        switch kind {
        case .exists: r = true
        case .strEq: v = str(v); r = Bytes.equal(v.bytes, c.pointee.bytes)
        case .strIn: v = str(v); r = ByteSet.contains(c.pointee.p!.assumingMemoryBound(to: ByteSet.self), v.bytes)
        case .strContains: v = str(v); r = Bytes.contains(v.bytes, c.pointee.bytes)
        case .strIContains: v = str(v); r = Bytes.containsIgnoringCase(v.bytes, c.pointee.bytes)
        case .strStartsWith: v = str(v); r = Bytes.startsWith(v.bytes, c.pointee.bytes)
        case .strEndsWith: v = str(v); r = Bytes.endsWith(v.bytes, c.pointee.bytes)
        case .strOrder: v = str(v); r = ordered(c.pointee.op, Bytes.compare(v.bytes, c.pointee.bytes))
        case .glob: v = str(v); r = c.pointee.p!.assumingMemoryBound(to: GlobPattern.self).pointee.matches(v.p!)
        case .regex: v = str(v); r = c.pointee.p!.assumingMemoryBound(to: CompiledRegex.self).pointee.matches(v.p!)
        case .pmatch: v = str(v); r = PathPrefixSet.matches(c.pointee.p!.assumingMemoryBound(to: PathPrefixSet.self), v.bytes)
        case .intCmp:
            guard let x = int(v) else { return false }
            let n = c.pointee.i
            r = ordered(c.pointee.op, x < n ? -1 : (x > n ? 1 : 0))
        case .intIn:
            guard let x = int(v) else { return false }
            let ns = UnsafeBufferPointer(start: c.pointee.p!.assumingMemoryBound(to: Int64.self), count: c.pointee.n)
            var found = false
            for n in ns where n == x { found = true; break }
            r = found
        case .boolEq: r = v.kind == .bool && v.i == c.pointee.i
        case .dnsName:
            let ip = FieldExtractor.value(c.pointee.fields + 1, ctxp, s)
            guard ip.kind == .ip else { return false }
            r = DNSNameCache.shared.matches(ip.bytes, c.pointee.p!.assumingMemoryBound(to: DNSNameSet.self).pointee.buffer)
        case .listIn, .listIntersects:
            v = str(v)
            let set = c.pointee.p!.assumingMemoryBound(to: ByteSet.self)
            let all = kind == .listIn
            let b = v.bytes
            var start = 0
            var result = all
            for k in 0...b.count where k == b.count || b[k] == 44 {
                let hit = ByteSet.contains(set, UnsafeBufferPointer(rebasing: b[start..<k]))
                start = k + 1
                if all && !hit { result = false; break }
                if !all && hit { result = true; break }
            }
            r = result
        case .ip:
            guard v.kind == .ip else { return false }
            let bytes = v.bytes
            let ms = UnsafeBufferPointer(start: c.pointee.p!.assumingMemoryBound(to: IPMatchPOD.self), count: c.pointee.n)
            var found = false
            for m in ms where m.matches(bytes) { found = true; break }
            r = found
        case .field:
            var w = FieldExtractor.value(c.pointee.fields + 1, ctxp, s)
            guard w.isSet else { return false }
            let op = c.pointee.op
            if v.kind == .int && w.kind == .int {
                r = ordered(op == .ne ? .eq : op, v.i < w.i ? -1 : (v.i > w.i ? 1 : 0)) != (op == .ne)
            } else {
                v = str(v); w = str(w)
                switch op {
                case .contains: r = Bytes.contains(v.bytes, w.bytes)
                case .icontains:
                    var lw = ArenaWriter(s.arena, max: Int(w.len))
                    for b in w.bytes { lw.put(b >= 65 && b <= 90 ? b + 32 : b) }
                    r = Bytes.containsIgnoringCase(v.bytes, lw.value.bytes)
                case .startswith: r = Bytes.startsWith(v.bytes, w.bytes)
                case .endswith: r = Bytes.endsWith(v.bytes, w.bytes)
                case .ne: r = Bytes.compare(v.bytes, w.bytes) != 0
                default: r = ordered(op, Bytes.compare(v.bytes, w.bytes))
                }
            }
        }
        return r != c.pointee.negate
    }

    @inline(__always) func ordered(_ op: CompareOp, _ c: Int) -> Bool {
        switch op {
        case .lt: c < 0
        case .le: c <= 0
        case .gt: c > 0
        case .ge: c >= 0
        default: c == 0
        }
    }

    @inline(__always) func str(_ v: FV) -> FV { v.kind == .str ? v : rendered(v) }

    /// A non-string value as text (out of line: rare).
    @inline(never) func rendered(_ v: FV) -> FV { FieldExtractor.render(v, s) }

    @inline(__always) func int(_ v: FV) -> Int64? {
        switch v.kind {
        case .int, .bool: return v.i
        case .str:
            var n: Int64 = 0
            var neg = false
            var k = 0
            let b = v.bytes
            if b.isEmpty { return nil }
            if b[0] == 45 { neg = true; k = 1 }
            if k >= b.count { return nil }
            while k < b.count {
                let c = b[k]
                guard c >= 48 && c <= 57 else { return nil }
                n = n &* 10 &+ Int64(c - 48); k += 1
            }
            return neg ? -n : n
        default: return nil
        }
    }
}

/// One `append_output` extra field compiled for the rules it applies to: a plain field
/// (typed value) or a format (rendered string).
struct ExtraOutputField: @unchecked Sendable {
    let name: String
    /// The field, for plain field names.
    let field: FieldSpec
    /// The format, for `{name: format}` items.
    let template: OutputTemplate?
}
