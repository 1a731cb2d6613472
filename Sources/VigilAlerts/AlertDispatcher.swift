#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import VigilCore
import VigilRules

/// Fans alerts out to any number of sinks.
///
/// ``submit(_:)`` is cheap and never blocks: it applies the minimum priority and pushes the alert
/// onto the dispatcher's bounded queue (a full queue drops and counts it; the count is reported in
/// a "Vigil alerts dropped" internal alert once there is room). The dispatcher thread applies
/// flood control (``FloodControl``), renders each alert once (JSON and/or text, as the sinks
/// need) and hands it to every sink's own bounded queue; each sink has its own worker thread.
///
/// Call ``stop(timeout:)`` when done: it reports pending summaries, drains the sinks and joins
/// the threads (which keep the dispatcher alive until then).
package final class AlertDispatcher: Sendable {
    /// The sinks, in the order given.
    package let sinks: [AlertSink]
    /// Alerts less severe than this are not emitted.
    package let minimumPriority: Priority

    private let queue: BoundedQueue<Alert>
    private let formatOptions: AlertFormatOptions
    private let needJSON: Bool
    private let needText: Bool
    private let hostname: String
    private let thread: Mutex<NamedThread?>
    private let stopped = Atomic<Bool>(false)
    private let flushRequested = Atomic<UInt64>(0)
    private let flushDone = Atomic<UInt64>(0)

    /// Alerts accepted by ``submit(_:)``.
    package let submitted = Counter()
    /// Alerts below the minimum priority.
    package let filtered = Counter()
    /// Alerts dropped because the dispatcher queue was full.
    package let queueDropped = Counter()
    private let perRule = Mutex<[RuleKey: UInt64]>([:])
    private let flood: Mutex<FloodStats>
    /// Held for the length of a pass (by the dispatcher thread, or by a producer in
    /// ``endOfBatch()``, which only tries it); guards ``passState``.
    private let passLock = MonotonicCondition()
    private let passState: UncheckedBox<PassState>

    struct RuleKey: Hashable { var rule: String; var priority: Priority }
    struct FloodStats: Sendable {
        var folded: [String: UInt64] = [:]
        var rateLimited: [String: UInt64] = [:]
        var summaries: [AlertSummary.Kind: UInt64] = [:]
        var foldTableFull: UInt64 = 0
        var dropReports: UInt64 = 0
    }

    /// Creates and starts a dispatcher over `sinks`.
    ///
    /// - Parameters:
    ///   - capacity: the dispatcher's own queue size (alerts waiting for flood control and fan-out).
    ///   - hostname: used for internal alerts (the drop report); defaults to the node's host name.
    package init(sinks: [AlertSink], minimumPriority: Priority = .debug, floodControl: FloodControlConfig = FloodControlConfig(),
                formatOptions: AlertFormatOptions = AlertFormatOptions(), capacity: Int = 10_000, hostname: String? = nil) {
        self.sinks = sinks
        self.minimumPriority = minimumPriority
        self.formatOptions = formatOptions
        needJSON = sinks.contains { $0.format == .json }
        needText = sinks.contains { $0.format == .text }
        self.hostname = hostname ?? Hostname.current()
        queue = BoundedQueue(capacity: capacity)
        flood = Mutex(FloodStats())
        thread = Mutex(nil)
        passState = UncheckedBox(PassState(config: floodControl))
        do {
            let t = try NamedThread.start(name: "vigil-alerts") { [self] in self.run() }
            thread.withLock { $0 = t }
        } catch {
            // Without its thread nothing would drain the queue: refuse alerts (each counted
            // as a queue drop) rather than let the queue fill silently.
            queue.close()
            Log.error("alerts", "alert dispatcher cannot run; every alert will be counted as dropped", [("error", error.description)])
        }
    }

    /// Builds the sinks `config` enables and a dispatcher over them.
    /// Throws when a sink's settings are invalid (the error names the key).
    package static func make(config: AlertOutputConfig, hostname: String? = nil, stdoutFD: Int32 = 1) throws(AlertConfigError) -> AlertDispatcher {
        try config.validate()
        let cap = config.outputsQueue.capacity
        let mb = config.outputsQueue.maxBytes
        var sinks: [AlertSink] = []
        var built: [AlertSink] = []
        do {
            if config.stdoutOutput.enabled {
                sinks.append(.stdout(config.stdoutOutput, json: config.jsonOutput, capacity: cap, maxBytes: mb, fd: stdoutFD)); built = sinks
            }
            if config.fileOutput.enabled {
                sinks.append(.file(config.fileOutput, json: config.jsonOutput, capacity: cap, maxBytes: mb)); built = sinks
            }
            if config.syslogOutput.enabled {
                sinks.append(try .syslog(config.syslogOutput, json: config.jsonOutput, formatOptions: config.formatOptions, capacity: cap, maxBytes: mb)); built = sinks
            }
            if config.httpOutput.enabled {
                sinks.append(try .http(config.httpOutput, formatOptions: config.formatOptions, capacity: cap, maxBytes: mb)); built = sinks
            }
        } catch {
            for s in built { s.stop(timeoutNs: 0) }
            throw error
        }
        return AlertDispatcher(sinks: sinks, minimumPriority: config.minimumPriority, floodControl: config.floodControl,
                               formatOptions: config.formatOptions, capacity: cap, hostname: hostname)
    }


    /// Queues `alert` for delivery. Never blocks. Returns false when it was filtered by priority
    /// or dropped at a full queue (counted either way).
    @discardableResult
    package func submit(_ alert: Alert) -> Bool { enqueue(alert, wakingDispatcher: true) }

    /// Queues `alert` like ``submit(_:)`` without waking the dispatcher thread: a producer that
    /// works in batches (the pipeline, per ring drain) submits a batch's alerts this way and then
    /// calls ``endOfBatch()`` once. Never blocks.
    @discardableResult
    package func submitInBatch(_ alert: Alert) -> Bool { enqueue(alert, wakingDispatcher: false) }

    /// Filters `alert` by priority and queues it, counting what happened to it.
    private func enqueue(_ alert: Alert, wakingDispatcher: Bool) -> Bool {
        if alert.priority > minimumPriority { filtered.add(); return false }
        let queued = wakingDispatcher ? queue.tryPush(alert) : queue.tryPushQuietly(alert)
        if queued { submitted.add(); return true }
        queueDropped.add()
        return false
    }

    /// Dispatches the alerts queued by ``submitInBatch(_:)`` on the calling thread: flood control,
    /// rendering and the hand-off to every sink's queue, in queue order, exactly as the dispatcher
    /// thread would (one pass at a time: passes are serialized by a lock). A batch producer (the
    /// pipeline, at the end of each ring drain) then needs no wake-up of the dispatcher thread
    /// (a futex hand-off and two context switches per batch), and its alerts reach the sinks at
    /// once instead of after a wake-up. When the dispatcher thread is in a pass right now, it is
    /// asked to take the queued alerts instead (the caller never waits for it). Nothing when none wait.
    package func endOfBatch() {
        guard queue.depth > 0 else { return }
        guard passLock.tryLock() else { queue.wakeIfPending(); return }
        while runPass(passState.value, inline: true) == .more {}
        passLock.unlock()
    }

    /// Passes run by ``endOfBatch()`` on producer threads (for tests and metrics).
    package let inlinePasses = Counter()

    /// The dispatcher thread: waits for alerts (or its next timer tick, a flush request, the
    /// close) and runs passes.
    private func run() {
        while true {
            passLock.lock()
            let nextTick = passState.value.nextTick
            passLock.unlock()
            let now0 = Timestamp.monotonicNanoseconds()
            queue.waitForItems(timeoutNs: nextTick > now0 ? nextTick - now0 : 0)
            passLock.lock()
            let end = runPass(passState.value, inline: false)
            passLock.unlock()
            if end == .closed { break }
        }
    }

    /// How a pass ended.
    enum PassEnd { case more, done, closed }

    /// One pass: takes up to 256 queued alerts, applies flood control, runs the timer tick when due
    /// (and, on the dispatcher thread, flush requests and the final forced tick), hands what goes
    /// out to the sinks. Returns `.more` when a full 256 were taken (more may wait), `.closed`
    /// after the closing pass (the dispatcher thread's last). Called with ``passLock`` held.
    private func runPass(_ st: PassState, inline: Bool) -> PassEnd {
        let fc = st.fc
        st.items.removeAll(keepingCapacity: true)
        st.out.removeAll(keepingCapacity: true)
        queue.popAvailable(max: 256, into: &st.items)
        if inline {
            if st.items.isEmpty { return .done }
            inlinePasses.add()
        }
        let now = Timestamp.monotonicNanoseconds()
        if !st.rules.isEmpty { st.rules.removeAll(keepingCapacity: true) }
        // Alerts per rule, counted by runs of the same rule (one hash per run, not per alert:
        // a storm's alerts come from one rule).
        var run = 0
        for i in st.items.indices {
            let a = st.items[i]
            if run > 0 && (a.priority != st.items[i - 1].priority || a.rule != st.items[i - 1].rule) {
                st.rules[RuleKey(rule: st.items[i - 1].rule, priority: st.items[i - 1].priority), default: 0] += UInt64(run)
                run = 0
            }
            run += 1
            if fc.isActive { fc.admit(a, now: now, into: &st.out) } else { st.out.append((a, nil)) }
        }
        if run > 0, let last = st.items.last {
            st.rules[RuleKey(rule: last.rule, priority: last.priority), default: 0] += UInt64(run)
        }
        if !st.rules.isEmpty {
            perRule.withLock { m in for (k, v) in st.rules { m[k, default: 0] += v } }
        }
        let closing = !inline && queue.isClosed && queue.depth == 0
        let flushReq = inline ? 0 : flushRequested.load(ordering: .acquiring)
        let forced = closing || flushReq > flushDone.load(ordering: .relaxed)
        if forced || now >= st.nextTick {
            fc.tick(now: now, force: forced, into: &st.out)
            st.nextTick = now &+ st.tickNs
            // Report dispatcher-queue drops (at most once a second, and always when forced).
            let dropped = queueDropped.value
            if dropped > st.droppedReported && (forced || now &- st.lastDropCheck >= 1_000_000_000) {
                st.lastDropCheck = now
                let n = dropped - st.droppedReported
                let wall = Timestamp.nowNanoseconds()
                st.out.append(dropReport(n, since: st.dropFirstNs == 0 ? wall : st.dropFirstNs, until: wall))
                st.droppedReported = dropped
                st.dropFirstNs = 0
                flood.withLock { $0.dropReports += 1 }
            } else if dropped > st.droppedReported && st.dropFirstNs == 0 {
                st.dropFirstNs = Timestamp.nowNanoseconds()
            }
        }
        for o in st.out { fanOut(o.alert, o.summary) }
        if !st.items.isEmpty { queue.markCompleted(st.items.count) }
        if fc.isActive && (!st.items.isEmpty || !st.out.isEmpty || forced) {
            flood.withLock {
                $0.folded = fc.foldedByRule
                $0.rateLimited = fc.rateLimitedByRule
                $0.summaries = fc.summaries
                $0.foldTableFull = fc.foldTableFull
            }
        }
        if forced && !closing { flushDone.store(flushReq, ordering: .releasing) }
        if closing { flushDone.store(flushReq, ordering: .releasing); return .closed }
        return st.items.count == 256 ? .more : .done
    }

    /// What passes work with (the flood control, the timer, the drop report's state, scratch
    /// arrays), used by one pass at a time under ``passLock``.
    final class PassState: @unchecked Sendable {
        let fc: FloodControl
        let tickNs: UInt64
        // Unchecked exclusivity: used by one pass at a time, under ``AlertDispatcher/passLock``.
        @exclusivity(unchecked) var nextTick: UInt64
        @exclusivity(unchecked) var items: [Alert] = []
        @exclusivity(unchecked) var out: [FloodControl.Output] = []
        @exclusivity(unchecked) var droppedReported: UInt64 = 0
        @exclusivity(unchecked) var dropFirstNs: UInt64 = 0
        @exclusivity(unchecked) var lastDropCheck: UInt64 = 0
        /// Alerts per rule in one pass (kept across passes: no dictionary allocated per pass).
        @exclusivity(unchecked) var rules: [RuleKey: UInt64] = [:]

        init(config cfg: FloodControlConfig) {
            fc = FloodControl(config: cfg)
            var window = UInt64(max(1, cfg.fold.windowMs)) * 1_000_000
            if cfg.rateLimit.enabled { window = min(window, UInt64(max(1, cfg.rateLimit.summaryIntervalMs)) * 1_000_000) }
            tickNs = min(100_000_000, max(5_000_000, window / 10))
            nextTick = Timestamp.monotonicNanoseconds() &+ tickNs
            items.reserveCapacity(256)
        }
    }

    private func dropReport(_ n: UInt64, since: UInt64, until: UInt64) -> FloodControl.Output {
        let a = Alert(timeNs: until, rule: "Vigil alerts dropped", priority: .critical, source: "internal", hostname: hostname,
                      message: "\(n) alert\(n == 1 ? " was" : "s were") dropped at the full alert dispatcher queue between \(RFC3339.string(since)) and \(RFC3339.string(until))",
                      tags: ["vigil", "internal"],
                      outputFields: [("vigil.dropped_count", .uint(n)), ("vigil.dropped_window_start", .string(RFC3339.string(since))),
                                     ("vigil.dropped_window_end", .string(RFC3339.string(until)))])
        return (a, AlertSummary(kind: .dropped, count: n, windowStartNs: since, windowEndNs: until))
    }

    private func fanOut(_ alert: Alert, _ summary: AlertSummary?) {
        let f = FormattedAlert(alert: alert, summary: summary,
                               json: needJSON ? AlertFormatter.json(alert, summary: summary, options: formatOptions) : [],
                               text: needText ? AlertFormatter.text(alert) : [])
        for s in sinks { s.submit(f) }
    }

    /// Waits until everything submitted before the call has been through flood control, pending
    /// summaries have been emitted, and every sink has handled its queue; or until `timeout`.
    /// Returns true when everything was flushed in time.
    @discardableResult
    package func flush(timeout: Duration = .seconds(5)) -> Bool {
        let end = Timestamp.monotonicNanoseconds() &+ Self.ns(timeout)
        let target = queue.pushed
        while queue.completed < target {
            if Timestamp.monotonicNanoseconds() >= end { return false }
            if stopped.load(ordering: .relaxed) { break }
            Timestamp.sleep(nanoseconds: 1_000_000)
        }
        if !stopped.load(ordering: .relaxed) {
            let gen = flushRequested.add(1, ordering: .acquiringAndReleasing).newValue
            queue.wake()
            while flushDone.load(ordering: .acquiring) < gen {
                if Timestamp.monotonicNanoseconds() >= end { return false }
                if stopped.load(ordering: .relaxed) { break }
                Timestamp.sleep(nanoseconds: 1_000_000)
            }
        }
        var ok = true
        for s in sinks {
            let now = Timestamp.monotonicNanoseconds()
            if now >= end || !s.flush(timeoutNs: end - now) { ok = false }
        }
        return ok
    }

    /// Stops accepting alerts, emits pending summaries, lets sinks deliver for up to `timeout`
    /// (what is left is counted as dropped), and joins all threads. Idempotent.
    package func stop(timeout: Duration = .seconds(5)) {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let end = Timestamp.monotonicNanoseconds() &+ Self.ns(timeout)
        queue.close()
        if let t = thread.withLock({ t -> NamedThread? in let v = t; t = nil; return v }) { t.join() }
        for s in sinks {
            let now = Timestamp.monotonicNanoseconds()
            s.stop(timeoutNs: now < end ? end - now : 0)
        }
    }

    /// Asks file sinks to reopen their files (call from the agent's SIGUSR1 handling).
    package func reopen() {
        for s in sinks { s.reopen() }
    }

    static func ns(_ d: Duration) -> UInt64 {
        let (s, a) = d.components
        if s < 0 { return 0 }
        return UInt64(s) &* 1_000_000_000 &+ UInt64(a / 1_000_000_000)
    }

    /// Alerts folded so far, by rule.
    package var foldedByRule: [String: UInt64] { flood.withLock { $0.folded } }
    /// Alerts held back by rate limits so far, by rule.
    package var rateLimitedByRule: [String: UInt64] { flood.withLock { $0.rateLimited } }
    /// Summary alerts emitted, by kind (`folded`, `rate_limited`, `dropped`).
    package var summariesByKind: [String: UInt64] {
        flood.withLock { f in
            var m = Dictionary(uniqueKeysWithValues: f.summaries.map { ($0.key.rawValue, $0.value) })
            if f.dropReports > 0 { m["dropped"] = f.dropReports }
            return m
        }
    }
    /// Alerts accepted, by rule and priority.
    package var alertsByRule: [(rule: String, priority: Priority, count: UInt64)] {
        perRule.withLock { m in m.map { (rule: $0.key.rule, priority: $0.key.priority, count: $0.value) } }
    }

    /// Registers the dispatcher's and its sinks' metric families in `registry`:
    /// `vigil_alerts_total{rule,priority}`, `vigil_alerts_filtered_total`,
    /// `vigil_alerts_queue_dropped_total`, `vigil_alerts_queue_depth`, `vigil_alerts_folded_total{rule}`,
    /// `vigil_alerts_rate_limited_total{rule}`, `vigil_alert_summaries_total{kind}`,
    /// `vigil_alerts_fold_table_full_total`, and per sink `vigil_alert_sink_sent_total{sink}`,
    /// `vigil_alert_sink_errors_total{sink}`, `vigil_alert_sink_retries_total{sink}`,
    /// `vigil_alert_sink_dropped_total{sink}`, `vigil_alert_sink_unconfirmed_total{sink}`, `vigil_alert_sink_queue_depth{sink}`,
    /// `vigil_alert_sink_queue_capacity{sink}`, `vigil_alert_sink_queue_bytes{sink}`.
    package func registerMetrics(in registry: MetricsRegistry) {
        registry.register("vigil_alerts_total", help: "Alerts accepted for delivery, by rule and priority.", type: .counter) { [self] in
            alertsByRule.sorted { ($0.rule, $0.priority.rawValue) < ($1.rule, $1.priority.rawValue) }
                .map { MetricSample(labels: [("rule", $0.rule), ("priority", $0.priority.falcoName)], value: Double($0.count)) }
        }
        registry.register("vigil_alerts_filtered_total", help: "Alerts below the minimum priority.", counter: filtered)
        registry.register("vigil_alerts_queue_dropped_total", help: "Alerts dropped at the full dispatcher queue.", counter: queueDropped)
        registry.register("vigil_alerts_queue_depth", help: "Alerts waiting in the dispatcher queue.", type: .gauge) { [self] in
            [MetricSample(value: Double(queue.depth))]
        }
        registry.register("vigil_alerts_folded_total", help: "Repeated alerts folded into summaries, by rule.", type: .counter) { [self] in
            foldedByRule.sorted { $0.key < $1.key }.map { MetricSample(labels: [("rule", $0.key)], value: Double($0.value)) }
        }
        registry.register("vigil_alerts_rate_limited_total", help: "Alerts held back by rate limits (reported in summaries), by rule.", type: .counter) { [self] in
            rateLimitedByRule.sorted { $0.key < $1.key }.map { MetricSample(labels: [("rule", $0.key)], value: Double($0.value)) }
        }
        registry.register("vigil_alert_summaries_total", help: "Summary alerts emitted, by kind.", type: .counter) { [self] in
            summariesByKind.sorted { $0.key < $1.key }.map { MetricSample(labels: [("kind", $0.key)], value: Double($0.value)) }
        }
        registry.register("vigil_alerts_fold_table_full_total", help: "Alerts passed unfolded because the fold table was full.", type: .counter) { [self] in
            [MetricSample(value: Double(flood.withLock { $0.foldTableFull }))]
        }
        let sinks = self.sinks
        func perSink(_ name: String, _ help: String, _ type: MetricType, _ value: @escaping @Sendable (AlertSink) -> Double) {
            registry.register(name, help: help, type: type) { sinks.map { MetricSample(labels: [("sink", $0.name)], value: value($0)) } }
        }
        perSink("vigil_alert_sink_sent_total", "Alerts delivered, per sink.", .counter) { Double($0.stats.sent.value) }
        perSink("vigil_alert_sink_errors_total", "Alerts that could not be delivered, per sink.", .counter) { Double($0.stats.errors.value) }
        perSink("vigil_alert_sink_retries_total", "Delivery retries, per sink.", .counter) { Double($0.stats.retries.value) }
        perSink("vigil_alert_sink_dropped_total", "Alerts dropped at a full sink queue, per sink.", .counter) { Double($0.stats.dropped.value) }
        perSink("vigil_alert_sink_unconfirmed_total",
                "Alerts sent in requests that got no answer (timeout, dropped connection): the receiver may hold them, and a retry may deliver them twice.",
                .counter) { Double($0.stats.unconfirmed.value) }
        perSink("vigil_alert_sink_queue_depth", "Alerts waiting in the sink queue.", .gauge) { Double($0.queueDepth) }
        perSink("vigil_alert_sink_queue_capacity", "Capacity of the sink queue.", .gauge) { Double($0.queueCapacity) }
        perSink("vigil_alert_sink_queue_bytes", "Bytes of rendered alerts waiting in the sink queue.", .gauge) { Double($0.queuedBytes) }
    }
}
