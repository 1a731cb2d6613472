import Synchronization
import VigilCore

/// Enforcement counters: `vigil_enforcement_actions_total{rule,action,result}` and the
/// user-space kill latency (syscall exit to `pidfd_send_signal` returning).
package final class EnforcementMetrics: Sendable {
    struct Key: Hashable, Sendable { let rule: String; let action: String; let result: String }
    private let actions = Mutex<[Key: UInt64]>([:])
    /// User-space kills timed, and their summed latency in nanoseconds.
    package let userKills = Counter()
    package let userKillNanoseconds = Counter()
    /// Latencies of the last user-space kills (ring of 4096), for percentiles.
    private let recent = Mutex<(ring: [UInt64], next: Int)>(([], 0))

    package init() {}

    /// Counts one action outcome (`result`: killed, would-kill, rate-limited, refused, failed).
    package func count(rule: String, action: String, result: String) {
        actions.withLock { $0[Key(rule: rule, action: action, result: result), default: 0] += 1 }
    }

    /// The count for one label set.
    package func value(rule: String, action: String = "kill", result: String) -> UInt64 {
        actions.withLock { $0[Key(rule: rule, action: action, result: result)] ?? 0 }
    }

    /// Records one user-space kill latency.
    package func recordLatency(_ ns: UInt64) {
        userKills.add(); userKillNanoseconds.add(ns)
        recent.withLock { r in
            if r.ring.count < 4096 { r.ring.append(ns) } else { r.ring[r.next] = ns }
            r.next = (r.next + 1) % 4096
        }
    }

    /// Recent user-space kill latencies (ns), unsorted.
    package var recentLatencies: [UInt64] { recent.withLock { $0.ring } }

    /// Registers the families.
    package func register(in r: MetricsRegistry) {
        r.register("vigil_enforcement_actions_total", help: "Enforcement outcomes by rule, action and result (killed, would-kill, rate-limited, refused, failed).",
                   type: .counter) { [self] in
            actions.withLock { d in d.sorted { ($0.key.rule, $0.key.result) < ($1.key.rule, $1.key.result) } }
                .map { MetricSample(labels: [("rule", $0.key.rule), ("action", $0.key.action), ("result", $0.key.result)], value: Double($0.value)) }
        }
        r.register("vigil_enforcement_user_kills_total", help: "Kills sent from user space (pidfd).", counter: userKills)
        r.register("vigil_enforcement_user_kill_latency_seconds_sum", help: "Summed time from the syscall's exit to the user-space kill.",
                   type: .counter) { [self] in [MetricSample(value: Double(userKillNanoseconds.value) / 1e9)] }
    }
}
