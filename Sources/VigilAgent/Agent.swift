#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilAlerts
import VigilCapture
import VigilCore
import VigilDecode
import VigilRules
import VigilState

/// Why the agent could not start.
package struct AgentError: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ d: String) { description = d }
}

/// Holds the kernel event-selection setter once the source is started.
final class InterestSetter: Sendable {
    let value = Mutex<(@Sendable (KernelInterest) throws -> Void)?>(nil)
}

/// glibc's `malloc_trim(3)` (malloc.h is not in Swift's Glibc module): returns free memory of
/// every malloc arena to the kernel.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32

extension VigilConfig.ProcessTableLimits {
    /// The process table's configuration for these limits.
    var tableConfiguration: ProcessTable.Configuration {
        ProcessTable.Configuration(maxProcesses: maxProcesses, exitGracePeriodNs: UInt64(exitGraceMs) * 1_000_000,
                                   maxFDsPerProcess: maxFDsPerProcess, maxExited: maxExited)
    }
}

extension Pipeline: RecordConsumer {
    package func consume(_ event: Event) { process(event) }
    package func endOfBatch() { batchEnded() }
    /// A quiet ring still ticks the pipeline: held alerts are released on time, readiness
    /// and reloads do not wait for the next event.
    package func idle() { batchEnded() }
    package func finish() { tick(); flush() }
}

/// The running agent: wires capture, state, enrichment, rules and alerts, serves
/// metrics and health, reloads on SIGHUP and file changes, and stops cleanly.
///
/// ```swift
/// let agent = try Agent(options: opts, loaded: config)
/// try agent.start(source: BPFRecordSource(capture: capture)) { try capture.setInterest($0) }
/// agent.waitUntilStopped()        // SIGINT/SIGTERM (see ``requestStop()``) or end of input
/// let stats = agent.shutdown()    // detach, drain, flush sinks; the final stats line
/// ```
package final class Agent: @unchecked Sendable {
    /// The command-line options (re-applied on every reload).
    package let options: AgentOptions
    /// The pipeline's own counters.
    package let metrics = AgentMetrics()
    /// Every stage's metric families, rendered on `/metrics`.
    package let registry = MetricsRegistry()
    /// What `/readyz` reports.
    package let health = HealthState()
    /// Alert delivery (sinks, flood control).
    package let dispatcher: AlertDispatcher
    /// Container and pod identity.
    package let enricher: ContainerEnricher?
    /// The per-event path (runs on the reader thread).
    package let pipeline: Pipeline
    /// Configuration and rule reloads.
    package let reloader: Reloader
    /// Enforcement outcomes and kill latency.
    package let enforcementMetrics = EnforcementMetrics()
    /// Enforcement planning, the kernel table and the pipeline's settings.
    package let enforcement: EnforcementControl
    /// Where each enforcing rule kills, as last planned.
    package var enforcementReport: [String] { enforcement.report }
    /// The name alerts carry as `hostname`.
    package let hostname: String
    let slot: SwapSlot<RuleSet>
    let processTable: ProcessTable
    private(set) var server: MetricsServer?
    private var watcher: FileWatcher?
    private var sourceThread: NamedThread?
    private var monitorThread: NamedThread?
    private var reloadThread: NamedThread?
    /// Reloads asked for by signals and the file watcher, run on the reload thread.
    private let reloadRequests = ReloadRequests()
    private var stopSource: (@Sendable () -> Void)?
    private var sourceStats: (@Sendable () -> CaptureStats)?
    private let stopRequested = Atomic<Bool>(false)
    private let sourceEnded = Atomic<Bool>(false)
    /// Given when a stop is requested or the source ends (``waitUntilStopped()`` sleeps on it).
    private let stopping = WakeSignal()
    private let shutDown = Atomic<Bool>(false)
    private let startNs = Timestamp.monotonicNanoseconds()
    private let interestSetter = InterestSetter()
    private let sourceError = Mutex<String?>(nil)

    /// Builds every stage from the configuration (nothing is attached yet).
    /// Errors name what is wrong: a rules file, a configuration key, a sink.
    package init(options: AgentOptions, loaded: LoadedConfig, stdoutFD: Int32 = 1) throws(AgentError) {
        self.options = options
        let config = loaded.config
        if config.logStderr { Log.setLevel(config.logLevel) } else { Log.setLevel(.error) }
        hostname = Self.resolveHostname(config)

        let rules: RuleSet
        switch RuleLoading.load(loaded) {
        case .success(let r): rules = r
        case .failure(let rejected):
            throw AgentError("cannot load the rules:\n  " + rejected.errors.prefix(30).joined(separator: "\n  "))
        }
        slot = SwapSlot(rules)
        metrics.rulesLoaded.set(Int64(rules.summary.enabled))
        metrics.rulesLoadedTime.set(Int64(Timestamp.nowNanoseconds() / 1_000_000_000))

        do { dispatcher = try AlertDispatcher.make(config: config.alerts, hostname: hostname, stdoutFD: stdoutFD) } catch {
            throw AgentError("invalid output configuration: \(error)")
        }

        // Host mode unless Kubernetes is configured; a broken kubeconfig degrades, never stops the agent.
        var enrichConfig = ContainerEnricher.Configuration()
        enrichConfig.containerdRoots = config.containerd.enabled ? Self.containerdRoots(config.containerd.stateRoot) : []
        enrichConfig.crioRoots = config.crio.enabled ? Self.crioRoots(config.crio.stateRoot) : []
        if config.k8s.enabled || !config.k8s.kubeconfig.isEmpty {
            do {
                if var k = try KubeClientConfiguration.resolve(kubeconfig: config.k8s.kubeconfig.isEmpty ? nil : config.k8s.kubeconfig,
                                                               nodeName: config.k8s.nodeName.isEmpty ? nil : config.k8s.nodeName) {
                    if !config.k8s.apiServer.isEmpty { k.server = config.k8s.apiServer }
                    if !config.k8s.caFile.isEmpty { k.caFile = config.k8s.caFile }
                    if !config.k8s.tokenFile.isEmpty { k.tokenFile = config.k8s.tokenFile }
                    enrichConfig.kubernetes = k
                } else {
                    Log.warning("agent", "k8s.enabled but no kubeconfig and not in a cluster: running in host mode")
                }
            } catch {
                Log.error("agent", "Kubernetes API unavailable: running on node-local metadata only", [("error", "\(error)")])
            }
        }
        let enricher = ContainerEnricher(configuration: enrichConfig)
        self.enricher = enricher

        let enforcement = EnforcementControl(rules: rules, config: config.enforcement)
        self.enforcement = enforcement
        let enforcer = Enforcer(slot: enforcement.slot, metrics: enforcementMetrics)

        processTable = ProcessTable(configuration: config.processTable.tableConfiguration)
        pipeline = Pipeline(processes: processTable, enricher: enricher, dispatcher: dispatcher, ruleSlot: slot, metrics: metrics,
                            metadataWaitNs: UInt64(config.metadataWaitMs) * 1_000_000, hostname: hostname, health: health,
                            enforcer: enforcer)
        let slotRef = slot
        let pipelineRef = pipeline
        let interest = interestSetter
        let requests = reloadRequests
        reloader = Reloader(options: options, current: loaded, slot: slotRef, metrics: metrics,
                            setInterest: { types in
                                guard let set = interest.value.withLock({ $0 }) else { return }
                                do { try set(types) } catch { Log.error("reload", "cannot update the kernel event selection", [("error", "\(error)")]) }
                            },
                            pipelineGeneration: { UInt64(pipelineRef.activeGeneration.value) },
                            isStopping: { requests.isStopping },
                            applyEnforcement: { rules, loaded in enforcement.apply(rules: rules, config: loaded.config.enforcement) })
        registerMetrics()
        reloader.setFailureHandler { [weak self] failure in self?.raiseReloadAlert(failure) }
        Log.info("agent", "rules loaded", [("rules_enabled", String(rules.summary.enabled)), ("rules_files", String(rules.summary.files.count)),
                                           ("skipped", String(rules.summary.skipped.count))])
    }

    /// The rule set running now.
    package var rules: RuleSet { slot.load() }

    /// Starts the stages and `source` on the reader thread. `setInterest` selects event
    /// types in the kernel (nil for sources without kernel selection). `seedProcesses`
    /// reads `/proc` first (live capture; not for recorded files from elsewhere).
    package func start<S: RecordSource & Sendable>(source: S, setInterest: (@Sendable (KernelInterest) throws -> Void)? = nil,
                                                  setEnforcement: (@Sendable (KernelEnforcementTable) throws -> Void)? = nil,
                                                  seedProcesses: Bool = true) throws(AgentError) {
        let config = reloader.current.config
        // Names rules compare fd.*ip.name with resolve from now on (not while only validating rules).
        DNSNameCache.shared.startResolving()
        if let setEnforcement {
            enforcement.attachKernel(setEnforcement, rules: slot.load(), config: reloader.current.config.enforcement)
        }
        if let setInterest {
            let rules = slot.load()
            let interest = reloader.kernelInterest(rules)
            do { try setInterest(interest) } catch { throw AgentError("cannot set the kernel event selection: \(error)") }
            interestSetter.value.withLock { $0 = setInterest }
            reloader.warnDroppedFailures(rules)
            Log.info("agent", "kernel event selection set", [("event_types", String(interest.count)),
                                                             ("failures_dropped_for", interest.droppedFailureNames.joined(separator: ",")),
                                                             ("failures_by_path_for", interest.pathFilteredFailureNames.joined(separator: ",")),
                                                             ("failure_paths", interest.failedPathNames.joined(separator: ",")),
                                                             ("read_only_opens_without_raw_path", interest.openNameWriteOnly.map(\.name).sorted().joined(separator: ","))])
        }
        if config.webserver.enabled {
            let s = MetricsServer(registry: registry, health: health, healthzPath: config.webserver.k8sHealthzEndpoint,
                                  readyzPath: config.webserver.readinessEndpoint, metricsEnabled: config.webserver.prometheusMetricsEnabled)
            do { try s.start(address: config.webserver.listenAddress, port: config.webserver.listenPort) } catch {
                throw AgentError(error.description)
            }
            server = s
            Log.info("agent", "metrics and health server listening", [("address", config.webserver.listenAddress), ("port", String(s.port))])
        }
        enricher?.start()
        if seedProcesses {
            let seeded = processTable.seedFromProc()
            Log.info("agent", "process table seeded from /proc", [("processes", String(seeded))])
        }
        metrics.processTableSize.set(Int64(processTable.count))
        pipeline.setClockOffset(source.bootToWallOffsetNs)

        let src = source
        stopSource = { src.stop() }
        sourceStats = { src.stats() }
        let pipe = pipeline
        do {
            // The source delivers records on this thread: it is the pipeline thread.
            sourceThread = try NamedThread.start(name: "vigil-pipeline") { [self] in
                do { try src.run(pipe) } catch {
                    sourceError.withLock { $0 = "\(error)" }
                    Log.error("agent", "event source failed", [("error", "\(error)")])
                }
                sourceEnded.store(true, ordering: .releasing)
                stopping.signal()
            }
        } catch {
            throw AgentError(error.description)
        }
        health.setAttached(true)
        health.setRulesLoaded(true)

        if config.watchConfigFiles {
            let w = FileWatcher(paths: Reloader.watchPaths(reloader.current)) { [weak self] in self?.requestReload(reason: "file changed") }
            if w.start() { watcher = w }
        }
        let threshold = config.dropAlertThreshold
        do {
            monitorThread = try NamedThread.start(name: "vigil-monitor") { [self] in monitor(threshold: threshold) }
        } catch {
            Log.error("agent", "drop monitor cannot run; no internal alert on kernel drops", [("error", error.description)])
        }
        do {
            reloadThread = try NamedThread.start(name: "vigil-reload") { [self] in
                while let reason = reloadRequests.next() { reload(reason: reason) }
            }
        } catch {
            Log.error("agent", "reload thread cannot run; SIGHUP and file changes will not reload", [("error", error.description)])
        }
        Log.info("agent", "running", [("hostname", hostname), ("mode", enricher?.configuration.kubernetes == nil ? "host" : "kubernetes")])
    }

    /// Reload now (SIGHUP).
    @discardableResult
    package func reload(reason: String) -> Reloader.Outcome {
        let outcome = reloader.reload(reason: reason)
        if case .reloaded = outcome {
            let cur = reloader.current
            watcher?.setPaths(Reloader.watchPaths(cur))
            if cur.config.logStderr { Log.setLevel(cur.config.logLevel) }
        }
        return outcome
    }

    /// Asks for a reload on the agent's reload thread and returns at once (SIGHUP, file
    /// changes): the caller never waits for a compilation. Requests made while one runs
    /// are merged into one more reload.
    package func requestReload(reason: String) { reloadRequests.request(reason) }

    /// Asks the agent to stop (from the signal thread). A reload in progress is abandoned.
    package func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        reloadRequests.stop()
        stopping.signal()
    }

    /// Whether stop was requested or the source ended.
    package var isStopping: Bool { stopRequested.load(ordering: .acquiring) || sourceEnded.load(ordering: .acquiring) }

    /// The source's failure, if it ended with an error.
    package var failure: String? { sourceError.withLock { $0 } }

    /// Blocks until ``requestStop()`` or the end of the source's input.
    package func waitUntilStopped() {
        while !isStopping { stopping.wait() }
    }

    /// Stops cleanly: detaches (the source drains what is in the ring and the pipeline
    /// releases held alerts), flushes every sink, stops the threads. Returns the final
    /// stats as one JSON line (without the newline).
    @discardableResult
    package func shutdown(flushTimeout: Duration = .seconds(5)) -> String {
        if shutDown.exchange(true, ordering: .acquiringAndReleasing) { return statsLine() }
        health.setStopping()
        stopRequested.store(true, ordering: .releasing)
        reloadRequests.stop()
        stopping.signal()
        watcher?.stop()
        reloadThread?.join()
        stopSource?()
        sourceThread?.join()
        monitorThread?.join()
        if !dispatcher.flush(timeout: flushTimeout) { Log.warning("agent", "alert sinks not fully flushed at shutdown") }
        dispatcher.stop(timeout: flushTimeout)
        enricher?.stop()
        server?.stop()
        return statsLine()
    }

    // MARK: monitoring

    private func monitor(threshold: Double) {
        var lastReceived: UInt64 = 0, lastDrops: UInt64 = 0
        var pendingDrops: UInt64 = 0, pendingReceived: UInt64 = 0
        var lastAlertNs: UInt64 = 0
        var windowStartWall: UInt64 = 0
        var secondsToTrim = 5
        while !stopRequested.load(ordering: .acquiring) && !sourceEnded.load(ordering: .acquiring) {
            for _ in 0..<10 where !stopRequested.load(ordering: .acquiring) { Timestamp.sleep(milliseconds: 100) }
            // Memory freed by the threads' transient work (proc scans, container lookups, metrics
            // renders) stays in their malloc arenas; returning it every 5 s keeps the resident
            // size near what is live (bench/README.md, "Agent memory": 2.8 of 3.4 MiB after storms).
            secondsToTrim -= 1
            if secondsToTrim == 0 { secondsToTrim = 5; _ = glibcMallocTrim(0) }
            guard let stats = sourceStats?() else { continue }
            let received = stats.records, drops = stats.kernelDrops
            metrics.monitoredRecords.set(Int64(truncatingIfNeeded: received))
            let dR = received &- lastReceived, dD = drops &- lastDrops
            lastReceived = received; lastDrops = drops
            guard threshold > 0, dD > 0 else { continue }
            let ratio = Double(dD) / Double(max(1, dR &+ dD))
            if ratio < threshold { continue }
            if pendingDrops == 0 { windowStartWall = Timestamp.nowNanoseconds() &- 1_000_000_000 }
            pendingDrops &+= dD; pendingReceived &+= dR
            // At most one internal alert every 10 s; what accrues in between is in the next one.
            let now = Timestamp.monotonicNanoseconds()
            if lastAlertNs != 0 && now &- lastAlertNs < 10_000_000_000 { continue }
            lastAlertNs = now
            raiseDropAlert(drops: pendingDrops, received: pendingReceived, since: windowStartWall, stats: stats)
            pendingDrops = 0; pendingReceived = 0
        }
    }

    /// The internal alert for a rejected reload (the previous rules keep running).
    private func raiseReloadAlert(_ f: Reloader.Failure) {
        metrics.internalAlerts.add()
        let first = f.errors.first ?? "unknown error"
        let alert = Alert(timeNs: Timestamp.nowNanoseconds(), rule: "Vigil rules reload failed", priority: .error, source: "internal",
                          hostname: hostname,
                          message: "Vigil rules reload failed (\(f.reason)): \(f.errors.count) error(s), first: \(first); the previous rules keep running",
                          tags: ["vigil", "internal"],
                          outputFields: [("vigil.reload_reason", .string(f.reason)), ("vigil.reload_errors", .uint(UInt64(f.errors.count))),
                                         ("vigil.reload_error", .string(first))])
        dispatcher.submit(alert)
    }

    private func raiseDropAlert(drops: UInt64, received: UInt64, since: UInt64, stats: CaptureStats) {
        metrics.internalAlerts.add()
        let now = Timestamp.nowNanoseconds()
        let ratio = Double(drops) / Double(max(1, drops &+ received))
        let pct = (ratio * 10000).rounded() / 100
        let alert = Alert(timeNs: now, rule: "Vigil dropped events", priority: .critical, source: "internal", hostname: hostname,
                          message: "Vigil dropped events: \(drops) events lost in the kernel (\(pct)% of \(drops &+ received)) between \(RFC3339.string(since)) and \(RFC3339.string(now)); detections may be missed",
                          tags: ["vigil", "internal"],
                          outputFields: [("vigil.dropped_events", .uint(drops)), ("vigil.received_events", .uint(received)),
                                         ("vigil.drop_ratio", .string(String(ratio))),
                                         ("vigil.kernel_ring_full_total", .uint(stats.kernel.ringFull)),
                                         ("vigil.window_start", .string(RFC3339.string(since))),
                                         ("vigil.window_end", .string(RFC3339.string(now)))])
        Log.warning("agent", "events dropped above threshold", [("dropped", String(drops)), ("received", String(received))])
        dispatcher.submit(alert)
    }

    // MARK: metrics and stats

    private func registerMetrics() {
        let r = registry
        metrics.register(in: r)
        enforcementMetrics.register(in: r)
        dispatcher.registerMetrics(in: r)
        enricher?.metrics.register(in: r)
        let ps = processTable.stats
        r.register("vigil_process_table_evictions_total", help: "Process table entries evicted by the size cap.", counter: ps.evictions)
        r.register("vigil_process_table_expired_total", help: "Exited processes removed after their grace period.", counter: ps.expired)
        r.register("vigil_process_table_unknown_total", help: "Events from processes the table did not know.", counter: ps.unknownProcesses)
        r.register("vigil_process_table_fd_drops_total", help: "File descriptors not tracked (per-process cap).", counter: ps.fdDrops)
        r.register("vigil_process_table_seeded_total", help: "Processes loaded from /proc at start-up.", counter: ps.seeded)
        r.register("vigil_process_table_exited_evictions_total",
                   help: "Exited processes removed before their grace period ended (process_table.max_exited reached; oldest exit first).",
                   counter: ps.exitedEvictions)
        r.register("vigil_process_table_exited_entries", help: "Exited processes kept for late lookups (process_table.exit_grace_ms).",
                   gauge: ps.exitedEntries)
        r.register("vigil_process_table_exited_bytes", help: "Estimated bytes held by the exited processes kept (trimmed of fd tables and unneeded environments).",
                   gauge: ps.exitedBytes)
        let stats: @Sendable () -> CaptureStats? = { [weak self] in self?.sourceStats?() }
        r.register("vigil_events_received_total", help: "Events received from the kernel (or the event source), by event type.", type: .counter) {
            (stats()?.recordsByTypeName ?? []).map { MetricSample(labels: [("type", $0.0)], value: Double($0.1)) }
        }
        r.register("vigil_kernel_drops_total", help: "Events lost in the kernel, by reason.", type: .counter) {
            guard let k = stats()?.kernel else { return [] }
            return [MetricSample(labels: [("reason", "ring_full")], value: Double(k.ringFull))]
        }
        r.register("vigil_kernel_filtered_total",
                   help: "Events dropped in the kernel on purpose, by reason (failed: failed calls no loaded rule or state update can use; failed_path: failed opens of paths no loaded rule can match a failure for); filtered, not lost.",
                   type: .counter) {
            guard let k = stats()?.kernel else { return [] }
            return [MetricSample(labels: [("reason", "failed")], value: Double(k.filteredFailed)),
                    MetricSample(labels: [("reason", "failed_path")], value: Double(k.filteredFailedPath))]
        }
        r.register("vigil_kernel_truncated_total", help: "Records whose strings were cut in the kernel.", type: .counter) {
            [MetricSample(value: Double(stats()?.kernel.truncated ?? 0))]
        }
        r.register("vigil_kernel_read_failures_total", help: "Kernel or user memory reads that failed (fields left empty).", type: .counter) {
            [MetricSample(value: Double(stats()?.kernel.readFailed ?? 0))]
        }
        r.register("vigil_capture_decode_errors_total", help: "Records rejected by the reader as malformed.", type: .counter) {
            [MetricSample(value: Double(stats()?.decodeErrors ?? 0))]
        }
        r.register("vigil_capture_bytes_total", help: "Bytes of records received.", type: .counter) {
            [MetricSample(value: Double(stats()?.bytes ?? 0))]
        }
        let health = self.health
        r.register("vigil_ready", help: "1 when programs are attached, rules loaded and the ring polled.", type: .gauge) {
            [MetricSample(value: health.isReady ? 1 : 0)]
        }
        let start = startNs
        r.register("vigil_uptime_seconds", help: "Seconds since the agent started.", type: .gauge) {
            [MetricSample(value: Double((Timestamp.monotonicNanoseconds() &- start) / 1_000_000_000))]
        }
    }

    /// The final stats: `{"stats": {...}}` as one JSON line.
    package func statsLine() -> String {
        let s = sourceStats?() ?? CaptureStats()
        let w = JSONWriter(capacity: 2048)
        w.beginObject(); w.key("stats"); w.beginObject()
        w.key("events_received"); w.beginObject()
        for (name, n) in s.recordsByTypeName { w.key(string: name); w.uint(n) }
        w.endObject()
        w.key("events_total"); w.uint(s.records)
        w.key("kernel_drops"); w.uint(s.kernelDrops)
        w.key("kernel_ring_full"); w.uint(s.kernel.ringFull)
        w.key("kernel_filtered_failed"); w.uint(s.kernel.filteredFailed)
        w.key("kernel_filtered_failed_path"); w.uint(s.kernel.filteredFailedPath)
        w.key("truncated"); w.uint(s.kernel.truncated)
        w.key("decode_errors"); w.uint(s.decodeErrors &+ metrics.decodeErrors.value)
        w.key("alerts"); w.uint(metrics.alerts.value)
        w.key("alerts_by_rule"); w.beginObject()
        var byRule: [String: UInt64] = [:]
        for a in metrics.alertsByRule { byRule[a.rule, default: 0] += a.count }
        for (rule, n) in byRule.sorted(by: { $0.key < $1.key }) { w.key(string: rule); w.uint(n) }
        w.endObject()
        w.key("internal_alerts"); w.uint(metrics.internalAlerts.value)
        w.key("alerts_filtered"); w.uint(dispatcher.filtered.value)
        w.key("alerts_queue_dropped"); w.uint(dispatcher.queueDropped.value)
        w.key("alerts_folded"); w.uint(dispatcher.foldedByRule.values.reduce(0, &+))
        w.key("alerts_rate_limited"); w.uint(dispatcher.rateLimitedByRule.values.reduce(0, &+))
        w.key("sinks"); w.beginObject()
        for sink in dispatcher.sinks {
            w.key(string: sink.name); w.beginObject()
            w.key("sent"); w.uint(sink.stats.sent.value)
            w.key("errors"); w.uint(sink.stats.errors.value)
            w.key("dropped"); w.uint(sink.stats.dropped.value)
            w.endObject()
        }
        w.endObject()
        if let e = enricher?.metrics {
            w.key("late_metadata"); w.uint(e.lateMetadata.value)
            w.key("enrich_queue_drops"); w.uint(e.queueDrops.value)
        }
        w.key("process_table_entries"); w.int(Int64(processTable.count))
        w.key("process_table_evictions"); w.uint(processTable.stats.evictions.value)
        w.key("process_table_exited_evictions"); w.uint(processTable.stats.exitedEvictions.value)
        w.key("reloads"); w.uint(metrics.reloads.value)
        w.key("reload_failures"); w.uint(metrics.reloadFailures.value)
        w.key("uptime_seconds"); w.double(Double((Timestamp.monotonicNanoseconds() &- startNs) / 1_000_000) / 1000)
        w.endObject(); w.endObject()
        return w.text
    }

    // MARK: helpers

    static func resolveHostname(_ config: VigilConfig) -> String {
        for name in ["VIGIL_HOSTNAME", "FALCO_HOSTNAME"] {
            if let v = getenv(name).map({ String(cString: $0) }), !v.isEmpty { return v }
        }
        if !config.k8s.nodeName.isEmpty { return config.k8s.nodeName }
        if let v = getenv("NODE_NAME").map({ String(cString: $0) }), !v.isEmpty { return v }
        return Hostname.current()
    }

    static func containerdRoots(_ root: String) -> [String] {
        let r = root.hasSuffix("/") ? String(root.dropLast()) : root
        if r.contains("io.containerd.runtime") { return [r] }
        return [r + "/io.containerd.runtime.v2.task/k8s.io", r + "/io.containerd.runtime.v2.task/default"]
    }

    static func crioRoots(_ root: String) -> [String] {
        let r = root.hasSuffix("/") ? String(root.dropLast()) : root
        if r.hasSuffix("overlay-containers") { return [r] }
        return [r + "/overlay-containers", "/run/containers/storage/overlay-containers"]
    }
}
