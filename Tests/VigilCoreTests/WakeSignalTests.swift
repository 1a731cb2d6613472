#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilCore

/// WakeSignal and the MonotonicCondition under it: a signal is a flag that a wait consumes,
/// never lost when it comes first, and a timed wait ends at its deadline.
@Suite struct WakeSignalTests {
    @Test func aSignalBeforeTheWaitIsNotLostAndIsConsumedOnce() {
        let s = WakeSignal()
        s.signal()
        #expect(s.wait(timeoutNs: 5_000_000_000))
        // Consumed: the next wait times out.
        #expect(!s.wait(timeoutNs: 20_000_000))
    }

    @Test func aTimedWaitEndsAtItsDeadlineWithoutASignal() {
        let s = WakeSignal()
        let start = Timestamp.monotonicNanoseconds()
        #expect(!s.wait(timeoutNs: 30_000_000))
        #expect(Timestamp.monotonicNanoseconds() &- start >= 30_000_000)
    }

    @Test func aSignalFromAnotherThreadWakesTheWait() {
        let s = WakeSignal()
        var thread = pthread_t()
        let box = Unmanaged.passRetained(s)
        let rc = pthread_create(&thread, nil, { arg in
            let s = Unmanaged<WakeSignal>.fromOpaque(arg!).takeRetainedValue()
            s.signal()
            return nil
        }, box.toOpaque())
        #expect(rc == 0)
        // Bounded, so a lost signal fails the test instead of hanging it.
        #expect(s.wait(timeoutNs: 30_000_000_000))
        if rc == 0 { pthread_join(thread, nil) }
    }

    @Test func theConditionsDeadlineIsOnTheMonotonicClock() {
        let before = Timestamp.monotonicNanoseconds()
        let d = MonotonicCondition.deadline(afterNs: 2_000_000_000)
        let ns = UInt64(d.tv_sec) * 1_000_000_000 + UInt64(d.tv_nsec)
        #expect(ns >= before + 2_000_000_000)
        #expect(ns <= Timestamp.monotonicNanoseconds() + 2_000_000_000)
        #expect(d.tv_nsec >= 0 && d.tv_nsec < 1_000_000_000)
    }
}
