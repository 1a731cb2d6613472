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

    /// Event types whose failed calls the process table uses (`VIGIL_STATE_FAILED`: a failed
    /// `close` still frees the fd, a connect in progress is connected, a failed datagram
    /// send or receive still names the peer): never dropped in the kernel.
    package static let stateFailureTypes: Set<EventType> = EventTable.types(withState: VIGIL_STATE_FAILED)

    /// What the kernel must deliver for `rules`: the types the state and the enabled rules need
    /// (``EventType/environmentCapture`` when an enabled rule reads `proc.env`), and the types
    /// whose failed calls neither the state nor any enabled rule can use, dropped in the kernel
    /// (``RuleSet/failureEventTypes``). With `dropFailedExit` (Falco's
    /// `engine.modern_ebpf.drop_failed_exit`) failed calls are dropped for every type whose
    /// failures the state does not need, whatever the rules ask (see ``droppedFailureRules(_:)``).
    ///
    /// Of the open family, a type whose failures the rules match only for a few exact paths
    /// (``RuleSet/failurePaths(of:compat:)``: "Kernel memory read" wants failed opens of
    /// `/proc/kcore` and three more) sends only the failed calls whose path may be one of them
    /// (``KernelInterest/failedPathTypes``); the other failed opens (a program's locale probes)
    /// are dropped in the kernel.
    ///
    /// Of `open` and `openat`, a type whose successful read-only opens no enabled rule can read
    /// the path as passed of (``RuleSet/openNameWriteOnlyTypes``) has them sent without it where
    /// the kernel resolved the opened file's path (``KernelInterest/openNameWriteOnly``).
    package static func interest(_ rules: RuleSet, dropFailedExit: Bool = false) -> KernelInterest {
        var types = stateEventTypes.union(rules.requiredEventTypes)
        if rules.needsEnvironment { types.insert(.environmentCapture) }
        let failable = types.intersection(KernelInterest.failableTypes).subtracting(stateFailureTypes)
        // Successful read-only opens go without the path as passed where no enabled rule can read it.
        let openNames = rules.openNameWriteOnlyTypes
        if dropFailedExit { return KernelInterest(types: types, dropFailed: failable, dropFailedCompat: failable, openNameWriteOnly: openNames) }
        let native = rules.failureEventTypes(compat: false), compat = rules.failureEventTypes(compat: true)
        var paths: Set<[UInt8]> = []
        func byPath(_ wanted: Set<EventType>, _ isCompat: Bool) -> Set<EventType> {
            var out: Set<EventType> = []
            for t in wanted.intersection(failable).intersection(KernelInterest.pathFilterableTypes) {
                guard let p = rules.failurePaths(of: t, compat: isCompat) else { continue }
                out.insert(t)
                paths.formUnion(p)
            }
            return out
        }
        let nativeByPath = byPath(native, false), compatByPath = byPath(compat, true)
        return KernelInterest(types: types, dropFailed: failable.subtracting(native), dropFailedCompat: failable.subtracting(compat),
                              failedPathTypes: nativeByPath, failedPathTypesCompat: compatByPath, failedPaths: paths,
                              openNameWriteOnly: openNames)
    }

    /// The enabled rules that can match a failed call the kernel drops under `drop_failed_exit`
    /// (rule name, those types: `openat`, or `openat(32-bit)` when only its 32-bit failures): the
    /// rules that will not see these failures.
    package static func droppedFailureRules(_ rules: RuleSet) -> [(rule: String, types: [String])] {
        var byRule: [String: [String]] = [:]
        var order: [String] = []
        let types = rules.requiredEventTypes.intersection(KernelInterest.failableTypes).subtracting(stateFailureTypes)
        for t in types.sorted(by: { $0.rawValue < $1.rawValue }) {
            let native = rules.rulesMatchingFailures(of: t, compat: false)
            let compat = rules.rulesMatchingFailures(of: t, compat: true)
            for r in native + compat.filter({ !native.contains($0) }) {
                if byRule[r] == nil { order.append(r) }
                byRule[r, default: []].append(native.contains(r) ? t.name : t.name + "(32-bit)")
            }
        }
        return order.map { ($0, byRule[$0]!) }
    }
}
