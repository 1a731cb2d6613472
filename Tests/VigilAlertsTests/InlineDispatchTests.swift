import Foundation
import Synchronization
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

/// ``AlertDispatcher/endOfBatch()``: a batch producer's alerts are dispatched on its own thread
/// (no wake-up of the dispatcher thread), with the same flood control, order and counts as
/// the dispatcher thread gives them.
@Suite struct InlineDispatchTests {
    func waitUntil(_ seconds: Double, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if cond() { return true }
            usleep(1000)
        }
        return cond()
    }

    /// A mix of repeated (folded) and distinct alerts, over two rules.
    static func stream(_ n: Int) -> [Alert] {
        (0..<n).map { i in
            makeAlert(rule: i % 3 == 0 ? "Rule B" : "Rule A", message: i % 4 == 0 ? "repeated" : "distinct \(i)")
        }
    }

    @Test func theBatchIsDispatchedOnTheCallingThreadBeforeItReturns() {
        let rec = RecordingBackend()
        let d = AlertDispatcher(sinks: [AlertSink(name: "rec", format: .json, capacity: 10_000, backend: rec)])
        defer { d.stop() }
        let alerts = Self.stream(1_000)
        for a in alerts { #expect(d.submitInBatch(a)) }
        d.endOfBatch()
        // Flood control ran before endOfBatch returned (its counts are published per pass), in
        // more than one pass (256 at a time), all on this thread.
        #expect(d.inlinePasses.value >= 4)
        let folded = d.foldedByRule.values.reduce(0, +)
        #expect(folded > 0)
        // What went out reaches the sink, in submission order.
        #expect(waitUntil(5) { rec.alerts.count == alerts.count - Int(folded) })
        let out = rec.alerts.map(\.alert.message)
        var expected: [String] = []
        var seen = Set<String>()
        for a in alerts where !(a.message == "repeated" && !seen.insert(a.rule).inserted) { expected.append(a.message) }
        #expect(out == expected)
    }

    /// The same alerts through the dispatcher thread (``AlertDispatcher/submit(_:)``) and through
    /// batches dispatched inline give the same deliveries, summaries and counts.
    @Test func inlineAndThreadDispatchAgree() throws {
        func run(inline: Bool) -> (messages: [String], folded: [String: UInt64], summaries: [String: UInt64], submitted: UInt64) {
            let rec = RecordingBackend()
            let d = AlertDispatcher(sinks: [AlertSink(name: "rec", format: .json, capacity: 10_000, backend: rec)],
                                    floodControl: FloodControlConfig(fold: FoldConfig(windowMs: 60_000)))
            let alerts = Self.stream(700)
            if inline {
                for (i, a) in alerts.enumerated() {
                    d.submitInBatch(a)
                    if i % 37 == 36 { d.endOfBatch() }
                }
                d.endOfBatch()
            } else {
                for a in alerts { d.submit(a) }
            }
            _ = d.flush(timeout: .seconds(10))
            d.stop()
            return (rec.alerts.map(\.alert.message), d.foldedByRule, d.summariesByKind, d.submitted.value)
        }
        let a = run(inline: true), b = run(inline: false)
        // Alerts in submission order; the summaries a flush forces follow them in the fold
        // table's order (a dictionary's, which differs between instances).
        func split(_ m: [String]) -> ([String], [String]) {
            (m.filter { !$0.contains("folded between") }, m.filter { $0.contains("folded between") }.sorted())
        }
        #expect(split(a.messages).0 == split(b.messages).0 && split(a.messages).1 == split(b.messages).1)
        #expect(a.messages.count == b.messages.count)
        #expect(a.folded == b.folded && a.summaries == b.summaries && a.submitted == b.submitted)
        #expect(a.summaries["folded"] == 2)  // one per rule, for its repeated alert
    }

    /// A full dispatcher queue drops (counted) whatever path submits; a later pass reports it.
    @Test func dropsAtAFullQueueAreCountedAndReported() {
        let rec = RecordingBackend()
        let d = AlertDispatcher(sinks: [AlertSink(name: "rec", format: .json, capacity: 10_000, backend: rec)],
                                floodControl: FloodControlConfig(fold: FoldConfig(enabled: false)), capacity: 8)
        var accepted = 0
        for i in 0..<20 where d.submitInBatch(makeAlert(message: "m\(i)")) { accepted += 1 }
        #expect(accepted == 8 && d.queueDropped.value == 12)
        d.endOfBatch()
        _ = d.flush(timeout: .seconds(10))
        d.stop()
        let msgs = rec.alerts.map(\.alert.message)
        #expect(Array(msgs.prefix(8)) == (0..<8).map { "m\($0)" })
        #expect(msgs.contains { $0.hasPrefix("12 alerts were dropped") })
    }
}
