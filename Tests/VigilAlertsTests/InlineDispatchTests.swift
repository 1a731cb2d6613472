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

    /// Batches (more than one pass of 256) reach the sink in submission order, the repeated
    /// alert folded; while the dispatcher thread is idle the caller runs the passes itself, and
    /// flood control has seen the batch when ``AlertDispatcher/endOfBatch()`` returns.
    @Test func batchesAreDispatchedInOrderOnTheCallingThread() {
        let rec = RecordingBackend()
        let d = AlertDispatcher(sinks: [AlertSink(name: "rec", format: .json, capacity: 10_000, backend: rec)])
        defer { d.stop() }
        let alerts = Self.stream(1_000)
        for a in alerts { #expect(d.submitInBatch(a)) }
        d.endOfBatch()
        var expected: [String] = []
        var seen = Set<String>()
        for a in alerts where !(a.message == "repeated" && !seen.insert(a.rule).inserted) { expected.append(a.message) }
        #expect(waitUntil(5) { rec.alerts.count == expected.count })
        #expect(rec.alerts.map(\.alert.message) == expected)
        #expect(d.foldedByRule.values.reduce(0, +) == UInt64(alerts.count - expected.count))
        // The dispatcher thread takes a pass only at its timer tick (or when a pass of the
        // caller's was impossible because it held the lock): a batch submitted while it is
        // idle is dispatched by the caller, before endOfBatch returns.
        let deadline = Date().addingTimeInterval(10)
        var inline = false
        var round = 0
        while !inline && Date() < deadline {
            let before = d.inlinePasses.value
            let folded = d.foldedByRule.values.reduce(0, +)
            for i in 0..<300 { d.submitInBatch(makeAlert(rule: "Rule C", message: i == 0 ? "first \(round)" : "again \(round)")) }
            d.endOfBatch()
            if d.inlinePasses.value >= before + 2 {
                // Both passes ran here: every alert was admitted (299 folded) before the return.
                #expect(d.foldedByRule.values.reduce(0, +) == folded + 298)
                inline = true
            }
            round += 1
        }
        #expect(inline, "endOfBatch never dispatched on the calling thread")
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
