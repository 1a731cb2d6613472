#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import VigilABI
import VigilCapture
import VigilCore
import VigilDecode

/// Counts the capture's chroot records of one path, and the reader's idle polls.
final class WakeRecorder: RecordConsumer, @unchecked Sendable {
    let path: [UInt8]
    let records = Atomic<Int>(0)
    let idles = Atomic<Int>(0)
    let firstRecordAt = Atomic<UInt64>(0)
    /// Batches (ends of a ring drain) that held at least one of the path's records.
    let batchesWithRecords = Atomic<Int>(0)
    /// The longest a record of the path waited from its syscall's exit to its delivery (boot clock).
    let maxWaitNs = Atomic<UInt64>(0)
    private let inBatch = Atomic<Bool>(false)

    init(path: String) { self.path = Array(path.utf8) }

    func consume(_ event: Event) {
        guard event.isSyscall, event.type == EventType(name: "chroot"), Array(event.str0) == path else { return }
        if records.add(1, ordering: .relaxed).newValue == 1 {
            firstRecordAt.store(Timestamp.monotonicNanoseconds(), ordering: .relaxed)
        }
        let wait = Timestamp.bootNanoseconds() &- event.timestampBootNs
        if wait > maxWaitNs.load(ordering: .relaxed) { maxWaitNs.store(wait, ordering: .relaxed) }
        inBatch.store(true, ordering: .relaxed)
    }

    func endOfBatch() {
        if inBatch.exchange(false, ordering: .relaxed) { batchesWithRecords.add(1, ordering: .relaxed) }
    }

    func idle() { idles.add(1, ordering: .relaxed) }
}

/// The kernel's wake-up rule (bpf/maps.bpf.h ring_flags): records are sent without a wake-up,
/// and the reader, asleep in a long poll, is woken once a burst leaves `wakeupBytes` unread.
@Suite(.serialized) struct RingWakeupKernelTests {
    /// Waits until `cond` holds, at most `seconds`.
    func waitFor(_ seconds: Double, _ cond: () -> Bool) -> Bool {
        let deadline = Timestamp.monotonicNanoseconds() + UInt64(seconds * 1e9)
        while Timestamp.monotonicNanoseconds() < deadline {
            if cond() { return true }
            usleep(2_000)
        }
        return cond()
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func aBurstWakesAReaderAsleepInItsPoll() throws {
        let path = "/nonexistent/vigil-wake-\(getpid())"
        var o = BPFCaptureOptions()
        o.ignoreSelf = false
        o.pollIntervalMs = 1000
        // Above one wake-up check's worth of records (64 slots of ~300 bytes): the first check of
        // a burst finds the ring below the mark, the crossing is then seen at a later one.
        o.wakeupBytes = 64 << 10
        o.interest = KernelInterest(types: [EventType(name: "chroot")!])
        let recorder = WakeRecorder(path: path)
        let capture = try BPFCapture(options: o)
        try capture.start(recorder)
        defer { capture.stop() }

        let burst = 2_000
        var latencies: [Double] = []
        for round in 1...2 {
            // An idle call means the reader's poll just timed out on a quiet ring: it starts a new
            // 1,000 ms poll right after, so without a wake-up the burst would wait for its end.
            let idles = recorder.idles.load(ordering: .relaxed)
            try #require(waitFor(5) { recorder.idles.load(ordering: .relaxed) > idles },
                         "round \(round): the reader never went idle (another process making chroot calls?)")
            recorder.firstRecordAt.store(0, ordering: .relaxed)
            recorder.records.store(0, ordering: .relaxed)
            let start = Timestamp.monotonicNanoseconds()
            for _ in 0..<burst { _ = chroot(path) }
            try #require(waitFor(5) { recorder.records.load(ordering: .relaxed) >= burst / 2 },
                         "round \(round): the burst's records did not arrive")
            let first = recorder.firstRecordAt.load(ordering: .relaxed)
            latencies.append(Double(first &- start) / 1e6)
            // Every record arrives (the tail, after the last wake-up check, within a poll interval).
            try #require(waitFor(5) { recorder.records.load(ordering: .relaxed) == burst },
                         "round \(round): \(recorder.records.load(ordering: .relaxed)) of \(burst) records")
        }
        // Woken, the reader reads the burst long before its 1,000 ms poll would have ended.
        #expect(latencies.allSatisfy { $0 < 500 }, "first record after (ms): \(latencies)")
        #expect(capture.kernelStats().ringFull == 0)
    }

    /// A steady stream that never reaches the wake-up mark is read once per poll interval: the
    /// reader's wait is edge-triggered, so records waiting unread do not end it (libbpf's
    /// level-triggered epoll returned at once while any record waited, a wake-up per record or
    /// two), and every record arrives within the interval (plus scheduling slack).
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func aSteadyStreamIsReadOncePerPollInterval() throws {
        let path = "/nonexistent/vigil-steady-\(getpid())"
        var o = BPFCaptureOptions()
        o.ignoreSelf = false
        o.pollIntervalMs = 100
        o.interest = KernelInterest(types: [EventType(name: "chroot")!])
        let recorder = WakeRecorder(path: path)
        let capture = try BPFCapture(options: o)
        try capture.start(recorder)
        defer { capture.stop() }

        // About 1,000 records a second for a second (far below the 2 MiB wake-up mark).
        let count = 1_000
        let start = Timestamp.monotonicNanoseconds()
        for _ in 0..<count {
            _ = chroot(path)
            usleep(1_000)
        }
        let seconds = Double(Timestamp.monotonicNanoseconds() - start) / 1e9
        try #require(waitFor(5) { recorder.records.load(ordering: .relaxed) == count },
                     "\(recorder.records.load(ordering: .relaxed)) of \(count) records")
        let batches = recorder.batchesWithRecords.load(ordering: .relaxed)
        // One read per 100 ms interval (plus the first and last partial ones), not one per record.
        #expect(batches <= Int(seconds * 10) + 3, "\(batches) batches for \(count) records in \(seconds) s")
        // Each record waited at most the poll interval (plus slack for a loaded machine).
        let maxWaitMs = Double(recorder.maxWaitNs.load(ordering: .relaxed)) / 1e6
        #expect(maxWaitMs < 100 + 400, "a record waited \(maxWaitMs) ms")
        #expect(capture.kernelStats().ringFull == 0)
    }
}
