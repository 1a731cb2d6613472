import VigilDecode

/// Compiles conditions (with macros inlined, lists expanded and exceptions
/// appended) into the flat ``Program``.
struct ConditionCompiler {
    var program = Program()
    var slotByText: [String: Int] = [:]
    let lists: [String: ListDef]
    let macros: [String: MacroDef]
    /// Parsed macro conditions (nil: the macro has a syntax error).
    let macroASTs: [String: ConditionExpr?]
    /// Macros being expanded (cycle detection).
    var stack: [String] = []
    /// Memory for operands and tables (owned by the rule set built from this compiler).
    let store = PermanentStore()
    /// Identical comparisons share one check (and its per-event result).
    var checkNodes: [String: Int32] = [:]
    /// Event-type names used in the current rule that Vigil does not capture.
    var unknownTypes: [String] = []
    /// Every list expanded once (see ``ListResolver``).
    let resolvedLists: [String: ResolvedList]
    /// Lists that cannot be expanded, with why (reported once by the rule-set builder).
    let listFailures: [(String, String)]
    /// Measured macros (see ``checkBudget(_:)``).
    var macroExtents: [String: Extent] = [:]
    /// Current compile nesting (bounded by ``checkBudget(_:)``; checked again as a safety net).
    var depth = 0
    /// Set when a resolved field needs the environment copied at exec (`proc.env`, `proc.aenv`);
    /// reset by the rule-set builder before each rule.
    var usesEnvironment = false
    /// What a resolved field reads of the path an open was passed (``OpenNameUse``); reset by the
    /// rule-set builder before each rule.
    var openNameUse: OpenNameUse = []
    /// The configuration's `static_fields` (`static.NAME` resolves to a constant).
    var staticFields: [String: String] = [:]
    /// Names registered in ``DNSNameCache`` by `fd.*ip.name` checks (released with the rule set).
    var dnsIDs: [Int32] = []
    static let dnsAddressField: [FieldID: (FieldID, String)] = [
        .fdCipName: (.fdCip, "fd.cip"), .fdSipName: (.fdSip, "fd.sip"), .fdLipName: (.fdLip, "fd.lip"), .fdRipName: (.fdRip, "fd.rip"),
    ]

    init(lists: [String: ListDef], macros: [String: MacroDef], macroASTs: [String: ConditionExpr?]) {
        self.lists = lists; self.macros = macros; self.macroASTs = macroASTs
        var resolver = ListResolver(lists: lists)
        listFailures = resolver.resolveAll()
        resolvedLists = resolver.resolved
    }

    // MARK: fields

    mutating func slot(_ text: String) -> Int {
        if let s = slotByText[text] { return s }
        let s = program.slotCount
        program.slotCount += 1
        slotByText[text] = s
        return s
    }

    /// Resolves a field reference against the catalog. `forOutput` relaxes the ancestor index.
    mutating func resolve(_ ref: FieldRef, forOutput: Bool = false) throws(RuleCompileError) -> (FieldSpec, anyAncestor: Bool) {
        guard let (def, dotted) = FieldCatalog.lookup(ref.name) else {
            throw RuleCompileError(offset: ref.offset, message: "unknown field '\(ref.text)'")
        }
        if let why = def.unsupported {
            throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' is not supported by Vigil (\(why))", unsupported: true)
        }
        let arg = ref.arg ?? dotted
        var index = -1
        var key = ""
        var any = false
        var argIdx: [Int8] = []
        if ref.transformers.count > 3 { throw RuleCompileError(offset: ref.offset, message: "at most 3 nested transformers are supported") }
        switch def.argKind {
        case .none:
            if arg != nil { throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' does not take an argument") }
        case .index(let required, let anyWithout):
            if let a = arg {
                guard let v = Int(a), v >= 0 else { throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' needs a numeric index, not '\(a)'") }
                index = v
            } else if required {
                throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' needs an index, e.g. \(def.name)[1]")
            } else if anyWithout {
                if forOutput { index = 1 } else { any = true; index = 1 }
            }
        case .key:
            guard let a = arg, !a.isEmpty else { throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' needs a key, e.g. \(def.name)[name]") }
            // container.mount.*[N]: a mount by number; otherwise a glob.
            if def.id.isContainerMount, let v = Int(a) {
                guard v >= 0 else { throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' needs a mount number of 0 or more, not '\(a)'") }
                index = v
            } else {
                key = a
            }
        case .optionalKey:
            if ref.arg == nil, dotted != nil { throw RuleCompileError(offset: ref.offset, message: "unknown field '\(ref.text)'") }
            if let a = arg {
                guard !a.isEmpty else { throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' needs a name in brackets, e.g. \(def.name)[HOME]") }
                if def.id == .procAenv, let v = Int(a) {
                    guard v >= 0 else { throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' needs a level of 0 or more, not '\(a)'") }
                    index = v
                } else {
                    key = a
                }
            } else if def.id == .procAenv {
                // Without an argument: any ancestor in conditions (as proc.aname), the process itself in outputs.
                if forOutput { index = 0 } else { any = true; index = 1 }
            }
        case .argument:
            guard let a = arg, !a.isEmpty else { throw RuleCompileError(offset: ref.offset, message: "field '\(def.name)' needs an argument name (\(def.name).NAME) or index (\(def.name)[N])") }
            if let v = Int(a) { index = v } else {
                key = a
                argIdx = [Int8](repeating: -1, count: EventType.count)
                for schema in SyscallSchema.all {
                    if let k = schema.index(of: a) { argIdx[Int(schema.type.rawValue) & (EventType.count - 1)] = Int8(k) }
                }
            }
        }
        if def.id == .procEnv || def.id == .procAenv || def.id == .procIsEnvTruncated { usesEnvironment = true }
        if def.id == .fdNameraw { openNameUse.insert(.fdNameraw) }
        if def.id == .evtArgs || ((def.id == .evtArg || def.id == .evtRawarg) && OpenNameUse.argumentReadsOpenName(index: index, key: key)) {
            openNameUse.insert(.argument)
        }
        if def.id == .staticField {
            guard let value = staticFields[key] else {
                let known = staticFields.keys.sorted()
                throw RuleCompileError(offset: ref.offset, message: "unknown field '\(ref.text)' (static_fields "
                    + (known.isEmpty ? "defines none" : "defines " + known.map { "static." + $0 }.joined(separator: ", ")) + ")")
            }
            key = value
        }
        let text = ref.text
        let keyBytes = Array(key.utf8)
        let spec = FieldSpec(id: def.id, type: def.type, index: index, slot: slot(text + (any ? "#any" : "")),
                             key: keyBytes.isEmpty ? nil : store.bytes(keyBytes + [0]), keyLen: keyBytes.count,  // NUL-terminated for C (fnmatch)
                             argTable: argIdx.isEmpty ? nil : store.copy(argIdx), transformers: ref.transformers)
        return (spec, any)
    }

    // MARK: expressions

    /// Compiles `e`; errors carry offsets into the text `e` was parsed from.
    mutating func compile(_ e: ConditionExpr) throws(RuleCompileError) -> Int32 {
        depth += 1
        defer { depth -= 1 }
        if depth > ExpansionBudget.maxDepth + 2 {
            throw RuleCompileError(offset: nil, message: "condition nested deeper than \(ExpansionBudget.maxDepth)")
        }
        switch e {
        case .and(let items):
            var kids: [Int32] = []
            for x in items { kids.append(try compile(x)) }
            return program.group(.and, kids)
        case .or(let items):
            var kids: [Int32] = []
            for x in items { kids.append(try compile(x)) }
            return program.group(.or, kids)
        case .not(let x):
            let c = try compile(x)
            return program.add(CNode(kind: .not, a: c, b: 0))
        case .constant(let b):
            return program.add(CNode(kind: b ? .yes : .no, a: 0, b: 0))
        case .macro(let name, let offset):
            guard macros[name] != nil, let entry = macroASTs[name] else {
                throw RuleCompileError(offset: offset, message: "undefined macro '\(name)'")
            }
            guard let ast = entry else {
                throw RuleCompileError(offset: offset, message: "macro '\(name)' has errors")
            }
            if let k = stack.firstIndex(of: name) {
                throw RuleCompileError(offset: offset, message: "macro cycle: " + (stack[k...] + [name]).joined(separator: " -> "))
            }
            stack.append(name)
            defer { stack.removeLast() }
            do { return try compile(ast) } catch {
                var err = error
                if err.mark == nil {
                    err.mark = err.offset.map { macros[name]!.condition.mark(at: $0) } ?? macros[name]!.mark
                    err.message = "in macro '\(name)': " + err.message
                }
                err.offset = offset
                throw err
            }
        case .compare(let ref, let op, let operand, let offset):
            return try compileCompare(ref, op.canonical, operand, offset: offset)
        }
    }

    /// Expands list names among unquoted items (lists may name lists; list items are
    /// spliced in as Falco does: quotes are syntax). Lists were expanded once up front.
    func expand(_ items: [(String, Bool)]) -> [String] {
        var out: [String] = []
        for (v, quoted) in items {
            if !quoted, case .items(let xs)? = resolvedLists[v] { out += xs } else { out.append(v) }
        }
        return out
    }

    /// Throws when an operand names a list that could not be expanded (cycle, budget).
    func checkLists(_ operand: Operand) throws(RuleCompileError) {
        guard case .list(let items, let offset) = operand else { return }
        for (v, quoted) in items where !quoted {
            if case .failed(let why, _)? = resolvedLists[v] {
                throw RuleCompileError(offset: offset, message: "list '\(v)' cannot be used: \(why)")
            }
        }
    }

    static func unquote(_ s: String) -> (String, Bool) {
        if s.count >= 2, let f = s.first, f == "\"" || f == "'", s.last == f { return (String(s.dropFirst().dropLast()), true) }
        return (s, false)
    }

    static let eitherFields: [FieldID: (FieldID, FieldID, String, String)] = [
        .fdIp: (.fdCip, .fdSip, "fd.cip", "fd.sip"), .fdPort: (.fdCport, .fdSport, "fd.cport", "fd.sport"),
        .fdNet: (.fdCnet, .fdSnet, "fd.cnet", "fd.snet"),
    ]

    mutating func compileCompare(_ ref: FieldRef, _ op: CompareOp, _ operand: Operand, offset: Int) throws(RuleCompileError) -> Int32 {
        // fd.ip / fd.port / fd.net match either endpoint.
        if ref.transformers.isEmpty, let def = FieldCatalog.byName[ref.name], let (_, _, c, s) = ConditionCompiler.eitherFields[def.id] {
            var a = ref; a.name = c
            var b = ref; b.name = s
            let x = try compileCompare(a, op, operand, offset: offset)
            let y = try compileCompare(b, op, operand, offset: offset)
            return program.group(op == .ne ? .and : .or, [x, y])
        }
        try checkLists(operand)
        let (spec, any) = try resolve(ref)
        // evt.type against names: a type-set test (also what rules are indexed by).
        if spec.id == .evtType && spec.transformers.isEmpty && (op == .eq || op == .ne || op == .in) {
            var names: [String] = []
            switch operand {
            case .value(let v, _): names = [v]
            case .list(let items, _): names = expand(items)
            default: break
            }
            if !names.isEmpty || op == .in {
                var set = TypeSet()
                for n in names {
                    if let t = EventType(name: n) { set.insert(t.rawValue) } else { unknownTypes.append(n) }
                }
                program.typeSets.append(set)
                let node = program.add(CNode(kind: .types, a: Int32(program.typeSets.count - 1), b: 0))
                return op == .ne ? program.add(CNode(kind: .not, a: node, b: 0)) : node
            }
        }
        let key: String = {
            var k = ref.text + "\u{1}" + (any ? "any" : "") + "\u{1}" + op.rawValue + "\u{1}"
            switch operand {
            case .none: break
            case .value(let v, _): k += v
            case .list(let items, _): k += "(" + expand(items).joined(separator: "\u{2}")
            case .field(let f): k += "val:" + f.text
            }
            return k
        }()
        if let n = checkNodes[key] { return n }
        currentText = ref.text
        let check = try makeCheck(spec, any: any, op, operand, offset: offset, text: ref.text)
        program.checks.append(check)
        let n = program.add(CNode(kind: .check, a: Int32(program.checks.count - 1), b: 0))
        checkNodes[key] = n
        return n
    }

    var currentText = ""
    func opError(_ op: CompareOp, _ spec: FieldSpec, _ offset: Int) -> RuleCompileError {
        RuleCompileError(offset: offset, message: "operator '\(op.rawValue)' cannot be used with field '\(currentText)' of type \(spec.resultType.rawValue)")
    }

    mutating func makeCheck(_ spec: FieldSpec, any: Bool, _ op: CompareOp, _ operand: Operand, offset: Int, text: String) throws(RuleCompileError) -> Check {
        let type = spec.resultType
        func values() -> [String] {
            switch operand {
            case .value(let v, _): return [v]
            case .list(let items, _): return expand(items)
            default: return []
            }
        }
        func single() throws(RuleCompileError) -> String {
            switch operand {
            case .value(let v, _): return v
            case .list(let items, _) where items.count == 1: return expand(items).first ?? ""
            default: throw RuleCompileError(offset: offset, message: "operator '\(op.rawValue)' needs a single value")
            }
        }
        var c = Check(kind: .exists, op: op, negate: false, anyAncestor: any, field: spec, other: .none, p: nil, n: 0, i: 0)
        func bytes(_ kind: CheckKind, _ b: [UInt8]) { c.kind = kind; c.p = UnsafeRawPointer(store.bytes(b)); c.n = b.count }
        let valueOffset: Int = { if case .value(_, let o) = operand { return o }; if case .list(_, let o) = operand { return o }; return offset }()
        if op == .exists { return c }
        // fd.*ip.name = / != / in: the address against the names' resolved addresses (Falco's DNS manager).
        var fieldOperand = false
        if case .field = operand { fieldOperand = true }
        if let (ipID, ipName) = ConditionCompiler.dnsAddressField[spec.id], !spec.hasTransformers, !fieldOperand,
           op == .eq || op == .ne || op == .in || op == .intersects {
            var ids: [Int32] = []
            for v in values() where !v.isEmpty {
                guard let id = DNSNameCache.shared.register(v) else {
                    throw RuleCompileError(offset: valueOffset, message: "more than \(DNSNameCache.maxNames) DNS names in the loaded rules", unsupported: true)
                }
                ids.append(id); dnsIDs.append(id)
            }
            c.kind = .dnsName
            c.negate = op == .ne
            c.other = FieldSpec(id: ipID, type: .ipaddr, slot: slot(ipName))
            c.p = store.store(DNSNameSet(ids: store.copy(ids), count: ids.count))
            return c
        }
        // List fields (Falco's EPF_IS_LIST): only in, intersects and exists.
        if spec.id == .fdTypes && !spec.hasTransformers {
            guard op == .in || op == .intersects else {
                throw RuleCompileError(offset: offset, message: "list field '\(text)' only supports the operators in, intersects and exists")
            }
            c.kind = op == .in ? .listIn : .listIntersects
            c.p = store.store(ByteSet(values().map { Array($0.utf8) }, store: store))
            return c
        }
        if case .field(let other) = operand {
            let (rhs, _) = try resolve(other, forOutput: true)
            switch op {
            case .eq, .ne, .lt, .le, .gt, .ge, .contains, .icontains, .startswith, .endswith: break
            default: throw RuleCompileError(offset: offset, message: "operator '\(op.rawValue)' cannot compare two fields")
            }
            c.kind = .field; c.other = rhs
            return c
        }
        if op == .ne { c.negate = true }
        switch type {
        case .string, .bytebuf, .dynamic:
            switch op {
            case .eq, .ne: bytes(.strEq, Array(try single().utf8))
            case .in, .intersects:
                c.kind = .strIn; c.p = store.store(ByteSet(values().map { Array($0.utf8) }, store: store))
            case .contains: bytes(.strContains, Array(try single().utf8))
            case .icontains: bytes(.strIContains, Array(try single().lowercased().utf8))
            case .startswith: bytes(.strStartsWith, Array(try single().utf8))
            case .endswith: bytes(.strEndsWith, Array(try single().utf8))
            case .bcontains, .bstartswith:
                guard let b = ConditionCompiler.hexBytes(try single()) else {
                    throw RuleCompileError(offset: valueOffset, message: "operator '\(op.rawValue)' needs a hex byte string, not '\(try single())'")
                }
                bytes(op == .bcontains ? .strContains : .strStartsWith, b)
            case .glob, .iglob:
                do throws(RuleCompileError) {
                    c.kind = .glob; c.p = store.store(try GlobPattern(try single(), caseInsensitive: op == .iglob, store: store))
                } catch { var e = error; e.offset = valueOffset; throw e }
            case .regex:
                do throws(RuleCompileError) {
                    c.kind = .regex; c.p = store.store(try CompiledRegex(try single(), store: store))
                } catch { var e = error; e.offset = valueOffset; throw e }
            case .pmatch:
                c.kind = .pmatch; c.p = store.store(PathPrefixSet(values(), store: store))
            case .lt, .le, .gt, .ge:
                if type == .dynamic {
                    let v = try single()
                    guard let n = Int64(v) else { throw RuleCompileError(offset: valueOffset, message: "operator '\(op.rawValue)' needs a number, not '\(v)'") }
                    c.kind = .intCmp; c.i = n
                } else { bytes(.strOrder, Array(try single().utf8)) }
            default: throw opError(op, spec, offset)
            }
        case .int64, .uint64, .uint32, .port, .abstime, .reltime:
            func num(_ s: String) throws(RuleCompileError) -> Int64 {
                if let v = Int64(s) { return v }
                if s.hasPrefix("0x"), let v = Int64(s.dropFirst(2), radix: 16) { return v }
                throw RuleCompileError(offset: valueOffset, message: "invalid value '\(s)' for field '\(text)' of type \(type.rawValue): not a number")
            }
            switch op {
            case .eq, .ne, .lt, .le, .gt, .ge:
                c.kind = .intCmp; c.op = op == .ne ? .eq : op; c.i = try num(try single())
            case .in, .intersects:
                var out: [Int64] = []
                for v in values() { out.append(try num(v)) }
                c.kind = .intIn; c.p = UnsafeRawPointer(store.copy(out)); c.n = out.count
            default: throw opError(op, spec, offset)
            }
        case .bool:
            switch op {
            case .eq, .ne:
                let v = try single()
                guard let b = v == "true" ? true : (v == "false" ? false : nil) else {
                    throw RuleCompileError(offset: valueOffset, message: "invalid value '\(v)' for boolean field '\(text)' (true or false)")
                }
                c.kind = .boolEq; c.i = b ? 1 : 0
            default: throw opError(op, spec, offset)
            }
        case .ipaddr, .ipnet:
            switch op {
            case .eq, .ne, .in, .intersects:
                var out: [IPMatchPOD] = []
                for v in values() {
                    guard let m = IPMatch.parse(v, network: type == .ipnet) else {
                        throw RuleCompileError(offset: valueOffset, message: "invalid \(type == .ipnet ? "network" : "IP address") '\(v)' for field '\(text)'")
                    }
                    out.append(m.pod)
                }
                c.kind = .ip; c.p = UnsafeRawPointer(store.copy(out)); c.n = out.count
            default: throw opError(op, spec, offset)
            }
        }
        return c
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let b = Array(s.utf8)
        guard b.count % 2 == 0, !b.isEmpty else { return nil }
        func h(_ c: UInt8) -> UInt8? {
            switch c { case 48...57: c - 48; case 97...102: c - 87; case 65...70: c - 55; default: nil }
        }
        var out: [UInt8] = []
        var k = 0
        while k < b.count { guard let x = h(b[k]), let y = h(b[k + 1]) else { return nil }; out.append(x << 4 | y); k += 2 }
        return out
    }

    // MARK: exceptions

    /// Builds `not (...)` for a rule's exceptions, as an expression whose offsets are meaningless (errors use the exception's mark).
    func exceptionExpr(_ e: ExceptionDef) -> ConditionExpr? {
        guard !e.values.isEmpty else { return nil }
        var alts: [ConditionExpr] = []
        for tuple in e.values {
            var terms: [ConditionExpr] = []
            for (k, field) in e.fields.enumerated() {
                guard k < tuple.count else { break }
                let comp = CompareOp(rawValue: k < e.comps.count ? e.comps[k] : "=") ?? .eq
                var parser = ConditionParser(field)
                let ref: FieldRef
                do {
                    var p = parser
                    let w = p.readWord()
                    ref = try p.finishField(w, start: 0)
                    parser = p
                } catch { return .constant(false) }
                let operand: Operand
                switch tuple[k] {
                case .list(let items): operand = .list(items.map { ($0, false) }, offset: 0)
                case .scalar(let s, let quoted):
                    if comp.takesList { operand = .list([(s, quoted)], offset: 0) }
                    else { operand = .value(s, offset: 0) }
                }
                terms.append(.compare(ref, comp, operand, offset: 0))
            }
            alts.append(terms.count == 1 ? terms[0] : .and(terms))
        }
        return .not(alts.count == 1 ? alts[0] : .or(alts))
    }
}
