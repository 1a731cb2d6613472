import Synchronization
import VigilCore
import VigilRules

/// An alert after formatting, as handed to sinks. Rendered once by the dispatcher and shared.
package struct FormattedAlert: Sendable {
    /// The alert itself (sinks read rule, priority, time).
    package var alert: Alert
    /// Set on summary alerts (folding, rate limiting, drops).
    package var summary: AlertSummary?
    /// The JSON line without a trailing newline (empty if no sink wants JSON).
    package var json: [UInt8]
    /// The readable text line without a trailing newline (empty if no sink wants text).
    package var text: [UInt8]

    package init(alert: Alert, summary: AlertSummary? = nil, json: [UInt8], text: [UInt8]) {
        self.alert = alert; self.summary = summary; self.json = json; self.text = text
    }

    /// Formats `alert` in both forms with `options`.
    package init(_ alert: Alert, summary: AlertSummary? = nil, options: AlertFormatOptions = AlertFormatOptions()) {
        self.init(alert: alert, summary: summary, json: AlertFormatter.json(alert, summary: summary, options: options),
                  text: AlertFormatter.text(alert))
    }
}

/// Which rendering a sink writes.
package enum AlertLineFormat: String, Sendable {
    case json, text
}

/// Per-sink counters, readable from any thread.
package final class SinkStats: Sendable {
    /// Alerts delivered.
    package let sent = Counter()
    /// Alerts that could not be delivered (after retries).
    package let errors = Counter()
    /// Delivery retries (HTTP attempts after the first, syslog/file reconnects).
    package let retries = Counter()
    /// Alerts dropped because the sink's queue was full (or it was stopped with alerts pending).
    package let dropped = Counter()
    /// Alerts in attempts whose outcome is unknown: the request went out but no answer came back
    /// (a timeout or a dropped connection, HTTP). The receiver may have taken them although they
    /// count as retried or failed, so a retry may deliver them twice (at-least-once delivery):
    /// the receiver holds between `sent` and `sent + unconfirmed` alerts.
    package let unconfirmed = Counter()
    package init() {}
}

/// Lets a backend see whether its sink is shutting down, and sleep interruptibly.
package final class SinkControl: Sendable {
    private let abandon = Atomic<Bool>(false)
    private let reopenFlag = Atomic<Bool>(false)

    package init() {}

    /// True once the sink's stop deadline has passed: give up retrying at once.
    package var shouldAbandon: Bool { abandon.load(ordering: .acquiring) }
    func setAbandon() { abandon.store(true, ordering: .releasing) }

    /// Consumes a pending reopen request.
    package func takeReopenRequest() -> Bool { reopenFlag.exchange(false, ordering: .acquiringAndReleasing) }
    func requestReopen() { reopenFlag.store(true, ordering: .releasing) }

    /// Sleeps up to `ns`, returning early (false) when the sink is being abandoned.
    @discardableResult
    package func sleep(ns: UInt64) -> Bool {
        let end = Timestamp.monotonicNanoseconds() &+ ns
        while !shouldAbandon {
            let now = Timestamp.monotonicNanoseconds()
            if now >= end { return true }
            Timestamp.sleep(nanoseconds: min(end - now, 10_000_000))
        }
        return false
    }
}

/// What a sink does with alerts, on its own worker thread. Implementations are used from that one
/// thread only (plus ``close()`` after the thread ended), so they need no locking of their own.
package protocol AlertSinkBackend: AnyObject {
    /// Most alerts handed to one ``deliver(_:stats:control:)`` call.
    var maxBatch: Int { get }
    /// Delivers a batch, bumping `stats.sent` / `errors` / `retries` for each alert.
    func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl)
    /// Called on the worker thread when idle and before each batch (reopen requests, keep-alives).
    func idle(control: SinkControl)
    /// Releases resources; called once after the worker ended.
    func close()
}

extension AlertSinkBackend {
    package var maxBatch: Int { 64 }
    package func idle(control: SinkControl) {}
    package func close() {}
}

/// A sink: a bounded queue, a worker thread, a backend and its counters.
///
/// ``submit(_:)`` never blocks: when the queue is full the alert is dropped and counted in
/// ``SinkStats/dropped``. A slow or dead destination therefore only fills its own queue.
package final class AlertSink: @unchecked Sendable {
    /// The sink's name in metrics and logs (`stdout`, `file`, `syslog`, `http`, ...).
    package let name: String
    /// Counters.
    package let stats = SinkStats()
    /// The rendering this sink consumes.
    package let format: AlertLineFormat
    let queue: BoundedQueue<FormattedAlert>
    let control = SinkControl()
    private let backend: any AlertSinkBackend
    private var thread: NamedThread?
    private let stopped = Atomic<Bool>(false)
    private let lastDropLogNs = Atomic<UInt64>(0)
    private let bytes: ByteBudget
    private let exited = ExitFlag()

    final class ExitFlag: Sendable {
        let value = Atomic<Bool>(false)
    }
    /// Most bytes of rendered alerts the queue may hold (at least one alert is always accepted).
    package let maxBytes: Int

    /// Bytes of rendered alerts currently queued.
    final class ByteBudget: Sendable {
        let used = Atomic<Int>(0)
    }

    /// Creates and starts a sink whose queue holds at most `capacity` alerts and `maxBytes` bytes.
    package init(name: String, format: AlertLineFormat, capacity: Int, maxBytes: Int = OutputsQueueConfig.defaultMaxBytes,
                backend: any AlertSinkBackend) {
        self.name = name
        self.format = format
        self.backend = backend
        self.maxBytes = max(1, maxBytes)
        queue = BoundedQueue(capacity: capacity)
        bytes = ByteBudget()
        let q = queue, ctl = control, st = stats, b = bytes, done = exited
        let box = UncheckedBox(backend)
        do {
            thread = try NamedThread.start(name: "vigil-\(name)") {
                Self.run(queue: q, backend: box.value, stats: st, control: ctl, bytes: b)
                done.value.store(true, ordering: .releasing)
            }
        } catch {
            // Without its worker nothing would drain the queue: refuse alerts (each counted
            // as dropped, with the usual warning) rather than let the queue fill silently.
            queue.close()
            Log.error("alerts", "alert sink cannot run; its alerts will be counted as dropped", [("sink", name), ("error", error.description)])
        }
    }

    @inline(__always) static func cost(_ a: FormattedAlert) -> Int { a.json.count + a.text.count + 256 }

    private static func run(queue: BoundedQueue<FormattedAlert>, backend: any AlertSinkBackend, stats: SinkStats, control: SinkControl,
                            bytes: ByteBudget) {
        var batch: [FormattedAlert] = []
        batch.reserveCapacity(backend.maxBatch)
        while true {
            batch.removeAll(keepingCapacity: true)
            queue.pop(max: backend.maxBatch, into: &batch, timeoutNs: 500_000_000)
            if !batch.isEmpty {
                var n = 0
                for a in batch { n += cost(a) }
                bytes.used.subtract(n, ordering: .relaxed)
            }
            backend.idle(control: control)
            if batch.isEmpty {
                if queue.isClosed && queue.depth == 0 { break }
                continue
            }
            if control.shouldAbandon {
                stats.dropped.add(UInt64(batch.count))
            } else {
                backend.deliver(batch, stats: stats, control: control)
            }
            queue.markCompleted(batch.count)
        }
    }

    /// Queues `alert` for delivery; false (and counted as dropped) when the queue is full or stopped.
    @discardableResult
    package func submit(_ alert: FormattedAlert) -> Bool {
        let c = Self.cost(alert)
        let before = bytes.used.add(c, ordering: .relaxed).oldValue
        if before == 0 || before + c <= maxBytes {
            if queue.tryPush(alert) { return true }
        }
        bytes.used.subtract(c, ordering: .relaxed)
        stats.dropped.add()
        let now = Timestamp.monotonicNanoseconds()
        let last = lastDropLogNs.load(ordering: .relaxed)
        if now &- last > 10_000_000_000,
           lastDropLogNs.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged {
            Log.warning("alerts", "sink queue full, dropping alerts", [("sink", name), ("dropped_total", String(stats.dropped.value)),
                                                                      ("capacity", String(queue.capacity))])
        }
        return false
    }

    /// Alerts waiting in the queue.
    package var queueDepth: Int { queue.depth }
    /// Queue capacity.
    package var queueCapacity: Int { queue.capacity }
    /// Bytes of rendered alerts waiting in the queue.
    package var queuedBytes: Int { bytes.used.load(ordering: .relaxed) }

    /// Asks the backend to reopen its destination (file sinks: after logrotate moved the file).
    package func reopen() {
        control.requestReopen()
        queue.wake()
    }

    /// Waits until every alert queued before the call has been handled, or `timeoutNs` passes.
    /// Returns true when drained.
    package func flush(timeoutNs: UInt64) -> Bool {
        let target = queue.pushed
        let end = Timestamp.monotonicNanoseconds() &+ timeoutNs
        while queue.completed < target {
            if Timestamp.monotonicNanoseconds() >= end { return false }
            Timestamp.sleep(nanoseconds: 1_000_000)
        }
        return true
    }

    /// Stops accepting alerts, delivers what is queued for up to `timeoutNs`, then abandons the rest
    /// (counted as dropped) and joins the worker. Idempotent.
    package func stop(timeoutNs: UInt64) {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.close()
        if !flush(timeoutNs: timeoutNs) { control.setAbandon() }
        guard let t = thread else { return }
        thread = nil
        // A backend stuck in a blocking write (a stalled stdout pipe) must not hang shutdown:
        // give it a second after abandoning, then leave the thread behind.
        let end = Timestamp.monotonicNanoseconds() &+ 1_000_000_000
        while !exited.value.load(ordering: .acquiring) && Timestamp.monotonicNanoseconds() < end { Timestamp.sleep(nanoseconds: 1_000_000) }
        if exited.value.load(ordering: .acquiring) {
            t.join()
            backend.close()
        } else {
            // Not joined: NamedThread detaches it when released.
            // Whatever is still queued will never be delivered: count it now (the worker, if it
            // ever resumes, counts only the batch it holds).
            var rest: [FormattedAlert] = []
            queue.pop(max: Int.max, into: &rest, timeoutNs: 0)
            stats.dropped.add(UInt64(rest.count))
            queue.markCompleted(rest.count)
            Log.warning("alerts", "sink did not stop in time; leaving its worker behind", [("sink", name)])
        }
    }

    deinit { stop(timeoutNs: 0) }
}

/// Moves a non-Sendable value into a thread closure we own.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
