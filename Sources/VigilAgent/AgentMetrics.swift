import Synchronization
import VigilCore
import VigilDecode
import VigilRules

/// The pipeline's own counters (the stages register theirs alongside).
///
/// Everything the hot path touches is a relaxed atomic; labelled alert counts
/// take a lock per alert (alerts are rare next to events).
package final class AgentMetrics: Sendable {
    /// Records that failed to decode.
    package let decodeErrors = Counter()
    /// Records cut short in the kernel (header flag).
    package let truncatedRecords = Counter()
    /// Alerts produced by rules (before flood control).
    package let alerts = Counter()
    /// Internal alerts (dropped events).
    package let internalAlerts = Counter()
    /// Events received as of the drop monitor's last check (it checks once a second).
    package let monitoredRecords = Gauge()
    /// Alerts by rule and priority: one counter each, created under the lock once.
    private let alertCounts = Mutex<[AlertKey: Counter]>([:])
    /// Events whose rules were evaluated; a sample of them is timed.
    package let rulesEvaluated = Counter()
    /// Events whose evaluation was timed (1 in 16), and their total evaluation time.
    package let evalSampleCount = Counter()
    /// Total evaluation time of the timed events, in nanoseconds.
    package let evalSampleNanoseconds = Counter()
    /// Reloads that succeeded / were rejected.
    package let reloads = Counter()
    /// Reloads rejected (the previous set kept running).
    package let reloadFailures = Counter()
    /// Rules in the running set.
    package let rulesLoaded = Gauge()
    /// Entries in the process table (set by the pipeline thread).
    package let processTableSize = Gauge()
    /// Alerts waiting for container metadata (set by the pipeline thread).
    package let alertsHeld = Gauge()
    /// Unix time the running rule set was loaded.
    package let rulesLoadedTime = Gauge()

    struct AlertKey: Hashable, Sendable { let rule: String; let priority: Priority }

    package init() {}

    /// Counts one alert of `rule` at `priority`.
    package func countAlert(rule: String, priority: Priority) {
        alerts.add()
        alertCounter(rule: rule, priority: priority).add()
    }

    /// The counter of alerts of `rule` at `priority` (``countAlert(rule:priority:)`` adds to it
    /// after ``alerts``): a caller counting many alerts of one rule keeps it (no lock and no
    /// hash of the rule's name per alert).
    package func alertCounter(rule: String, priority: Priority) -> Counter {
        alertCounts.withLock { d in
            let key = AlertKey(rule: rule, priority: priority)
            if let c = d[key] { return c }
            let c = Counter()
            d[key] = c
            return c
        }
    }

    /// Alerts by rule and priority.
    package var alertsByRule: [(rule: String, priority: Priority, count: UInt64)] {
        alertCounts.withLock { d in d.map { ($0.key.rule, $0.key.priority, $0.value.value) } }
            .sorted { $0.rule < $1.rule || ($0.rule == $1.rule && $0.priority < $1.priority) }
    }

    /// Registers the pipeline's families.
    package func register(in r: MetricsRegistry) {
        r.register("vigil_decode_errors_total", help: "Records the pipeline could not decode (after the reader's own checks).", counter: decodeErrors)
        r.register("vigil_truncated_records_total", help: "Records whose strings were cut in the kernel.", counter: truncatedRecords)
        r.register("vigil_rule_matches_total", help: "Rule matches (alerts produced by rules before priority filtering and flood control), by rule and priority.", type: .counter) { [self] in
            alertsByRule.map { MetricSample(labels: [("rule", $0.rule), ("priority", $0.priority.falcoName)], value: Double($0.count)) }
        }
        r.register("vigil_internal_alerts_total", help: "Internal alerts raised by the agent (dropped events).", counter: internalAlerts)
        r.register("vigil_rules_evaluated_events_total", help: "Events the rule set was evaluated on.", counter: rulesEvaluated)
        r.register("vigil_rule_evaluation_sampled_seconds_total",
                   help: "Rule evaluation time of the sampled events (1 in 16); divide by vigil_rule_evaluation_samples_total for the mean.",
                   type: .counter) { [self] in [MetricSample(value: Double(evalSampleNanoseconds.value) / 1e9)] }
        r.register("vigil_rule_evaluation_samples_total", help: "Events whose rule evaluation was timed.", counter: evalSampleCount)
        r.register("vigil_alerts_held", help: "Alerts waiting in the holding area for container metadata.", gauge: alertsHeld)
        r.register("vigil_reloads_total", help: "Successful rule and configuration reloads.", counter: reloads)
        r.register("vigil_reload_failures_total", help: "Reloads rejected (the previous rule set kept running).", counter: reloadFailures)
        r.register("vigil_rules_loaded", help: "Rules in the running rule set.", gauge: rulesLoaded)
        r.register("vigil_rules_loaded_timestamp_seconds", help: "When the running rule set was loaded.", gauge: rulesLoadedTime)
        r.register("vigil_process_table_entries", help: "Entries in the process table.", gauge: processTableSize)
    }
}
