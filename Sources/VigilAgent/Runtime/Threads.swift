#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A joinable OS thread running a closure (no Foundation, no Swift concurrency:
/// the pipeline threads must never hop executors).
public final class AgentThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: @Sendable () -> Void
    private let name: String
    private let joined = Mutex<Bool>(false)

    private init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    /// Starts a thread named `name` (shown in `top -H`, max 15 bytes).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> AgentThread {
        let t = AgentThread(name: name, body: body)
        let ctx = Unmanaged.passRetained(t).toOpaque()
        let rc = pthread_create(&t.handle, nil, { raw in
            let t = Unmanaged<AgentThread>.fromOpaque(raw!).takeRetainedValue()
            let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            if fd >= 0 {
                let n = Array(t.name.utf8.prefix(15))
                _ = n.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
            t.body()
            return nil
        }, ctx)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return t
    }

    /// Waits for the thread to finish (once; later calls return at once).
    public func join() {
        let first = joined.withLock { j -> Bool in
            if j { return false }
            j = true
            return true
        }
        if first { pthread_join(handle, nil) }
    }
}

/// Sleeps for `ms` milliseconds.
func sleepMilliseconds(_ ms: Int) {
    var ts = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    var rem = timespec()
    while nanosleep(&ts, &rem) != 0 && errno == EINTR { ts = rem }
}

/// Monotonic nanoseconds.
@inline(__always) func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
