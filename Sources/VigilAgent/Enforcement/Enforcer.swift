#if canImport(Glibc)
import Glibc
#endif
import CPidfd
import VigilCore
import VigilDecode
import VigilRules
import VigilState
import VigilAlerts
import VigilABI

/// Applies the enforcement action of enforcing rules' matches, on the pipeline thread.
///
/// For each match of an enforcing rule: if the exec program already acted (the record says
/// so), the alert reports that; otherwise the safety checks run (PID 1, kernel threads, Vigil
/// and its parents, the never-list, the per-rule rate limit) and, in `enforce` mode, the process
/// is killed through a pidfd (`pidfd_open` then `pidfd_send_signal(SIGKILL)`), after checking
/// that the pid still names the process that made the event (start time), so a recycled pid is
/// never hit. Both calls return at once: the pipeline never waits. The alert carries
/// `vigil.action`, `vigil.action_result` (`killed`, `would-kill`, `rate-limited`,
/// `refused: REASON`, `failed: ERRNO`), `vigil.action_path` (`kernel`, `user-space`) and, for user-space kills,
/// `vigil.action_latency_us` (syscall exit to kill).
///
/// Not thread-safe: one pipeline thread owns it.
package final class Enforcer: @unchecked Sendable {
    /// The settings in force (swapped by reloads).
    package let slot: SwapSlot<EnforcementSettings>
    package let metrics: EnforcementMetrics
    private var settings: SwapSlot<EnforcementSettings>.Reader
    /// Previous settings, for exec records marked under an older kernel generation.
    private var history: [EnforcementSettings] = []
    private var buckets: [String: (tokens: Double, lastNs: UInt64)] = [:]
    private var suppressed: [String: (count: UInt64, firstNs: UInt64)] = [:]
    private let ticksToNs: UInt64

    /// What the exec program did, from the record (see `vigil_abi.h`, `VIGIL_ENF_*`).
    package enum KernelOutcome: UInt32, Sendable {
        case killed = 1, wouldKill = 2, refusedNever = 3, refusedProtected = 4
        /// The rule's kernel rate limit (the same token bucket numbers as user space's) refused the kill.
        case rateLimited = 5
    }

    package init(slot: SwapSlot<EnforcementSettings>, metrics: EnforcementMetrics) {
        self.slot = slot
        self.metrics = metrics
        self.settings = SwapSlot.Reader(slot)
        history = [settings.value]
        let hz = sysconf(Int32(_SC_CLK_TCK))
        ticksToNs = UInt64(1_000_000_000 / (hz > 0 ? hz : 100))
    }

    /// The mode in force.
    package var mode: Enforcement.Mode { settings.value.config.mode }

    private func refresh() {
        if settings.refresh() {
            history.append(settings.value)
            if history.count > 4 { history.removeFirst(history.count - 4) }
        }
    }

    /// The rule the exec program acted for and what it did, when the record says so.
    package func kernelOutcome(_ ev: Event) -> (rule: String, outcome: KernelOutcome)? {
        guard ev.isExec else { return nil }
        let word = ev.execInfo.enforcement
        guard word != 0, let outcome = KernelOutcome(rawValue: (word >> 8) & 0xf) else { return nil }
        let slotIndex = Int(word & 0xff) - 1
        let gen = UInt16(truncatingIfNeeded: word >> 16)
        refresh()
        guard let s = history.last(where: { $0.kernelGeneration == gen }), slotIndex >= 0, slotIndex < s.kernelSlots.count else { return nil }
        return (s.kernelSlots[slotIndex], outcome)
    }

    /// Acts on a match of enforcing rule `alert.rule` for event `ev` and annotates the alert.
    package func act(_ alert: inout Alert, event ev: Event, process: ProcessInfo?) {
        refresh()
        let s = settings.value
        let cfg = s.config
        let rule = alert.rule
        let action = cfg.action.rawValue
        var result: String
        var path = "user-space"
        var latencyNs: UInt64?
        if let k = kernelOutcome(ev), k.rule == rule {
            path = "kernel"
            switch k.outcome {
            case .killed: result = "killed"
            case .wouldKill: result = "would-kill"
            case .refusedNever: result = "refused: never-list"
            case .refusedProtected: result = "refused: protected process"
            case .rateLimited:
                result = "rate-limited"
                noteRateLimited(rule: rule, nowNs: Timestamp.monotonicNanoseconds())
            }
        } else if cfg.mode == .off {
            return
        } else {
            result = decide(s, rule: rule, ev: ev, process: process, nowNs: Timestamp.monotonicNanoseconds())
            if result == "kill" {
                let (r, t) = kill(pid: ev.pid, startTimeBootNs: process?.startTimeBootNs ?? 0, eventBootNs: ev.timestampBootNs)
                result = r; latencyNs = t
            }
        }
        alert.outputFields.append(("vigil.action", .string(action)))
        alert.outputFields.append(("vigil.action_result", .string(result)))
        alert.outputFields.append(("vigil.action_path", .string(path)))
        if let latencyNs {
            alert.outputFields.append(("vigil.action_latency_us", .uint(latencyNs / 1000)))
            metrics.recordLatency(latencyNs)
        }
        let coarse = result.hasPrefix("refused") ? "refused" : (result.hasPrefix("failed") ? "failed" : result)
        metrics.count(rule: rule, action: action, result: coarse)
    }

    /// The safety checks and the mode: "kill", "would-kill", "rate-limited" or "refused: REASON".
    func decide(_ s: EnforcementSettings, rule: String, ev: Event, process: ProcessInfo?, nowNs: UInt64) -> String {
        let pid = ev.pid
        if pid == 1 { return "refused: pid 1" }
        if s.protectedPIDs.contains(pid) { return "refused: vigil or its parent" }
        if pid == 2 || (process?.ppid == 2 && (process?.exePath.isEmpty ?? true)) { return "refused: kernel thread" }
        let comm = process?.name ?? ev.comm.vigilString
        let exePath = process?.exePath ?? (ev.isExec ? ev.exePath.vigilString : "")
        if let hit = s.neverEntry(comm: comm, exePath: exePath) { return "refused: never-list (\(hit))" }
        // Token bucket per rule.
        let lim = s.config.rateLimit
        var b = buckets[rule] ?? (lim.burst, nowNs)
        b.tokens = min(lim.burst, b.tokens + Double(nowNs &- b.lastNs) / 1e9 * lim.rate)
        b.lastNs = nowNs
        if b.tokens < 1 {
            buckets[rule] = b
            noteRateLimited(rule: rule, nowNs: nowNs)
            return "rate-limited"
        }
        b.tokens -= 1
        buckets[rule] = b
        return s.config.mode == .enforce ? "kill" : "would-kill"
    }

    /// Counts one kill of `rule` the rate limit refused, for the next summary alert.
    private func noteRateLimited(rule: String, nowNs: UInt64) {
        var sup = suppressed[rule] ?? (0, nowNs)
        sup.count += 1
        suppressed[rule] = sup
    }

    /// Kills `pid` through a pidfd after checking it is still the process that made the event.
    /// Returns the result text and, when killed, the time from the event to the signal.
    func kill(pid: UInt32, startTimeBootNs: UInt64, eventBootNs: UInt64) -> (String, UInt64?) {
        let fd = vigil_pidfd_open(pid_t(bitPattern: pid), 0)
        if fd < 0 { return ("failed: " + Self.errnoName(errno), nil) }
        defer { close(fd) }
        // The pidfd now pins this pid's process: if /proc still shows our start time, it is ours.
        guard let st = ProcStat.read(pid: pid) else { return ("failed: ESRCH", nil) }
        if st.flags & ProcStat.kernelThreadFlag != 0 { return ("refused: kernel thread", nil) }
        if startTimeBootNs != 0 {
            let procStart = st.startTicks &* ticksToNs
            let diff = procStart > startTimeBootNs ? procStart - startTimeBootNs : startTimeBootNs - procStart
            if diff > 2 * ticksToNs { return ("failed: ESRCH (pid reused)", nil) }
        }
        if vigil_pidfd_send_signal(fd, SIGKILL, 0) != 0 { return ("failed: " + Self.errnoName(errno), nil) }
        let now = Timestamp.bootNanoseconds()
        return ("killed", now > eventBootNs ? now - eventBootNs : 0)
    }

    static func errnoName(_ e: Int32) -> String {
        switch e {
        case ESRCH: "ESRCH"
        case EPERM: "EPERM"
        case EACCES: "EACCES"
        case EINVAL: "EINVAL"
        case ENOSYS: "ENOSYS"
        case EMFILE: "EMFILE"
        default: "errno \(e)"
        }
    }

    /// Periodic work: one summary alert per rule whose kills the rate limit refused (in the
    /// kernel at exec or in user space), `summary_interval_ms` after the first of them.
    package func tick(nowNs: UInt64, hostname: String, emit: (Alert) -> Void) {
        guard !suppressed.isEmpty else { return }
        refresh()
        let interval = UInt64(settings.value.config.summaryIntervalMs) * 1_000_000
        let action = settings.value.config.action.rawValue
        let wall = Timestamp.nowNanoseconds()
        for (rule, sup) in suppressed.sorted(by: { $0.key < $1.key }) where nowNs &- sup.firstNs >= interval {
            let secs = Double(nowNs &- sup.firstNs) / 1e9
            emit(Alert(timeNs: wall, rule: "Vigil enforcement rate limited", priority: .warning, hostname: hostname,
                       message: "Enforcement rate limit reached: \(sup.count) \(action) action(s) of rule '\(rule)' not taken in the last \(String(format1(secs)))s",
                       tags: ["vigil", "enforcement"],
                       outputFields: [("vigil.rule", .string(rule)), ("vigil.action", .string(action)),
                                      ("vigil.action_result", .string("rate-limited")), ("vigil.rate_limited", .uint(sup.count))]))
            suppressed[rule] = nil
        }
    }

    private func format1(_ v: Double) -> String {
        let t = (v * 10).rounded() / 10
        return t == t.rounded() ? String(Int(t)) : String(t)
    }
}
