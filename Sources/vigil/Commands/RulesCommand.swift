#if canImport(Glibc)
import Glibc
#endif
import VigilAgent
import VigilCore
import VigilRules
import VigilDecode

/// `vigil rules validate|list|fields|test`: work with Falco-format rule files.
enum RulesCommand: Command {
    static let name = "rules"
    static let summary = "Validate, list and test rules; print the field catalog"

    static let usage = """
    Usage: vigil rules <subcommand> [options]

    Subcommands:
      validate PATH... [--format text|json]   load and compile rule files/directories; exit 1 on errors
      list [-r PATH]... [--format text|json]  list the rules (default rules/)
      fields [--used-by FILE] [--format text|json]
                                              print the field catalog (only the fields FILE uses)
      test [-r PATH]... TESTS...               run rule tests (YAML files or directories); exit 1 on failure
      bench [-r PATH]... [--events N] [--seconds S]
                                              measure rule evaluation throughput on one core

    """

    static func run(_ args: [String]) -> Int32 {
        guard let sub = args.first else { writeStderr(usage); return 2 }
        let rest = Array(args.dropFirst())
        switch sub {
        case "validate": return RulesValidate.run(rest)
        case "list": return RulesList.run(rest)
        case "fields": return RulesFields.run(rest)
        case "test": return RulesTestCommand.run(rest)
        case "bench": return RulesBench.run(rest)
        case "-h", "--help", "help": print(usage, terminator: ""); return 0
        default:
            writeStderr("vigil rules: unknown subcommand '\(sub)'\n" + usage)
            return 2
        }
    }

    /// Parses `-r PATH` (repeatable), `--format`, and positional arguments.
    struct Args {
        var rules: [String] = []
        var positional: [String] = []
        var json = false
        var options: [String: String] = [:]
        var error: String?

        init(_ args: [String], valued: Set<String> = []) {
            var i = 0
            while i < args.count {
                let a = args[i]
                func next() -> String? {
                    i += 1
                    guard i < args.count else { error = "option \(a) needs a value"; return nil }
                    return args[i]
                }
                if a == "-r" || a == "--rules" { if let v = next() { rules.append(v) } }
                else if a.hasPrefix("-r") && a.count > 2 { rules.append(String(a.dropFirst(2))) }
                else if a == "--format" {
                    if let v = next() {
                        if v == "json" { json = true } else if v != "text" { error = "--format must be text or json, not '\(v)'" }
                    }
                } else if a.hasPrefix("--format=") {
                    let v = String(a.dropFirst(9)); if v == "json" { json = true } else if v != "text" { error = "--format must be text or json" }
                } else if valued.contains(a) { if let v = next() { options[a] = v } }
                else if a.hasPrefix("-") && a != "-" { error = "unknown option '\(a)'" }
                else { positional.append(a) }
                i += 1
            }
        }
    }

    static func diagnosticJSON(_ w: JSONWriter, _ d: Diagnostic) {
        w.beginObject()
        w.key("severity"); w.string(d.severity.rawValue)
        w.key("file"); w.string(d.mark.file)
        w.key("line"); w.int(Int64(d.mark.line))
        w.key("column"); w.int(Int64(d.mark.column))
        w.key("item"); if let i = d.item { w.string(i) } else { w.null() }
        w.key("message"); w.string(d.message)
        w.endObject()
    }
}

/// `vigil rules validate`.
enum RulesValidate {
    static func run(_ args: [String]) -> Int32 {
        if args.contains("-h") || args.contains("--help") {
            print("Usage: vigil rules validate PATH... [--format text|json] [--unknown-keys error|warn] [-c vigil.yaml] [-o key=value]...\n\nLoads and compiles the rule files and directories in order; prints errors and warnings with file:line:column, and a summary. Exits 1 when there are errors. An unknown key in an item is an error unless --unknown-keys warn (or the configuration's rules_unknown_keys: warn).\nWith a configuration (-c, or vigil.yaml beside the rules) whose enforcement.rules select rules, also says where each enforcing rule kills (in the kernel at exec, or from user space) and why.")
            return 0
        }
        // -o key=value (repeatable) and -c FILE: the configuration whose `enforcement` applies.
        var rest: [String] = [], overrides: [String] = [], configPath: String?
        var i = 0
        while i < args.count {
            if (args[i] == "-o" || args[i] == "-c") && i + 1 < args.count {
                if args[i] == "-o" { overrides.append(args[i + 1]) } else { configPath = args[i + 1] }
                i += 2; continue
            }
            rest.append(args[i]); i += 1
        }
        let a = RulesCommand.Args(rest, valued: ["--unknown-keys"])
        if let e = a.error { writeStderr("vigil rules validate: \(e)\n"); return 2 }
        var unknownKeys = UnknownKeyPolicy.error
        if let v = a.options["--unknown-keys"] {
            switch v {
            case "error": unknownKeys = .error
            case "warn", "warning": unknownKeys = .warn
            default: writeStderr("vigil rules validate: --unknown-keys must be error or warn, not '\(v)'\n"); return 2
            }
        }
        let paths = a.positional + a.rules
        guard !paths.isEmpty else { writeStderr("vigil rules validate: give at least one rules file or directory\n"); return 2 }
        var enforcement = Enforcement()
        var dropFailedExit = false
        if configPath != nil || !overrides.isEmpty || ConfigLoader.defaultPath(rulesPaths: paths) != nil {
            do throws(ConfigError) {
                let loaded = try ConfigLoader.load(path: configPath ?? ConfigLoader.defaultPath(rulesPaths: paths), overrides: overrides)
                enforcement = loaded.config.enforcement
                dropFailedExit = loaded.config.engine.modernEBPF.dropFailedExit
                if a.options["--unknown-keys"] == nil { unknownKeys = loaded.config.rulesUnknownKeys }
            } catch {
                writeStderr("vigil rules validate: \(error)\n"); return 2
            }
        }
        var loader = RuleLoader(unknownKeys: unknownKeys)
        loader.load(paths: paths)
        var buildOptions = RuleLoadOptions()
        buildOptions.enforcing = enforcement.mode == .off ? [] : enforcement.rules
        let (set, diags) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics, options: buildOptions)
        let plan = EnforcementPlan(rules: set, config: enforcement, generation: 1, protectedPIDs: [1])
        let s = set.summary
        // Failed calls: the ones the kernel drops for these rules, and the rules that keep the others.
        let interest = RuleLoading.interest(set, dropFailedExit: dropFailedExit)
        let keptTypes = interest.types.intersection(KernelInterest.failableTypes).sorted { $0.rawValue < $1.rawValue }
            .filter { interest.sendsFailures(of: $0) || interest.sendsFailures(of: $0, compat: true) }
        func keptBy(_ t: EventType) -> [String] {
            if RuleLoading.stateFailureTypes.contains(t) { return ["(process table)"] }
            let native = set.rulesMatchingFailures(of: t), compat = set.rulesMatchingFailures(of: t, compat: true)
            return native + compat.filter { !native.contains($0) }.map { $0 + " (32-bit)" }
        }
        if a.json {
            let w = JSONWriter()
            w.beginObject()
            w.key("ok"); w.bool(s.errors == 0)
            w.key("files"); w.beginArray(); for f in s.files { w.string(f) }; w.endArray()
            w.key("rules"); w.int(Int64(s.rules))
            w.key("macros"); w.int(Int64(s.macros))
            w.key("lists"); w.int(Int64(s.lists))
            w.key("rules_compiled"); w.int(Int64(s.compiled))
            w.key("rules_enabled"); w.int(Int64(s.enabled))
            w.key("rules_disabled"); w.int(Int64(s.disabled))
            w.key("rules_skipped"); w.beginArray()
            for k in s.skipped {
                w.beginObject(); w.key("rule"); w.string(k.name); w.key("reason"); w.string(k.reason)
                w.key("file"); w.string(k.mark.file); w.key("line"); w.int(Int64(k.mark.line)); w.endObject()
            }
            w.endArray()
            w.key("required_event_types"); w.beginArray(); for t in set.requiredEventTypes.map(\.name).sorted() { w.string(t) }; w.endArray()
            w.key("failed_calls"); w.beginObject()
            w.key("drop_failed_exit"); w.bool(dropFailedExit)
            w.key("dropped"); w.beginArray(); for n in interest.droppedFailureNames { w.string(n) }; w.endArray()
            w.key("sent_only_for_paths"); w.beginObject()
            w.key("types"); w.beginArray(); for n in interest.pathFilteredFailureNames { w.string(n) }; w.endArray()
            w.key("paths"); w.beginArray(); for p in interest.failedPathNames { w.string(p) }; w.endArray()
            w.endObject()
            w.key("read_only_opens_without_path_as_passed"); w.beginArray()
            for t in interest.openNameWriteOnly.map(\.name).sorted() { w.string(t) }
            w.endArray()
            w.key("kept"); w.beginArray()
            for t in keptTypes {
                w.beginObject(); w.key("type"); w.string(t.name)
                w.key("by"); w.beginArray(); for r in keptBy(t) { w.string(r) }; w.endArray()
                w.endObject()
            }
            w.endArray()
            w.endObject()
            w.key("enforcement"); w.beginObject()
            w.key("mode"); w.string(enforcement.mode.rawValue)
            w.key("rules"); w.beginArray()
            for e in plan.entries {
                w.beginObject(); w.key("rule"); w.string(e.rule)
                switch e.path {
                case .kernel(let f): w.key("path"); w.string("kernel"); w.key("compiled"); w.string(f.summary)
                case .userSpace(let why): w.key("path"); w.string("user-space"); w.key("reason"); w.string(why)
                }
                w.endObject()
            }
            w.endArray()
            w.key("unmatched_selectors"); w.beginArray(); for u in plan.unmatchedSelectors { w.string("\(u) (\(u.origin))") }; w.endArray()
            w.endObject()
            w.key("errors"); w.int(Int64(s.errors))
            w.key("warnings"); w.int(Int64(s.warnings))
            w.key("diagnostics"); w.beginArray(); for d in diags { RulesCommand.diagnosticJSON(w, d) }; w.endArray()
            w.endObject()
            print(w.text)
        } else {
            for d in diags where !(d.severity == .warning && d.message.hasPrefix("rule skipped:")) { writeStderr(d.description + "\n") }
            var out = "\(s.files.count) file\(s.files.count == 1 ? "" : "s"): \(s.rules) rules, \(s.macros) macros, \(s.lists) lists\n"
            out += "rules compiled: \(s.compiled) (\(s.enabled) enabled, \(s.disabled) disabled)\n"
            out += "rules skipped: \(s.skipped.count)\n"
            for k in s.skipped { out += "  - \(k.name) (\(k.mark.file):\(k.mark.line)): \(k.reason)\n" }
            out += "event types needed: \(set.requiredEventTypes.map(\.name).sorted().joined(separator: " "))\n"
            out += "failed calls dropped in the kernel\(dropFailedExit ? " (drop_failed_exit)" : ""): "
                + (interest.droppedFailureNames.isEmpty ? "none" : interest.droppedFailureNames.joined(separator: " ")) + "\n"
            out += "failed calls kept:\n"
            for t in keptTypes { out += "  - \(t.name): \(keptBy(t).joined(separator: ", "))\n" }
            if !interest.pathFilteredFailureNames.isEmpty {
                out += "failed calls of \(interest.pathFilteredFailureNames.joined(separator: " ")) kept only for these paths "
                    + "(and paths the kernel cannot compare: relative, not normal, longer than \(KernelInterest.failedPathMaxBytes) bytes): "
                    + interest.failedPathNames.joined(separator: " ") + "\n"
            }
            out += "successful read-only opens sent without the path as passed (no enabled rule reads it): "
                + (interest.openNameWriteOnly.isEmpty ? "none" : interest.openNameWriteOnly.map(\.name).sorted().joined(separator: " "))
            let needing = set.rulesNeedingReadOnlyOpenNames
            out += needing.isEmpty ? "\n" : " (needed by: " + needing.joined(separator: ", ") + ")\n"
            if !plan.entries.isEmpty || !plan.unmatchedSelectors.isEmpty {
                out += "enforcing rules (mode \(enforcement.mode.rawValue), action \(enforcement.action.rawValue)): \(plan.entries.count)\n"
                for line in plan.report { out += "  - \(line)\n" }
                for u in plan.unmatchedSelectors { out += "  ! enforcement.rules item '\(u)' (\(u.origin)) matches no loaded rule\n" }
            }
            out += "\(s.errors) error\(s.errors == 1 ? "" : "s"), \(s.warnings) warning\(s.warnings == 1 ? "" : "s")\n"
            print(out, terminator: "")
        }
        return s.errors == 0 ? 0 : 1
    }
}

/// `vigil rules list`.
enum RulesList {
    static func run(_ args: [String]) -> Int32 {
        if args.contains("-h") || args.contains("--help") {
            print("Usage: vigil rules list [-r PATH]... [PATH...] [--format text|json]\n\nLists the rules of the given files (default rules/): name, priority, enabled, event types, tags.")
            return 0
        }
        let a = RulesCommand.Args(args)
        if let e = a.error { writeStderr("vigil rules list: \(e)\n"); return 2 }
        var paths = a.rules + a.positional
        if paths.isEmpty { paths = ["rules/"] }
        var loader = RuleLoader()
        loader.load(paths: paths)
        let (set, diags) = RuleSet.build(loader.source, loaderDiagnostics: loader.diagnostics)
        for d in diags where d.severity == .error { writeStderr(d.description + "\n") }
        if a.json {
            let w = JSONWriter()
            w.beginArray()
            for r in set.rules {
                w.beginObject()
                w.key("rule"); w.string(r.name)
                w.key("priority"); w.string(r.priority.falcoName)
                w.key("enabled"); w.bool(r.enabled)
                w.key("source"); w.string(r.source)
                w.key("event_types"); w.beginArray(); for t in r.eventTypes { w.string(t.name) }; w.endArray()
                w.key("tags"); w.beginArray(); for t in r.tags { w.string(t) }; w.endArray()
                w.key("desc"); w.string(r.description)
                w.endObject()
            }
            w.endArray()
            print(w.text)
        } else {
            for r in set.rules {
                let types = r.eventTypes.count > 8 ? "\(r.eventTypes.count) types" : r.eventTypes.map(\.name).joined(separator: ",")
                print("\(r.name)\n    priority=\(r.priority.falcoName) enabled=\(r.enabled) types=\(types) tags=\(r.tags.joined(separator: ","))")
            }
            for k in set.summary.skipped { print("\(k.name)\n    skipped: \(k.reason)") }
        }
        return set.summary.errors == 0 ? 0 : 1
    }
}

/// `vigil rules fields`.
enum RulesFields {
    static func run(_ args: [String]) -> Int32 {
        if args.contains("-h") || args.contains("--help") {
            print("Usage: vigil rules fields [--used-by FILE]... [--format text|json]\n\nPrints the field catalog: name, type and description. With --used-by, only the fields the rule file uses (conditions and outputs), with how often; unknown ones are flagged.")
            return 0
        }
        var files: [String] = []
        var rest: [String] = []
        var i = 0
        while i < args.count {
            if args[i] == "--used-by" {
                guard i + 1 < args.count else { writeStderr("vigil rules fields: --used-by needs a file\n"); return 2 }
                files.append(args[i + 1]); i += 2; continue
            }
            rest.append(args[i]); i += 1
        }
        let a = RulesCommand.Args(rest)
        if let e = a.error { writeStderr("vigil rules fields: \(e)\n"); return 2 }
        var rows: [(name: String, type: String, desc: String, uses: Int?, status: String?)] = []
        if files.isEmpty {
            for f in FieldCatalog.all {
                let shown = f.name == "static" ? "static.NAME" : f.name + argSuffix(f.argKind)  // Falco writes static fields dotted
                rows.append((shown, f.type.rawValue, f.description, nil, f.unsupported.map { "unsupported: \($0)" }))
            }
        } else {
            var loader = RuleLoader()
            loader.load(paths: files)
            for d in loader.diagnostics where d.severity == .error { writeStderr(d.description + "\n") }
            let usage = FieldUsage.collect(loader.source)
            for (name, count) in usage.sorted(by: { $0.key < $1.key }) {
                if let (def, _) = FieldCatalog.lookup(name) ?? FieldCatalog.lookup(FieldUsage.baseName(name)) {
                    rows.append((name, def.type.rawValue, def.description, count, def.unsupported.map { "unsupported: \($0)" }))
                } else {
                    rows.append((name, "?", "", count, "unknown field"))
                }
            }
        }
        if a.json {
            let w = JSONWriter()
            w.beginArray()
            for r in rows {
                w.beginObject()
                w.key("name"); w.string(r.name); w.key("type"); w.string(r.type); w.key("desc"); w.string(r.desc)
                if let u = r.uses { w.key("uses"); w.int(Int64(u)) }
                w.key("supported"); w.bool(r.status == nil)
                if let s = r.status { w.key("status"); w.string(s) }
                w.endObject()
            }
            w.endArray()
            print(w.text)
        } else {
            let width = min(40, (rows.map { $0.name.count }.max() ?? 10) + 2)
            for r in rows {
                var line = r.name.padding(width) + r.type.padding(10)
                if let u = r.uses { line += "x\(u)".padding(6) }
                line += r.desc
                if let s = r.status { line += "  [\(s)]" }
                print(line)
            }
            if !files.isEmpty { print("\(rows.count) fields used") }
        }
        return rows.contains { $0.status == "unknown field" } ? 1 : 0
    }

    static func argSuffix(_ k: FieldArgKind) -> String {
        switch k {
        case .none: ""
        case .index: "[N]"
        case .key: "[KEY]"
        case .optionalKey: "[[KEY]]"
        case .argument: ".NAME"
        }
    }
}
