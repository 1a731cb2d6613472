#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// The lists, macros and rules of one or more rule files, with Falco's
/// load-order semantics (later definitions replace earlier ones; `append` and
/// `override` modify them). Compile with ``RuleCompiler``.
package struct RuleSource: Sendable {
    package var lists: [String: ListDef] = [:]
    package var macros: [String: MacroDef] = [:]
    package var rules: [RuleDef] = []
    var ruleIndex: [String: Int] = [:]
    /// `required_engine_version` values seen.
    package var requiredEngineVersions: [String] = []
    /// `required_plugin_versions` names seen.
    package var requiredPlugins: [String] = []
    /// Files loaded, in order.
    package var files: [String] = []
    /// Number of list, macro and rule items read (including appends and overrides).
    package var listCount: Int { lists.count }
    package var macroCount: Int { macros.count }
    package init() {}
}

/// Reads Falco-format rule files.
package struct RuleLoader {
    /// The rules engine version Vigil implements (Falco's scale).
    package static let engineVersion = (major: 0, minor: 58, patch: 0)

    package private(set) var source = RuleSource()
    package private(set) var diagnostics: [Diagnostic] = []
    /// Largest rules file read (bytes); a larger file is an error naming it and the limit.
    package var maxFileBytes: Int
    /// Unknown keys in an item: an error (default, as Falco 0.44) or a warning.
    package var unknownKeys: UnknownKeyPolicy = .error

    package init(maxFileBytes: Int = FileReader.defaultLimit, unknownKeys: UnknownKeyPolicy = .error) {
        self.maxFileBytes = maxFileBytes
        self.unknownKeys = unknownKeys
    }

    /// Expands files and directories (a directory's `*.yaml`/`*.yml` files in name order, not recursive).
    package static func expand(paths: [String]) -> (files: [String], errors: [Diagnostic]) {
        let (f, e) = expandMarked(paths: paths)
        return (f.map(\.0), e)
    }

    /// Expanded files, each with whether it came from a directory.
    static func expandMarked(paths: [String]) -> (files: [(String, Bool)], errors: [Diagnostic]) {
        var files: [(String, Bool)] = []
        var errors: [Diagnostic] = []
        for p in paths {
            var st = stat()
            guard stat(p, &st) == 0 else {
                errors.append(Diagnostic(.error, SourceMark(file: p, line: 0, column: 0), item: nil,
                                         "cannot open rules path: \(String(cString: strerror(errno)))"))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                guard let d = opendir(p) else {
                    errors.append(Diagnostic(.error, SourceMark(file: p, line: 0, column: 0), item: nil, "cannot read directory"))
                    continue
                }
                var names: [String] = []
                while let e = readdir(d) {
                    let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                    if name.hasPrefix(".") { continue }
                    if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                        var fst = stat()
                        let full = p.hasSuffix("/") ? p + name : p + "/" + name
                        if stat(full, &fst) == 0, (fst.st_mode & S_IFMT) == S_IFREG { names.append(full) }
                    }
                }
                closedir(d)
                files += names.sorted().map { ($0, true) }
            } else {
                files.append((p, false))
            }
        }
        return (files, errors)
    }

    /// Loads files and directories in order.
    package mutating func load(paths: [String]) {
        let (files, errors) = RuleLoader.expandMarked(paths: paths)
        diagnostics += errors
        for (f, fromDir) in files { loadFile(f, fromDirectory: fromDir) }
    }

    /// Loads one file. Files found in a directory whose top level is a mapping
    /// (configuration files such as vigil.yaml) are skipped with a warning.
    package mutating func loadFile(_ path: String, fromDirectory: Bool = false) {
        let bytes: [UInt8]
        do { bytes = try FileReader.read(path, limit: maxFileBytes) } catch {
            diagnostics.append(Diagnostic(.error, SourceMark(file: path, line: 0, column: 0), item: nil,
                                          "cannot read rules file: \(error.message)"))
            return
        }
        load(text: bytes, file: path, fromDirectory: fromDirectory)
    }

    /// Loads rule YAML from memory; `file` names it in diagnostics.
    package mutating func load(text: [UInt8], file: String, fromDirectory: Bool = false) {
        let docs: [YAMLNode]
        do { docs = try YAMLDocumentParser.parse(text, file: file) } catch {
            source.files.append(file)
            diagnostics.append(Diagnostic(.error, error.mark, item: nil, error.message))
            return
        }
        if fromDirectory, let first = docs.first, first.mapping != nil {
            warning(first.mark, nil, "not a rules file (top level is a mapping, not a list of items): skipped")
            return
        }
        source.files.append(file)
        let locator = SourceLocator(text: String(decoding: text, as: UTF8.self))
        for doc in docs {
            if doc.isNull { continue }
            guard let items = doc.sequence else {
                error(doc.mark, nil, "rules file content must be a sequence of items (- rule:, - macro:, - list:), found \(doc.kindName)")
                continue
            }
            for item in items { loadItem(item, locator) }
        }
    }

    // MARK: items

    mutating func error(_ m: SourceMark, _ item: String?, _ msg: String) { diagnostics.append(Diagnostic(.error, m, item: item, msg)) }
    mutating func warning(_ m: SourceMark, _ item: String?, _ msg: String) { diagnostics.append(Diagnostic(.warning, m, item: item, msg)) }

    mutating func loadItem(_ node: YAMLNode, _ loc: SourceLocator) {
        guard let map = node.mapping else {
            error(node.mark, nil, "unexpected \(node.kindName) in the rules file; each item must be a mapping"); return
        }
        if node["rule"] != nil { loadRule(node, map, loc) }
        else if node["macro"] != nil { loadMacro(node, map, loc) }
        else if node["list"] != nil { loadList(node, map) }
        else if let v = node["required_engine_version"] { loadEngineVersion(v) }
        else if let v = node["required_plugin_versions"] {
            for p in v.sequence ?? [] {
                guard let n = p["name"]?.scalar else { error(p.mark, nil, "required_plugin_versions entries need a 'name'"); continue }
                source.requiredPlugins.append(n)
                // Vigil provides the container plugin's fields natively.
                if n != "container" {
                    warning(p.mark, nil, "required plugin '\(n)' is not available in Vigil; rules for its event source are skipped")
                }
            }
        } else {
            let key = map.first?.key.scalar ?? "?"
            warning(node.mark, nil, "unknown top-level item '\(key)' ignored")
        }
    }

    mutating func loadEngineVersion(_ v: YAMLNode) {
        guard let s = v.scalar else { error(v.mark, nil, "required_engine_version must be a scalar"); return }
        source.requiredEngineVersions.append(s)
        let parts = s.split(separator: ".").map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
            error(v.mark, nil, "required_engine_version '\(s)' is not a version number"); return
        }
        let p = parts.map { $0! }
        // Old rule files use a single integer (engine versions 1..N, all below 0.x.y semantics).
        let need: (Int, Int, Int) = p.count == 1 ? (0, p[0], 0) : (p[0], p.count > 1 ? p[1] : 0, p.count > 2 ? p[2] : 0)
        let have = RuleLoader.engineVersion
        if (need.0, need.1, need.2) > (have.major, have.minor, have.patch) {
            error(v.mark, nil, "rules require engine version \(s), Vigil implements \(have.major).\(have.minor).\(have.patch)")
        }
    }

    static let listKeys: Set<String> = ["list", "items", "append", "override"]
    static let macroKeys: Set<String> = ["macro", "condition", "append", "override"]
    static let ruleKeys: Set<String> = ["rule", "desc", "condition", "output", "priority", "enabled", "tags", "source",
                                        "exceptions", "append", "override", "warn_evttypes", "skip-if-unknown-filter",
                                        "capture", "capture_duration"]
    static let ruleAppendable: Set<String> = ["condition", "output", "desc", "tags", "exceptions"]
    static let ruleReplaceable: Set<String> = ["condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
                                               "warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration"]

    mutating func checkKeys(_ map: [(key: YAMLNode, value: YAMLNode)], _ allowed: Set<String>, _ item: String) {
        for (k, _) in map {
            guard let ks = k.scalar else { error(k.mark, item, "keys must be scalars"); continue }
            if !allowed.contains(ks) {
                switch unknownKeys {
                case .error: error(k.mark, item, "unknown key '\(ks)' (set rules_unknown_keys: warn to ignore it)")
                case .warn: warning(k.mark, item, "unknown key '\(ks)' ignored")
                }
            }
        }
    }

    /// Parses `override:`: key -> append/replace, with Falco's rules on which keys allow which.
    mutating func parseOverride(_ node: YAMLNode, item: String, appendable: Set<String>, replaceable: Set<String>,
                                present: [(key: YAMLNode, value: YAMLNode)]) -> [String: (String, SourceMark)]? {
        guard let m = node.mapping else { error(node.mark, item, "override must be a mapping of key: append|replace"); return nil }
        var out: [String: (String, SourceMark)] = [:]
        var ok = true
        for (k, v) in m {
            guard let key = k.scalar, let how = v.scalar else { error(k.mark, item, "override entries must be key: append|replace"); ok = false; continue }
            switch how {
            case "append":
                if !appendable.contains(key) {
                    error(v.mark, item, "key '\(key)' cannot be appended to" + (replaceable.contains(key) ? ", use 'replace' instead" : "")); ok = false
                }
            case "replace":
                if !replaceable.contains(key) {
                    error(v.mark, item, "key '\(key)' cannot be replaced" + (appendable.contains(key) ? ", use 'append' instead" : "")); ok = false
                }
            default:
                error(v.mark, item, "override for '\(key)' must be 'append' or 'replace', not '\(how)'"); ok = false
            }
            if !present.contains(where: { $0.key.scalar == key }) {
                error(k.mark, item, "override names key '\(key)' but the item does not define it"); ok = false
            }
            out[key] = (how, v.mark)
        }
        for (k, _) in present {
            guard let ks = k.scalar, ![ "rule", "macro", "list", "override"].contains(ks) else { continue }
            if out[ks] == nil && (appendable.contains(ks) || replaceable.contains(ks)) {
                error(k.mark, item, "key '\(ks)' is given but not listed in override (use append or replace)"); ok = false
            }
        }
        return ok ? out : nil
    }

    func boolValue(_ n: YAMLNode) -> Bool? { n.bool }

    func stringList(_ n: YAMLNode) -> [String]? {
        if n.isNull { return [] }
        guard let seq = n.sequence else { return nil }
        var out: [String] = []
        for x in seq { guard let s = x.scalar else { return nil }; out.append(s) }
        return out
    }

    // MARK: list

    mutating func loadList(_ node: YAMLNode, _ map: [(key: YAMLNode, value: YAMLNode)]) {
        guard let name = node["list"]?.scalar, !name.isEmpty else { error(node.mark, nil, "list name must be a non-empty string"); return }
        let item = "list '\(name)'"
        checkKeys(map, RuleLoader.listKeys, item)
        guard let itemsNode = node["items"] else { error(node.mark, item, "missing required key 'items'"); return }
        guard let items = stringList(itemsNode) else { error(itemsNode.mark, item, "'items' must be a sequence of strings"); return }
        var mode = "define"
        if let a = node["append"] {
            guard let b = a.bool else { error(a.mark, item, "'append' must be true or false"); return }
            if b { mode = "append" }
        }
        if let o = node["override"] {
            guard let ov = parseOverride(o, item: item, appendable: ["items"], replaceable: ["items"], present: map) else { return }
            mode = ov["items"]?.0 ?? "define"
        }
        switch mode {
        case "append":
            guard source.lists[name] != nil else { error(node.mark, item, "cannot append to list '\(name)': it is not defined earlier"); return }
            source.lists[name]!.items += items
        case "replace":
            guard source.lists[name] != nil else { error(node.mark, item, "cannot override list '\(name)': it is not defined earlier"); return }
            source.lists[name]!.items = items
        default:
            source.lists[name] = ListDef(name: name, items: items, mark: node.mark)
        }
    }

    // MARK: macro

    mutating func loadMacro(_ node: YAMLNode, _ map: [(key: YAMLNode, value: YAMLNode)], _ loc: SourceLocator) {
        guard let name = node["macro"]?.scalar, !name.isEmpty else { error(node.mark, nil, "macro name must be a non-empty string"); return }
        let item = "macro '\(name)'"
        checkKeys(map, RuleLoader.macroKeys, item)
        guard let c = node["condition"] else { error(node.mark, item, "missing required key 'condition'"); return }
        guard let cs = c.scalar else { error(c.mark, item, "'condition' must be a string"); return }
        let cond = ConditionText(cs, mark: c.mark, source: loc)
        var mode = "define"
        if let a = node["append"] {
            guard let b = a.bool else { error(a.mark, item, "'append' must be true or false"); return }
            if b { mode = "append" }
        }
        if let o = node["override"] {
            guard let ov = parseOverride(o, item: item, appendable: ["condition"], replaceable: ["condition"], present: map) else { return }
            mode = ov["condition"]?.0 ?? "define"
        }
        switch mode {
        case "append":
            guard source.macros[name] != nil else { error(node.mark, item, "cannot append to macro '\(name)': it is not defined earlier"); return }
            source.macros[name]!.condition.append(cond)
        case "replace":
            guard source.macros[name] != nil else { error(node.mark, item, "cannot override macro '\(name)': it is not defined earlier"); return }
            source.macros[name]!.condition = cond
        default:
            source.macros[name] = MacroDef(name: name, condition: cond, mark: node.mark)
        }
    }

    // MARK: rule

    mutating func loadRule(_ node: YAMLNode, _ map: [(key: YAMLNode, value: YAMLNode)], _ loc: SourceLocator) {
        guard let name = node["rule"]?.scalar, !name.isEmpty else { error(node.mark, nil, "rule name must be a non-empty string"); return }
        let item = "rule '\(name)'"
        checkKeys(map, RuleLoader.ruleKeys, item)

        var isAppend = false
        if let a = node["append"] {
            guard let b = a.bool else { error(a.mark, item, "'append' must be true or false"); return }
            isAppend = b
        }
        var override: [String: (String, SourceMark)]?
        if let o = node["override"] {
            if isAppend { error(o.mark, item, "'append' and 'override' cannot be used together"); return }
            guard let ov = parseOverride(o, item: item, appendable: RuleLoader.ruleAppendable,
                                         replaceable: RuleLoader.ruleReplaceable, present: map) else { return }
            override = ov
        }

        // Parse the keys that are present.
        var ok = true
        func str(_ key: String) -> String? {
            guard let n = node[key] else { return nil }
            if let s = n.scalar { return s }
            error(n.mark, item, "'\(key)' must be a string, found \(n.kindName)"); ok = false; return nil
        }
        let desc = str("desc")
        let output = str("output")
        let condNode = node["condition"]
        var cond: ConditionText?
        if let c = condNode {
            if let s = c.scalar { cond = ConditionText(s, mark: c.mark, source: loc) }
            else { error(c.mark, item, "'condition' must be a string, found \(c.kindName)"); ok = false }
        }
        var priority: Priority?
        if let p = node["priority"] {
            if let s = p.scalar, let pr = Priority(name: s) { priority = pr }
            else { error(p.mark, item, "invalid priority '\(p.scalar ?? p.kindName)' (emergency, alert, critical, error, warning, notice, informational/info, debug)"); ok = false }
        }
        var enabled: Bool?
        if let e = node["enabled"] {
            if let b = e.bool { enabled = b } else { error(e.mark, item, "'enabled' must be true or false"); ok = false }
        }
        var tags: [String]?
        if let t = node["tags"] {
            if let l = stringList(t) { tags = l } else { error(t.mark, item, "'tags' must be a sequence of strings"); ok = false }
        }
        let src = str("source")
        var warnEvt: Bool?
        if let w = node["warn_evttypes"] { warnEvt = w.bool; if warnEvt == nil { error(w.mark, item, "'warn_evttypes' must be true or false"); ok = false } }
        var skipUnknown: Bool?
        if let w = node["skip-if-unknown-filter"] { skipUnknown = w.bool; if skipUnknown == nil { error(w.mark, item, "'skip-if-unknown-filter' must be true or false"); ok = false } }
        var exceptions: [ExceptionDef]?
        if let e = node["exceptions"] { exceptions = parseExceptions(e, item: item, requireFields: false); if exceptions == nil { ok = false } }
        guard ok else { return }

        let existing = source.ruleIndex[name]
        if isAppend || override != nil {
            guard let idx = existing else {
                error(node.mark, item, "cannot \(isAppend ? "append to" : "override") rule '\(name)': it is not defined earlier"); return
            }
            var r = source.rules[idx]
            func mode(_ key: String) -> String? { isAppend ? (node[key] != nil ? "append" : nil) : override?[key]?.0 }
            if isAppend {
                for k in ["priority", "enabled", "source"] where node[k] != nil {
                    error(node[k]!.mark, item, "key '\(k)' cannot be appended to"); ok = false
                }
                guard ok else { return }
            }
            if let m = mode("condition"), let cond { if m == "append" { r.condition.append(cond) } else { r.condition = cond } }
            if let m = mode("output"), let output { r.output = m == "append" ? r.output + " " + output : output; r.outputMark = node["output"]!.mark }
            if let m = mode("desc"), let desc { r.desc = m == "append" ? r.desc + " " + desc : desc }
            if let m = mode("tags"), let tags { r.tags = m == "append" ? r.tags + tags.filter { !r.tags.contains($0) } : tags }
            if let m = mode("exceptions"), let exceptions {
                if m == "append" {
                    for e in exceptions {
                        if let i = r.exceptions.firstIndex(where: { $0.name == e.name }) {
                            r.exceptions[i].values += e.values
                        } else if e.fields.isEmpty {
                            error(e.mark, item, "exception '\(e.name)' is appended to but not defined earlier, and has no 'fields'"); return
                        } else { r.exceptions.append(e) }
                    }
                } else { r.exceptions = exceptions }
            }
            if mode("priority") != nil, let priority { r.priority = priority }
            if mode("enabled") != nil, let enabled { r.enabled = enabled }
            if mode("warn_evttypes") != nil, let warnEvt { r.warnEventTypes = warnEvt }
            if mode("skip-if-unknown-filter") != nil, let skipUnknown { r.skipIfUnknownFilter = skipUnknown }
            source.rules[idx] = r
            return
        }

        // A rule with only `enabled:` toggles an existing rule (Falco's legacy form).
        if cond == nil && output == nil && desc == nil && priority == nil, let enabled {
            guard let idx = existing else { error(node.mark, item, "rule '\(name)' has only 'enabled' but is not defined earlier"); return }
            source.rules[idx].enabled = enabled
            return
        }
        var missing: [String] = []
        if cond == nil { missing.append("condition") }
        if output == nil { missing.append("output") }
        if desc == nil { missing.append("desc") }
        if priority == nil { missing.append("priority") }
        if !missing.isEmpty {
            error(node.mark, item, "missing required key\(missing.count > 1 ? "s" : "") " + missing.map { "'\($0)'" }.joined(separator: ", "))
            return
        }
        if let exceptions {
            for e in exceptions where e.fields.isEmpty {
                error(e.mark, item, "exception '\(e.name)' must have 'fields'"); return
            }
        }
        let def = RuleDef(name: name, desc: desc!, condition: cond!, output: output!, outputMark: node["output"]!.mark,
                          priority: priority!, enabled: enabled ?? true, tags: tags ?? [], source: src ?? "syscall",
                          exceptions: exceptions ?? [], warnEventTypes: warnEvt ?? true, skipIfUnknownFilter: skipUnknown ?? false,
                          mark: node.mark, order: existing.map { source.rules[$0].order } ?? source.rules.count)
        if let idx = existing { source.rules[idx] = def } else {
            source.ruleIndex[name] = source.rules.count
            source.rules.append(def)
        }
    }

    mutating func parseExceptions(_ node: YAMLNode, item: String, requireFields: Bool) -> [ExceptionDef]? {
        guard let seq = node.sequence else {
            if node.isNull { return [] }
            error(node.mark, item, "'exceptions' must be a sequence"); return nil
        }
        var out: [ExceptionDef] = []
        for e in seq {
            guard let m = e.mapping else { error(e.mark, item, "each exception must be a mapping"); return nil }
            guard let name = e["name"]?.scalar, !name.isEmpty else { error(e.mark, item, "exception is missing required key 'name'"); return nil }
            let what = "\(item) exception '\(name)'"
            for (k, _) in m where !["name", "fields", "comps", "values"].contains(k.scalar ?? "") {
                warning(k.mark, item, "unknown key '\(k.scalar ?? "?")' in exception '\(name)' ignored")
            }
            var fields: [String] = []
            var isTuple = false
            if let f = e["fields"] {
                if let s = f.scalar { fields = [s] }
                else if let l = stringList(f) { fields = l; isTuple = true }
                else { error(f.mark, what, "'fields' must be a field name or a list of field names"); return nil }
            }
            var comps: [String] = []
            if let c = e["comps"] {
                if let s = c.scalar {
                    if isTuple { error(c.mark, what, "'comps' must be a list when 'fields' is a list"); return nil }
                    comps = [s]
                } else if let l = stringList(c) {
                    if !isTuple { error(c.mark, what, "'comps' must be a single operator when 'fields' is a single field"); return nil }
                    comps = l
                } else { error(c.mark, what, "'comps' must be an operator or a list of operators"); return nil }
            } else if !fields.isEmpty {
                comps = isTuple ? Array(repeating: "=", count: fields.count) : ["in"]
            }
            if isTuple && comps.count != fields.count && !fields.isEmpty {
                error(e["comps"]?.mark ?? e.mark, what, "'fields' and 'comps' have different lengths (\(fields.count) and \(comps.count))"); return nil
            }
            // Each comparison must be an operator that takes a value (an unknown one compared with `=`).
            if let bad = comps.first(where: { CompareOp(rawValue: $0).map { $0 == .exists } ?? true }) {
                let ops = CompareOp.allCases.filter { $0 != .exists }.map(\.rawValue).joined(separator: ", ")
                error(e["comps"]?.mark ?? e.mark, what, "unknown comparison operator '\(bad)' in 'comps' (\(ops))"); return nil
            }
            var values: [[ExceptionValue]] = []
            if let v = e["values"] {
                guard let vs = v.sequence else {
                    if v.isNull { values = [] } else { error(v.mark, what, "'values' must be a sequence"); return nil }
                    out.append(ExceptionDef(name: name, fields: fields, isTuple: isTuple, comps: comps, values: values, mark: e.mark))
                    continue
                }
                for tup in vs {
                    if let s = tup.scalar {
                        if isTuple && fields.count > 1 { error(tup.mark, what, "each value must be a list of \(fields.count) elements"); return nil }
                        values.append([.scalar(s, quoted: tup.isQuoted)])
                    } else if let l = tup.sequence {
                        if isTuple || fields.isEmpty {
                            if !fields.isEmpty && l.count != fields.count {
                                error(tup.mark, what, "value has \(l.count) elements, expected \(fields.count) (one per field)"); return nil
                            }
                            var t: [ExceptionValue] = []
                            for x in l {
                                if let s = x.scalar { t.append(.scalar(s, quoted: x.isQuoted)) }
                                else if let xs = stringList(x) { t.append(.list(xs)) }
                                else { error(x.mark, what, "exception values must be strings or lists of strings"); return nil }
                            }
                            values.append(t)
                        } else {
                            guard let xs = stringList(tup) else { error(tup.mark, what, "exception values must be strings"); return nil }
                            values.append([.list(xs)])
                        }
                    } else { error(tup.mark, what, "exception values must be strings or lists"); return nil }
                }
            }
            out.append(ExceptionDef(name: name, fields: fields, isTuple: isTuple, comps: comps, values: values, mark: e.mark))
        }
        return out
    }
}

extension YAMLNode {
    var isQuoted: Bool { if case .scalar(_, let q, let b) = kind { return q && !b }; return false }
}

