import VigilABI
import VigilCore
import VigilDecode
import VigilState
import VigilRules
import VigilAlerts

/// The per-event path: decode → process table → container → rules → alert dispatcher.
///
/// Owned by one thread (the capture reader's). ``process(_:)`` runs for every
/// record: no allocation unless an alert fires or state changes, no
/// existentials, no locks but the rule-set generation check (one atomic load).
/// `@unchecked Sendable`: it is handed to the reader thread and then used from
/// that one thread only (``activeGeneration`` and ``metrics`` are atomics).
package final class Pipeline: @unchecked Sendable {
    /// Process state (owned by the pipeline thread).
    package let processes: ProcessTable
    /// Container and pod identity; nil disables enrichment (every event is the host's).
    package let enricher: ContainerEnricher?
    /// Where alerts go.
    package let dispatcher: AlertDispatcher
    /// The running rule set, swapped by reloads.
    package let ruleSlot: SwapSlot<RuleSet>
    /// Counters.
    package let metrics: AgentMetrics
    /// Acts on enforcing rules' matches (nil: nothing enforces).
    package let enforcer: Enforcer?
    private let hostname: String

    /// Per-event state, outside the object's stored properties so the event path pays
    /// no dynamic exclusivity checks.
    private struct Hot {
        var rules: SwapSlot<RuleSet>.Reader
        /// `rules.value` (kept alive by `rules`), used without a retain per event.
        var ruleSet: Unmanaged<RuleSet>
        /// Event types some enabled rule evaluates (indexed by raw value).
        var wanted: [Bool]
        var sampleCountdown: UInt32 = 16
        /// Whether ``context`` is initialized.
        var contextReady = false
        /// What the process table applied for the event being processed.
        var applied = ProcessTable.ApplyResult()
    }
    private let hot: UnsafeMutablePointer<Hot>
    /// The one event context, refilled in place for every evaluated event (no copy of it
    /// or of what the process table returned, no reference counting for a run of events
    /// from one process). Its contents are valid during ``process(_:)`` only.
    private let context: UnsafeMutablePointer<EventContext>
    private let scratch: RuleScratch
    /// Counted for every evaluated event (kept alive by ``metrics``; used without a retain per event).
    private let rulesEvaluated: Unmanaged<Counter>
    private var holding: MetadataHoldingArea<Alert>
    /// Per-thread front cache of container lookups (no lock on a hit).
    private let containers: ContainerLookupCache?
    /// ``containers`` for the event path (kept alive by it; used without a retain per event).
    private let containerCache: Unmanaged<ContainerLookupCache>?
    private var bootToWall: UInt64
    private let health: HealthState?
    private var sawBatch = false
    /// Alerts submitted since the last batch ended.
    private var alertsSinceWake = 0
    /// The rule and priority of the last alert, and its counter in ``metrics``.
    private var lastAlertRule = ""
    private var lastAlertPriority: Priority? = nil
    private var lastAlertCounter: Counter? = nil
    private var lastTickNs: UInt64 = 0
    /// The rule-set generation the pipeline evaluates with (read by the reloader).
    package let activeGeneration = Gauge()

    /// Creates a pipeline. `metadataWaitNs` bounds how long an alert waits for its container's metadata.
    package init(processes: ProcessTable, enricher: ContainerEnricher?, dispatcher: AlertDispatcher,
                ruleSlot: SwapSlot<RuleSet>, metrics: AgentMetrics, metadataWaitNs: UInt64, hostname: String,
                health: HealthState? = nil, enforcer: Enforcer? = nil) {
        self.health = health
        self.enforcer = enforcer
        self.hostname = hostname
        self.processes = processes
        self.enricher = enricher
        let containers = enricher.map(ContainerLookupCache.init)
        self.containers = containers
        self.containerCache = containers.map { .passUnretained($0) }
        self.dispatcher = dispatcher
        self.ruleSlot = ruleSlot
        self.metrics = metrics
        let rules = SwapSlot.Reader(ruleSlot)
        self.scratch = rules.value.makeScratch(hostname: hostname)
        self.hot = .allocate(capacity: 1)
        hot.initialize(to: Hot(rules: rules, ruleSet: .passUnretained(rules.value), wanted: Self.typeTable(rules.value)))
        self.context = .allocate(capacity: 1)
        self.rulesEvaluated = .passUnretained(metrics.rulesEvaluated)
        self.holding = MetadataHoldingArea(configuration: .init(maxWaitNs: metadataWaitNs, retryIntervalNs: min(50_000_000, max(1_000_000, metadataWaitNs / 4))),
                                           metrics: enricher?.metrics ?? EnrichmentMetrics())
        self.bootToWall = Timestamp.bootToWallOffset()
        activeGeneration.set(Int64(ruleSlot.generation))
    }

    deinit {
        if hot.pointee.contextReady { context.deinitialize(count: 1) }
        context.deallocate()
        hot.deinitialize(count: 1); hot.deallocate()
    }

    /// Processes one raw record (valid only during the call).
    @inline(__always)
    package func process(_ record: UnsafeRawBufferPointer) {
        switch Event.decode(record) {
        case .success(let ev): process(ev)
        case .failure: metrics.decodeErrors.add()
        }
    }

    /// Processes one decoded event.
    @inline(__always)
    package func process(_ ev: Event) {
        let type = ev.type
        if ev.headerFlags != 0 && ev.isTruncated { metrics.truncatedRecords.add() }
        let h = hot
        // Filled in place (no result built and copied per event); after the context took
        // its process and fd it holds the previous event's until the next event's replace them.
        processes.apply(ev, into: &h.pointee.applied)

        if h.pointee.rules.refresh() { rulesChanged() }
        if !h.pointee.wanted[Int(type.rawValue) & (EventType.count - 1)] {
            // Still learn the container of exec'd processes (in-band cgroup path), cheaply.
            if ev.isExec, let containers = containerCache {
                _ = containers._withUnsafeGuaranteedRef { $0.container(forCgroupID: ev.cgroupID, cgroupPathHint: ev.cgroupPath, pid: ev.pid) }
            }
            return
        }
        let lookup: ContainerLookup
        if let containers = containerCache {
            lookup = containers._withUnsafeGuaranteedRef { $0.container(forCgroupID: ev.cgroupID, cgroupPathHint: ev.cgroupPath, pid: ev.pid) }
        } else {
            lookup = .known(.host)
        }
        let c = context
        let wallTimeNs = ev.timestampBootNs &+ bootToWall
        if h.pointee.contextReady {
            c.pointee.refill(event: ev, applied: &h.pointee.applied, lookup: lookup, wallTimeNs: wallTimeNs)
        } else {
            c.initialize(to: EventContext(event: ev, applied: h.pointee.applied, container: lookup.info, processes: processes,
                                          wallTimeNs: wallTimeNs))
            h.pointee.contextReady = true
        }
        let cp = UnsafePointer(c)
        rulesEvaluated._withUnsafeGuaranteedRef { $0.add() }
        h.pointee.sampleCountdown &-= 1
        let timed = h.pointee.sampleCountdown == 0
        let t0 = timed ? Timestamp.monotonicNanoseconds() : 0
        var sawEnforcing = false
        // The rule set stays referenced by the reader for the whole event (no retain of it).
        h.pointee.ruleSet._withUnsafeGuaranteedRef { rs in
            // Fields extracted to match are reused (not extracted again) to render the alerts.
            rs.match(cp, scratch: scratch) { k in
                var alert = rs.alert(rule: k, cp, scratch: scratch)
                if let enforcer, rs.rules[k].enforcing {
                    sawEnforcing = true
                    enforcer.act(&alert, event: ev, process: cp.pointee.process)
                }
                emit(alert, lookup: lookup, cgroupID: ev.cgroupID, pid: ev.pid)
            }
            if !sawEnforcing, ev.isExec, let enforcer, ev.execInfo.enforcement != 0 {
                kernelActedWithoutMatch(ev, ctx: cp, rs: rs, enforcer: enforcer, lookup: lookup)
            }
        }
        if timed {
            h.pointee.sampleCountdown = 16
            metrics.evalSampleNanoseconds.add(Timestamp.monotonicNanoseconds() &- t0)
            metrics.evalSampleCount.add()
        }
    }

    /// The exec program acted for a rule user space did not match (its kernel facts are a
    /// slightly different reading, e.g. the container test): the kill still gets its alert.
    @inline(never)
    private func kernelActedWithoutMatch(_ ev: Event, ctx: UnsafePointer<EventContext>, rs: RuleSet, enforcer: Enforcer,
                                         lookup: ContainerLookup) {
        guard let (name, _) = enforcer.kernelOutcome(ev), let k = rs.rules.firstIndex(where: { $0.name == name }) else { return }
        var alert = rs.alert(rule: k, ctx, scratch: scratch)
        enforcer.act(&alert, event: ev, process: ctx.pointee.process)
        emit(alert, lookup: lookup, cgroupID: ev.cgroupID, pid: ev.pid)
    }

    @inline(never)
    private func emit(_ alert: Alert, lookup: ContainerLookup, cgroupID: UInt64, pid: UInt32) {
        // Counted like ``AgentMetrics/countAlert(rule:priority:)``, the counter of the last
        // alert's rule and priority kept (a String comparison, equal storage at once, instead
        // of a lock and a hash of the name per alert).
        if alert.priority != lastAlertPriority || alert.rule != lastAlertRule {
            lastAlertCounter = metrics.alertCounter(rule: alert.rule, priority: alert.priority)
            lastAlertRule = alert.rule
            lastAlertPriority = alert.priority
        }
        metrics.alerts.add()
        lastAlertCounter?.add()
        if lookup.isComplete || !holding.hold(alert, cgroupID: cgroupID, pid: pid, nowNs: Timestamp.monotonicNanoseconds()) {
            // Dispatched at the end of the batch (``batchEnded()``), not per alert.
            dispatcher.submitInBatch(alert)
            alertsSinceWake &+= 1
        }
    }

    /// Periodic work on the pipeline thread (call every few milliseconds and when idle):
    /// releases held alerts, expires exited processes, updates gauges.
    package func tick() {
        if !holding.isEmpty, let enricher {
            holding.poll(nowNs: Timestamp.monotonicNanoseconds(), enricher: enricher) { alert, lookup, _ in
                dispatcher.submit(Self.withContainer(alert, lookup.info))
            }
        }
        enforcer?.tick(nowNs: Timestamp.monotonicNanoseconds(), hostname: hostname) { dispatcher.submit($0) }
        processes.expire(now: Timestamp.bootNanoseconds())
        metrics.processTableSize.set(Int64(processes.count))
        metrics.alertsHeld.set(Int64(holding.count))
        if hot.pointee.rules.refresh() { rulesChanged() }
    }

    /// A new rule set is in: rebuild the per-type table (once per reload, off the per-event path).
    private func rulesChanged() {
        hot.pointee.wanted = Self.typeTable(hot.pointee.rules.value)
        hot.pointee.ruleSet = .passUnretained(hot.pointee.rules.value)
        activeGeneration.set(Int64(ruleSlot.generation))
    }

    static func typeTable(_ rs: RuleSet) -> [Bool] {
        var t = [Bool](repeating: false, count: EventType.count)
        for e in rs.requiredEventTypes { t[Int(e.rawValue) & (EventType.count - 1)] = true }
        return t
    }

    /// Sets the offset from the records' boot clock to wall-clock time (the source's).
    package func setClockOffset(_ ns: UInt64) { bootToWall = ns }

    /// End of a batch of records (a ring-buffer drain, or a quiet poll): dispatches the batch's
    /// alerts on this thread (``AlertDispatcher/endOfBatch()``: flood control and the hand-off to
    /// the sinks' queues, no wake-up of the dispatcher thread), ticks at most every 5 ms.
    package func batchEnded() {
        if alertsSinceWake > 0 {
            alertsSinceWake = 0
            dispatcher.endOfBatch()
        }
        if !sawBatch { sawBatch = true; health?.setFirstPollDone() }
        let now = Timestamp.monotonicNanoseconds()
        if now &- lastTickNs >= 5_000_000 { lastTickNs = now; tick() }
    }

    /// Releases everything held (shutdown).
    package func flush() {
        if alertsSinceWake > 0 { alertsSinceWake = 0; dispatcher.endOfBatch() }
        if let enricher {
            holding.flush(enricher: enricher) { alert, lookup, _ in dispatcher.submit(Self.withContainer(alert, lookup.info)) }
        }
    }

    /// Alerts held in the metadata holding area.
    package var heldAlerts: Int { holding.count }

    /// `alert` with its container and pod output fields refreshed from `c` (for alerts held
    /// while the metadata was fetched).
    static func withContainer(_ alert: Alert, _ c: ContainerInfo?) -> Alert {
        guard let c else { return alert }
        var a = alert
        func s(_ v: String?) -> AlertFieldValue { v.map { .string($0) } ?? .none }
        for i in a.outputFields.indices {
            let key = a.outputFields[i].0
            let v: AlertFieldValue?
            switch key {
            case "container.id": v = .string(c.id)
            case "container.full_id": v = .string(c.fullID)
            case "container.name": v = s(c.name)
            case "container.image": v = s(c.image)
            case "container.image.repository": v = s(c.imageRepository)
            case "container.image.tag": v = s(c.imageTag)
            case "container.image.digest": v = s(c.imageDigest)
            case "k8s.pod.name": v = s(c.pod?.name)
            case "k8s.ns.name": v = s(c.pod?.namespace)
            case "k8s.pod.uid": v = s(c.pod?.uid ?? c.podUID)
            default: v = nil
            }
            if let v { a.outputFields[i].1 = v }
        }
        return a
    }
}
