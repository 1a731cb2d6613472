#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilCore
import VigilDecode

/// Where records come from: the live kernel capture (``BPFRecordSource``), a
/// recorded capture file (``CaptureFileSource``), or synthetic records built with
/// `RecordEncoder` (``SyntheticSource``). Downstream stages see the same bytes
/// in all three cases.
package protocol RecordSource: AnyObject {
    /// Delivers every record to `consumer` and returns when the source ends (end
    /// of file, last synthetic record) or ``stop()`` is called (live capture).
    /// Calls `consumer.finish()` before returning.
    func run<C: RecordConsumer>(_ consumer: C) throws
    /// Asks ``run(_:)`` to return (from any thread).
    func stop()
    /// Counters so far.
    func stats() -> CaptureStats
    /// Add to a record's `ts_ns` (CLOCK_BOOTTIME) to get wall-clock nanoseconds.
    var bootToWallOffsetNs: UInt64 { get }
}

/// The live source: a ``BPFCapture`` read until ``stop()``.
package final class BPFRecordSource: RecordSource, @unchecked Sendable {
    /// The underlying capture (interest, kernel stats).
    package let capture: BPFCapture
    package let bootToWallOffsetNs: UInt64 = Timestamp.bootToWallOffset()

    package init(capture: BPFCapture) { self.capture = capture }

    /// Loads and attaches a capture with `options`.
    package convenience init(options: BPFCaptureOptions) throws {
        self.init(capture: try BPFCapture(options: options))
    }

    /// Reads the capture on the calling thread until ``stop()``.
    package func run<C: RecordConsumer>(_ consumer: C) throws {
        try capture.run(consumer)
    }

    /// Detaches the programs; ``run(_:)`` drains the ring and returns.
    package func stop() { capture.stop() }
    package func stats() -> CaptureStats { capture.stats() }
}

/// Records built in memory (for tests, rule tests and benchmarks), delivered in
/// order `repeatCount` times on the calling thread.
package final class SyntheticSource: RecordSource, @unchecked Sendable {
    package let records: [[UInt8]]
    package let repeatCount: Int
    package let bootToWallOffsetNs: UInt64
    private let counter = RecordCounter()
    private let stopRequested = Atomic<Bool>(false)

    /// `records` are raw ABI records, e.g. from `RecordEncoder`.
    package init(records: [[UInt8]], repeatCount: Int = 1, bootToWallOffsetNs: UInt64 = Timestamp.bootToWallOffset()) {
        self.records = records; self.repeatCount = repeatCount; self.bootToWallOffsetNs = bootToWallOffsetNs
    }

    package convenience init(records: [OwnedRecord], repeatCount: Int = 1) {
        self.init(records: records.map(\.bytes), repeatCount: repeatCount)
    }

    package func run<C: RecordConsumer>(_ consumer: C) throws {
        outer: for _ in 0..<repeatCount {
            for r in records {
                if stopRequested.load(ordering: .relaxed) { break outer }
                r.withUnsafeBytes { raw in
                    if let e = counter.admit(raw) { consumer.consume(e) }
                }
            }
            consumer.endOfBatch()
            counter.publish()
        }
        counter.publish()
        consumer.finish()
    }

    package func stop() { stopRequested.store(true, ordering: .releasing) }
    package func stats() -> CaptureStats { counter.snapshot() }
}
