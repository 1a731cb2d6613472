import VigilABI
import VigilCore
import VigilDecode
import VigilRules

/// Loads the rule set a configuration names.
package enum RuleLoading {
    /// Why a rule set was rejected.
    package struct Rejected: Error, CustomStringConvertible, Sendable {
        package var errors: [String]
        package var description: String { errors.joined(separator: "\n") }
    }

    /// The rules files of `loaded`: files as given, directories expanded to their
    /// `*.yaml`/`*.yml` files in name order (not recursive), never the configuration file itself.
    package static func files(_ loaded: LoadedConfig) -> (files: [String], errors: [String]) {
        var files: [String] = []
        var errors: [String] = []
        let config = loaded.path.map { FilePaths.normalize($0) }
        for p in loaded.resolvedRulesFiles {
            if FilePaths.isDirectory(p) {
                guard let names = FilePaths.listDirectory(p) else { errors.append("\(p): cannot read the rules directory"); continue }
                for n in names where !n.hasPrefix(".") && (n.hasSuffix(".yaml") || n.hasSuffix(".yml")) {
                    let f = FilePaths.normalize(p + "/" + n)
                    if f == config || !FilePaths.isRegularFile(f) { continue }
                    files.append(f)
                }
            } else if FilePaths.exists(p) {
                files.append(p)
            } else {
                errors.append("\(p): rules file not found")
            }
        }
        if files.isEmpty && errors.isEmpty { errors.append("no rules files found in " + loaded.resolvedRulesFiles.joined(separator: ", ")) }
        return (files, errors)
    }

    /// Loads and compiles the rules; warnings are logged, errors reject the set.
    /// `cancellation` stops it early from another thread (a reload out of budget).
    package static func load(_ loaded: LoadedConfig, cancellation: RuleLoadCancellation? = nil) -> Result<RuleSet, Rejected> {
        let (paths, errors) = files(loaded)
        if !errors.isEmpty { return .failure(Rejected(errors: errors)) }
        var options = RuleLoadOptions()
        options.cancellation = cancellation
        options.maxFileBytes = loaded.config.rulesFileMaxSize
        options.matching = loaded.config.ruleMatching == .all ? .all : .first
        options.minimumPriority = loaded.config.priority
        options.unknownKeys = loaded.config.rulesUnknownKeys
        options.selectors = loaded.config.ruleSelectors
        options.appendOutput = loaded.config.appendOutput
        options.staticFields = loaded.config.staticFields
        // Enforcement off: no rule enforces, whatever the selectors say.
        options.enforcing = loaded.config.enforcement.mode == .off ? [] : loaded.config.enforcement.rules
        do {
            let (set, diags) = try RuleSet.load(paths: paths, options: options)
            for d in diags { Log.debug("rules", "\(d)") }
            return .success(set)
        } catch {
            return .failure(Rejected(errors: error.diagnostics.filter { $0.severity == .error }.map { "\($0)" }))
        }
    }

    /// Event types the process table needs whatever the rules say (process lifecycle, fds, cwd).
    /// The rows of vigil_abi.h's syscall table marked `VIGIL_STATE_ALWAYS`.
    package static let stateEventTypes: Set<EventType> = EventTable.types(withState: VIGIL_STATE_ALWAYS)

    /// What the kernel must deliver for `rules`.
    /// Holds ``EventType/environmentCapture`` when an enabled rule reads `proc.env`.
    package static func interest(_ rules: RuleSet) -> Set<EventType> {
        var types = stateEventTypes.union(rules.requiredEventTypes)
        if rules.needsEnvironment { types.insert(.environmentCapture) }
        return types
    }
}
