import Glibc
import Synchronization
import Testing
import VigilCore

@Suite struct ClockAndHostTests {
    @Test func monotonicNeverGoesBackAndSleepWaitsAtLeastItsTime() {
        var last = Timestamp.monotonicNanoseconds()
        for _ in 0..<1000 {
            let now = Timestamp.monotonicNanoseconds()
            #expect(now >= last)
            last = now
        }
        let t0 = Timestamp.monotonicNanoseconds()
        Timestamp.sleep(milliseconds: 5)
        #expect(Timestamp.monotonicNanoseconds() - t0 >= 5_000_000)
    }

    @Test func wallAndBootClocksMatchTheSystem() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let sys = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        let ours = Timestamp.nowNanoseconds()
        #expect(ours >= sys)
        let offset = Timestamp.bootToWallOffset()
        #expect(offset &+ Timestamp.bootNanoseconds() >= sys)
        #expect(Timestamp.bootNanoseconds() >= Timestamp.monotonicNanoseconds() / 2)
    }

    @Test func hostnameIsTheKernels() throws {
        let f = try #require(fopen("/proc/sys/kernel/hostname", "r"))
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 256)
        _ = fgets(&buf, 256, f)
        let kernel = String(decoding: buf.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(Hostname.current() == (kernel.isEmpty ? "localhost" : kernel))
    }
}

@Suite struct NamedThreadTests {
    final class Box: Sendable {
        let name = Mutex<String>("")
        let ran = Atomic<Int>(0)
    }

    @Test func runsBodyUnderItsNameAndJoins() throws {
        let box = Box()
        let t = try NamedThread.start(name: "vigil-test-thread-long") {
            box.name.withLock { $0 = NamedThread.currentName() }
            Timestamp.sleep(milliseconds: 20)
            box.ran.add(1, ordering: .relaxed)
        }
        #expect(t.name == "vigil-test-thread-long")
        t.join()
        #expect(box.ran.load(ordering: .relaxed) == 1)  // join waited for the body
        #expect(box.name.withLock { $0 } == "vigil-test-thre")  // the kernel keeps 15 bytes
        t.join()  // a second join returns at once
    }

    @Test func sigpipeIsBlockedOnNamedThreads() throws {
        let blocked = Atomic<Bool>(false)
        let b = Box()
        let t = try NamedThread.start(name: "vigil-sigpipe") {
            var set = sigset_t()
            pthread_sigmask(SIG_BLOCK, nil, &set)
            if sigismember(&set, SIGPIPE) == 1 { b.ran.store(1, ordering: .relaxed) }
        }
        t.join()
        _ = blocked
        #expect(b.ran.load(ordering: .relaxed) == 1)
    }

    @Test func releasingAnUnjoinedThreadDetachesIt() throws {
        let b = Box()
        do {
            _ = try NamedThread.start(name: "vigil-detached") { b.ran.store(1, ordering: .releasing) }
        }
        let end = Timestamp.monotonicNanoseconds() + 5_000_000_000
        while b.ran.load(ordering: .acquiring) == 0 && Timestamp.monotonicNanoseconds() < end { Timestamp.sleep(milliseconds: 1) }
        #expect(b.ran.load(ordering: .acquiring) == 1)
    }
}
