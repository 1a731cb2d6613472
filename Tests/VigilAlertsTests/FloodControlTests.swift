import Foundation
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

@Suite struct FloodControlTests {
    static let ms: UInt64 = 1_000_000

    @Test func foldsIdenticalAlertsPerRuleAndContainer() throws {
        let fc = FloodControl(config: FloodControlConfig(fold: FoldConfig(enabled: true, windowMs: 1000)), wallClock: { 42 })
        var out: [FloodControl.Output] = []
        // 10 identical alerts in container c1, 1 in c2, one with different text, one of another rule.
        for i in 0..<10 { fc.admit(makeAlert(timeNs: 1000 + UInt64(i), container: "c1"), now: UInt64(i) * Self.ms, into: &out) }
        fc.admit(makeAlert(container: "c2"), now: 20 * Self.ms, into: &out)
        fc.admit(makeAlert(message: "other text", container: "c1"), now: 21 * Self.ms, into: &out)
        fc.admit(makeAlert(rule: "Other rule", container: "c1"), now: 22 * Self.ms, into: &out)
        #expect(out.count == 4)
        #expect(out.allSatisfy { $0.summary == nil })
        out.removeAll()
        fc.tick(now: 500 * Self.ms, force: false, into: &out)
        #expect(out.isEmpty)                 // window still open
        fc.tick(now: 1001 * Self.ms, force: false, into: &out)
        #expect(out.count == 1)
        let s = try #require(out.first)
        #expect(s.summary == AlertSummary(kind: .folded, count: 9, windowStartNs: 1001, windowEndNs: 1009))
        #expect(s.alert.rule == "Test rule" && s.alert.priority == .warning && s.alert.timeNs == 42)
        #expect(s.alert.message.hasSuffix("(9 identical alerts folded between 1970-01-01T00:00:00.000001001Z and 1970-01-01T00:00:00.000001009Z)"))
        let d = try parseJSON(AlertFormatter.json(s.alert, summary: s.summary))
        let f = try #require(d["output_fields"] as? [String: Any])
        #expect((f["vigil.folded_count"] as? NSNumber)?.intValue == 9)
        #expect(f["vigil.folded_window_start"] as? String == "1970-01-01T00:00:00.000001001Z")
        #expect(f["container.id"] as? String == "c1")
        #expect((d["vigil"] as? [String: Any])?["summary"] as? String == "folded")
        #expect(fc.foldedByRule == ["Test rule": 9])
        #expect(fc.trackedKeys == 3)  // the other three windows are still open
        // A new window starts: the next one goes out at once.
        out.removeAll()
        fc.admit(makeAlert(container: "c1"), now: 1100 * Self.ms, into: &out)
        #expect(out.count == 1 && out[0].summary == nil)
    }

    @Test func configurableKeyAndForcedSummary() {
        let fc = FloodControl(config: FloodControlConfig(fold: FoldConfig(enabled: true, windowMs: 60_000, key: ["proc.name"])))
        var out: [FloodControl.Output] = []
        // Different texts, same proc.name: folded.
        for i in 0..<5 { fc.admit(makeAlert(message: "pid \(i)"), now: UInt64(i), into: &out) }
        #expect(out.count == 1)
        out.removeAll()
        fc.tick(now: 10, force: true, into: &out)  // flush/stop
        #expect(out.count == 1 && out[0].summary?.count == 4)
    }

    @Test func tokenBucketHoldsBackAndReports() throws {
        let rl = RateLimitConfig(enabled: true, rate: 10, burst: 5, rules: ["Quiet rule": RateLimit(rate: 1, burst: 1)], summaryIntervalMs: 1000)
        let fc = FloodControl(config: FloodControlConfig(fold: FoldConfig(enabled: false), rateLimit: rl))
        var out: [FloodControl.Output] = []
        for i in 0..<20 { fc.admit(makeAlert(message: "m\(i)", timeNs: UInt64(i)), now: 0, into: &out) }
        #expect(out.count == 5)  // the burst
        for i in 0..<3 { fc.admit(makeAlert(rule: "Quiet rule", message: "q\(i)"), now: 0, into: &out) }
        #expect(out.count == 6)
        // 100 ms later one token is back (10/s).
        fc.admit(makeAlert(message: "later"), now: 100 * Self.ms, into: &out)
        #expect(out.count == 7)
        #expect(fc.rateLimitedByRule == ["Test rule": 15, "Quiet rule": 2])
        out.removeAll()
        fc.tick(now: 999 * Self.ms, force: false, into: &out)
        #expect(out.isEmpty)
        fc.tick(now: 1000 * Self.ms, force: false, into: &out)
        #expect(out.count == 2)
        let s = try #require(out.first { $0.alert.rule == "Test rule" })
        #expect(s.summary?.kind == .rateLimited && s.summary?.count == 15)
        #expect(s.summary?.windowStartNs == 5 && s.summary?.windowEndNs == 19)
        #expect(s.alert.outputFields.contains { $0.0 == "vigil.rate_limited_count" && $0.1 == .uint(15) })
        #expect(out.first { $0.alert.rule == "Quiet rule" }?.summary?.count == 2)
        out.removeAll()
        fc.tick(now: 5000 * Self.ms, force: true, into: &out)
        #expect(out.isEmpty)  // nothing more held back
    }

    @Test func dispatcherFoldsAndEmitsSummaryAfterWindow() throws {
        let rec = RecordingBackend()
        let sink = AlertSink(name: "rec", format: .json, capacity: 10_000, backend: rec)
        let d = AlertDispatcher(sinks: [sink], floodControl: FloodControlConfig(fold: FoldConfig(enabled: true, windowMs: 300)))
        for i in 0..<100 { d.submit(makeAlert(timeNs: 1_000 + UInt64(i), container: "abc")) }
        #expect(waitUntil(2) { rec.alerts.count >= 1 })
        #expect(rec.alerts.first?.summary == nil)
        // The summary follows on its own when the window ends.
        #expect(waitUntil(3) { rec.alerts.count == 2 })
        let s = try #require(rec.alerts.last)
        #expect(s.summary?.count == 99)
        let j = try parseJSON(s.json)
        #expect(((j["output_fields"] as? [String: Any])?["vigil.folded_count"] as? NSNumber)?.intValue == 99)
        // Pending folds are reported on flush and stop too.
        for _ in 0..<10 { d.submit(makeAlert(message: "again", container: "abc")) }
        #expect(d.flush(timeout: .seconds(5)))
        #expect(rec.alerts.count == 4)
        #expect(rec.alerts[3].summary?.count == 9)
        d.submit(makeAlert(message: "x"))
        d.submit(makeAlert(message: "x"))
        d.stop()
        #expect(rec.alerts.count == 6)
        #expect(rec.alerts[5].summary?.count == 1)
        #expect(d.foldedByRule["Test rule"] == 99 + 9 + 1)
        #expect(d.summariesByKind["folded"] == 3)
        let reg = MetricsRegistry()
        d.registerMetrics(in: reg)
        #expect(reg.render().contains("vigil_alerts_folded_total{rule=\"Test rule\"} 109"))
    }

    @Test func dispatcherRateLimitSummariesOnStop() {
        let rec = RecordingBackend()
        let sink = AlertSink(name: "rec", format: .text, capacity: 10_000, backend: rec)
        let d = AlertDispatcher(sinks: [sink], floodControl: FloodControlConfig(fold: FoldConfig(enabled: false),
                                                                                rateLimit: RateLimitConfig(enabled: true, rate: 0.001, burst: 3, summaryIntervalMs: 60_000)))
        for i in 0..<50 { d.submit(makeAlert(message: "m\(i)")) }
        d.stop()
        #expect(rec.alerts.count == 4)
        #expect(rec.alerts[3].summary?.kind == .rateLimited && rec.alerts[3].summary?.count == 47)
        #expect(String(decoding: rec.alerts[3].text, as: UTF8.self).contains("(47 alerts of this rule held back by the rate limit"))
        #expect(d.rateLimitedByRule["Test rule"] == 47)
    }
}
