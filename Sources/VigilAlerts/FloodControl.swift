import VigilCore
import VigilRules

/// Folding of repeated alerts and per-rule token buckets. Nothing is dropped silently: whatever is
/// held back is counted and later reported in a summary alert (see ``FoldConfig`` and
/// ``RateLimitConfig`` for their shape).
///
/// Not thread-safe: the dispatcher uses it in one pass at a time (under its pass lock). Times are CLOCK_MONOTONIC
/// nanoseconds passed in by the caller, so tests can drive it deterministically.
package final class FloodControl {
    /// One alert to emit, possibly a summary.
    package typealias Output = (alert: Alert, summary: AlertSummary?)

    struct FoldKey: Hashable {
        var rule: String
        var container: String
        var key: String
    }

    struct FoldEntry {
        var windowEnd: UInt64
        var count: UInt64 = 0
        var firstNs: UInt64 = 0
        var lastNs: UInt64 = 0
        var last: Alert?
    }

    struct Bucket {
        var tokens: Double
        var lastRefill: UInt64
        var limit: RateLimit
        var held: UInt64 = 0
        var firstNs: UInt64 = 0
        var lastNs: UInt64 = 0
        var last: Alert?
        var summaryDue: UInt64 = 0
    }

    private let config: FloodControlConfig
    // Unchecked exclusivity: one caller at a time (a dispatch pass, under its lock), and no
    // access to these overlaps another (a per-access run-time check for each folded alert).
    @exclusivity(unchecked) private var folds: [FoldKey: FoldEntry] = [:]
    @exclusivity(unchecked) private var buckets: [String: Bucket] = [:]
    private let windowNs: UInt64
    private let summaryIntervalNs: UInt64
    private let clock: @Sendable () -> UInt64

    /// Alerts folded, by rule.
    @exclusivity(unchecked) package private(set) var foldedByRule: [String: UInt64] = [:]
    /// Alerts held back by the rate limit, by rule.
    @exclusivity(unchecked) package private(set) var rateLimitedByRule: [String: UInt64] = [:]
    /// Alerts that passed unfolded because the fold table was full.
    @exclusivity(unchecked) package private(set) var foldTableFull: UInt64 = 0
    /// Summary alerts emitted, by kind.
    @exclusivity(unchecked) package private(set) var summaries: [AlertSummary.Kind: UInt64] = [:]

    /// `wallClock` gives the `time` of summary alerts (epoch ns).
    package init(config: FloodControlConfig, wallClock: @escaping @Sendable () -> UInt64 = { Timestamp.nowNanoseconds() }) {
        self.config = config
        windowNs = UInt64(max(1, config.fold.windowMs)) * 1_000_000
        summaryIntervalNs = UInt64(max(1, config.rateLimit.summaryIntervalMs)) * 1_000_000
        clock = wallClock
    }

    /// Whether any flood control is on.
    package var isActive: Bool { config.fold.enabled || config.rateLimit.enabled }

    /// Fold keys currently tracked.
    package var trackedKeys: Int { folds.count }

    private func key(for alert: Alert) -> FoldKey {
        var container = "host"
        var k = ""
        for (name, v) in alert.outputFields where name == "container.id" {
            if case .string(let s) = v, !s.isEmpty { container = s }
        }
        if config.fold.key.isEmpty {
            k = alert.message
        } else {
            for f in config.fold.key {
                let v = alert.outputFields.first(where: { $0.0 == f })?.1 ?? .none
                switch v {
                case .string(let s): k += s
                case .int(let i): k += String(i)
                case .uint(let u): k += String(u)
                case .bool(let b): k += b ? "true" : "false"
                case .strings(let l): k += l.joined(separator: "\u{1E}")
                case .none: k += "<NA>"
                }
                k += "\u{1F}"
            }
        }
        return FoldKey(rule: alert.rule, container: container, key: k)
    }

    /// Admits `alert` at monotonic time `now`, appending what must go out now to `out`.
    package func admit(_ alert: Alert, now: UInt64, into out: inout [Output]) {
        if config.fold.enabled {
            let k = key(for: alert)
            if let i = folds.index(forKey: k) {
                // Updated in place (the key, with the alert's whole text, is hashed once; the
                // entry is reached once).
                if Self.fold(alert, now: now, into: &folds.values[i]) {
                    foldedByRule[alert.rule, default: 0] += 1
                    return
                }
                // The window ended and was not yet swept: report it, then start a new one.
                let e = folds.values[i]
                if e.count > 0, let s = foldSummary(e) { emit(s, &out) }
                folds.values[i] = FoldEntry(windowEnd: now &+ windowNs)
            } else if folds.count < config.fold.maxKeys {
                folds[k] = FoldEntry(windowEnd: now &+ windowNs)
            } else {
                foldTableFull += 1
            }
        }
        rateLimit(alert, now: now, into: &out)
    }

    /// Folds `alert` into its key's entry when the entry's window is still open; false when it ended.
    @inline(__always)
    private static func fold(_ alert: Alert, now: UInt64, into e: inout FoldEntry) -> Bool {
        guard now < e.windowEnd else { return false }
        if e.count == 0 { e.firstNs = alert.timeNs }
        e.count += 1
        e.lastNs = alert.timeNs
        e.last = alert
        return true
    }

    private func rateLimit(_ alert: Alert, now: UInt64, into out: inout [Output]) {
        guard config.rateLimit.enabled else { out.append((alert, nil)); return }
        var b = buckets[alert.rule] ?? {
            let l = config.rateLimit.limit(for: alert.rule)
            return Bucket(tokens: l.burst, lastRefill: now, limit: l)
        }()
        let elapsed = Double(now &- b.lastRefill) / 1e9
        b.tokens = min(b.limit.burst, b.tokens + elapsed * b.limit.rate)
        b.lastRefill = now
        if b.tokens >= 1 {
            b.tokens -= 1
            buckets[alert.rule] = b
            out.append((alert, nil))
            return
        }
        if b.held == 0 { b.firstNs = alert.timeNs; b.summaryDue = now &+ summaryIntervalNs }
        b.held += 1
        b.lastNs = alert.timeNs
        b.last = alert
        buckets[alert.rule] = b
        rateLimitedByRule[alert.rule, default: 0] += 1
    }

    private func emit(_ s: Output, _ out: inout [Output]) {
        summaries[s.summary!.kind, default: 0] += 1
        out.append(s)
    }

    private func foldSummary(_ e: FoldEntry) -> Output? {
        guard let a = e.last, e.count > 0 else { return nil }
        return summary(of: a, kind: .folded, count: e.count, firstNs: e.firstNs, lastNs: e.lastNs, fieldPrefix: "vigil.folded") {
            "\($0) identical alert\($0 == 1 ? "" : "s") folded between \($1) and \($2)"
        }
    }

    private func rateSummary(_ b: Bucket) -> Output? {
        guard let a = b.last, b.held > 0 else { return nil }
        return summary(of: a, kind: .rateLimited, count: b.held, firstNs: b.firstNs, lastNs: b.lastNs, fieldPrefix: "vigil.rate_limited") {
            "\($0) alert\($0 == 1 ? "" : "s") of this rule held back by the rate limit between \($1) and \($2)"
        }
    }

    /// A summary alert built from the last held alert: `<prefix>_count`, `_window_start`, `_window_end`
    /// fields and the held-back sentence appended to the message.
    private func summary(of last: Alert, kind: AlertSummary.Kind, count: UInt64, firstNs: UInt64, lastNs: UInt64,
                         fieldPrefix: String, sentence: (UInt64, String, String) -> String) -> Output {
        var a = last
        let start = RFC3339.string(firstNs), end = RFC3339.string(lastNs)
        a.timeNs = clock()
        a.message += " (" + sentence(count, start, end) + ")"
        a.outputFields.append((fieldPrefix + "_count", .uint(count)))
        a.outputFields.append((fieldPrefix + "_window_start", .string(start)))
        a.outputFields.append((fieldPrefix + "_window_end", .string(end)))
        return (a, AlertSummary(kind: kind, count: count, windowStartNs: firstNs, windowEndNs: lastNs))
    }

    /// Emits summaries whose window ended by `now` (all pending ones when `force`), and forgets
    /// ended windows.
    package func tick(now: UInt64, force: Bool, into out: inout [Output]) {
        if !folds.isEmpty {
            var ended: [FoldKey] = []
            for (k, e) in folds where force || now >= e.windowEnd {
                if let s = foldSummary(e) { emit(s, &out) }
                ended.append(k)
            }
            for k in ended { folds.removeValue(forKey: k) }
        }
        for (rule, b) in buckets where b.held > 0 && (force || now >= b.summaryDue) {
            if let s = rateSummary(b) { emit(s, &out) }
            var nb = b
            nb.held = 0; nb.last = nil
            buckets[rule] = nb
        }
    }

    /// The earliest monotonic time at which ``tick(now:force:into:)`` has something to do.
    package func nextDeadline() -> UInt64? {
        var d: UInt64?
        for e in folds.values { d = min(d ?? e.windowEnd, e.windowEnd) }
        for b in buckets.values where b.held > 0 { d = min(d ?? b.summaryDue, b.summaryDue) }
        return d
    }
}
