import Synchronization
import VigilCore
import VigilDecode
import VigilRules
import VigilAlerts

/// Reloads configuration and rules off the hot path and swaps the rule set in atomically.
///
/// A reload (SIGHUP, or a watched file changing) re-reads the configuration file
/// with the same `-c`/`-o`/`-r` options, loads and compiles the rules, and only
/// if everything loads: widens the kernel's event selection to old ∪ new, swaps
/// the rule set (the pipeline picks it up before its next event), waits until
/// the pipeline runs the new set, then narrows the selection to the new set's
/// needs. Events keep flowing through the whole sequence, each evaluated by
/// exactly one of the two sets: there is no monitoring gap. The same holds for failed
/// calls: while the sets switch, a type's failures are dropped in the kernel only when
/// neither set can use them (``KernelInterest/union(_:)``).
///
/// The compilation runs on its own thread (``ReloadCompilation``) within the time and
/// memory budgets of `rules_reload`, and is abandoned when the agent stops. A set that
/// fails to load or runs out of budget is rejected: logged, counted in
/// `vigil_reload_failures_total`, reported to the failure handler (the agent raises an
/// internal alert), and the old set keeps running.
package final class Reloader: Sendable {
    /// What a reload did.
    package enum Outcome: Sendable, Equatable {
        case reloaded(rules: Int)
        case rejected(String)
    }

    /// A rejected reload, for the failure handler.
    package struct Failure: Sendable {
        /// What asked for the reload (`SIGHUP`, `file changed`).
        package var reason: String
        /// The errors, first first.
        package var errors: [String]
    }

    private let options: AgentOptions
    private let slot: SwapSlot<RuleSet>
    private let metrics: AgentMetrics
    private let setInterest: @Sendable (KernelInterest) -> Void
    /// `engine.modern_ebpf.drop_failed_exit` as the agent started with it (a restart-only key).
    package let dropFailedExit: Bool
    private let pipelineGeneration: @Sendable () -> UInt64
    private let onConfig: @Sendable (LoadedConfig) -> Void
    private let applyEnforcement: @Sendable (RuleSet, LoadedConfig) -> Void
    private let state: Mutex<LoadedConfig>
    /// Serialises reloads (held for a whole reload; ``current`` does not wait for it).
    private let serial = Mutex<Void>(())
    private let failureHandler = Mutex<(@Sendable (Failure) -> Void)?>(nil)
    private let stopping: @Sendable () -> Bool
    private let compilations = ReloadCompilation.Counter()

    /// Compilations still running (one at most; an abandoned one until it notices).
    package var compilationsInFlight: Int { compilations.value }

    /// - Parameters:
    ///   - current: the configuration the agent started with.
    ///   - setInterest: sets the kernel's event selection.
    ///   - pipelineGeneration: the rule-set generation the pipeline is evaluating with.
    ///   - onConfig: called with each newly accepted configuration (watch list, log level...).
    ///   - isStopping: true once the agent stops; a reload in progress is then abandoned.
    package init(options: AgentOptions, current: LoadedConfig, slot: SwapSlot<RuleSet>, metrics: AgentMetrics,
                setInterest: @escaping @Sendable (KernelInterest) -> Void,
                pipelineGeneration: @escaping @Sendable () -> UInt64,
                onConfig: @escaping @Sendable (LoadedConfig) -> Void = { _ in },
                isStopping: @escaping @Sendable () -> Bool = { false },
                applyEnforcement: @escaping @Sendable (RuleSet, LoadedConfig) -> Void = { _, _ in }) {
        self.applyEnforcement = applyEnforcement
        self.options = options; self.slot = slot; self.metrics = metrics
        self.setInterest = setInterest; self.pipelineGeneration = pipelineGeneration; self.onConfig = onConfig
        self.stopping = isStopping
        self.state = Mutex(current)
        self.dropFailedExit = current.config.engine.modernEBPF.dropFailedExit
    }

    /// What the kernel must deliver for `rules` under the start-up engine settings.
    package func kernelInterest(_ rules: RuleSet) -> KernelInterest {
        RuleLoading.interest(rules, dropFailedExit: dropFailedExit)
    }

    /// Under `drop_failed_exit`, warns once per rule that can match failed calls the kernel drops,
    /// and says which types keep their failures because the process table needs them.
    package func warnDroppedFailures(_ rules: RuleSet) {
        guard dropFailedExit else { return }
        let kept = RuleLoading.stateFailureTypes.intersection(kernelInterest(rules).types).map(\.name).sorted()
        Log.warning("config", "engine.modern_ebpf.drop_failed_exit is true: failed calls are dropped in the kernel, except those the process table needs",
                    [("kept_types", kept.joined(separator: ","))])
        for (rule, types) in RuleLoading.droppedFailureRules(rules) {
            Log.warning("rules", "engine.modern_ebpf.drop_failed_exit is true: this enabled rule can match failed calls, which the kernel drops",
                        [("rule", rule), ("types", types.joined(separator: ","))])
        }
    }

    /// The configuration in force.
    package var current: LoadedConfig { state.withLock { $0 } }

    /// Called (on the reloading thread) with every rejected reload.
    package func setFailureHandler(_ handler: @escaping @Sendable (Failure) -> Void) {
        failureHandler.withLock { $0 = handler }
    }

    /// Every file and directory a reload reads (to watch).
    package static func watchPaths(_ loaded: LoadedConfig) -> [String] {
        var paths = loaded.resolvedRulesFiles
        if let p = loaded.path { paths.append(p) }
        return paths
    }

    /// Reloads now (serialised with other reloads). `reason` goes to the log.
    @discardableResult
    package func reload(reason: String) -> Outcome {
        serial.withLock { _ -> Outcome in
            Log.info("reload", "reloading configuration and rules", [("reason", reason)])
            let cur = current
            let options = self.options
            let job = ReloadCompilation(counter: compilations) { cancellation in
                let loaded: LoadedConfig
                do throws(ConfigError) { loaded = try options.loadConfig() } catch {
                    return .failure(RuleLoading.Rejected(errors: ["configuration rejected: " + error.description]))
                }
                return RuleLoading.load(loaded, cancellation: cancellation).map { (loaded, $0) }
            }
            let budget = cur.config.rulesReload
            let compiled = job.run(timeoutMs: budget.timeoutMs, maxMemory: budget.maxMemory, isStopping: stopping)
            let loaded: LoadedConfig, rules: RuleSet
            switch compiled {
            case .success(let (l, r)): loaded = l; rules = r
            case .failure(.stopping):
                Log.info("reload", "reload abandoned: the agent is stopping")
                return .rejected("the agent is stopping")
            case .failure(let failure):
                let errors = failure.errors
                metrics.reloadFailures.add()
                for e in errors.prefix(50) { Log.error("reload", "rules error", [("error", e)]) }
                Log.error("reload", "rule set rejected; the previous rules keep running",
                          [("reason", reason), ("errors", String(errors.count))])
                failureHandler.withLock { $0 }?(Failure(reason: reason, errors: errors))
                return .rejected(errors.joined(separator: "\n"))
            }
            for change in Self.restartOnlyChanges(cur.config, loaded.config) {
                Log.warning("reload", "setting changed; it takes effect at the next restart", [("key", change)])
            }
            let old = slot.load()
            let oldInterest = kernelInterest(old)
            let newInterest = kernelInterest(rules)
            warnDroppedFailures(rules)
            setInterest(oldInterest.union(newInterest))
            // Enforcement settings first (keyed by rule name, valid for either set), then the rules.
            applyEnforcement(rules, loaded)
            slot.store(rules)
            let gen = slot.generation
            // Wait (bounded) for the pipeline to evaluate with the new set before narrowing.
            var waited = 0
            while pipelineGeneration() < gen && waited < 2000 && !stopping() { Timestamp.sleep(milliseconds: 2); waited += 2 }
            setInterest(newInterest)
            metrics.reloads.add()
            metrics.rulesLoaded.set(Int64(rules.summary.enabled))
            metrics.rulesLoadedTime.set(Int64(Timestamp.nowNanoseconds() / 1_000_000_000))
            state.withLock { $0 = loaded }
            onConfig(loaded)
            Log.info("reload", "rules reloaded", [("rules_enabled", String(rules.summary.enabled)),
                                                  ("rules_files", String(rules.summary.files.count)),
                                                  ("event_types", String(newInterest.count)),
                                                  ("failures_dropped_for", newInterest.droppedFailureNames.joined(separator: ",")),
                                                  ("failures_by_path_for", newInterest.pathFilteredFailureNames.joined(separator: ",")),
                                                  ("failure_paths", newInterest.failedPathNames.joined(separator: ","))])
            return .reloaded(rules: rules.summary.enabled)
        }
    }

    /// Keys whose new value only applies after a restart.
    static func restartOnlyChanges(_ a: VigilConfig, _ b: VigilConfig) -> [String] {
        var out: [String] = []
        if a.engine != b.engine { out.append("engine") }
        if a.processTable != b.processTable { out.append("process_table") }
        if a.webserver != b.webserver { out.append("webserver") }
        if a.k8s != b.k8s { out.append("k8s") }
        if a.containerd != b.containerd { out.append("containerd") }
        if a.crio != b.crio { out.append("crio") }
        var aa = a.alerts, bb = b.alerts
        aa.minimumPriority = .debug; bb.minimumPriority = .debug
        if aa != bb { out.append("outputs (json_output, *_output, outputs_queue, flood_control)") }
        if a.metadataWaitMs != b.metadataWaitMs { out.append("metadata_wait_ms") }
        // A stricter priority applies at once (rules below it are disabled); a looser one also
        // needs the outputs' start-up filter lowered.
        if b.priority > a.priority { out.append("priority (alerts below the start-up priority stay filtered)") }
        return out
    }
}
