#if canImport(Glibc)
import Glibc
#endif

/// A joinable OS thread running one closure (the enricher's worker, the API watcher).
final class BackgroundThread: @unchecked Sendable {
    // @unchecked: `handle` is written by start() and read by join(), both from the owner's thread.
    private var handle = pthread_t()
    private var started = false
    private final class Box { let body: () -> Void; let name: String; init(_ b: @escaping () -> Void, _ n: String) { body = b; name = n } }

    /// Starts `body` on a new thread named `name` (at most 15 characters are kept).
    func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
        let rc = pthread_create(&handle, nil, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        if rc == 0 { started = true } else { Unmanaged<Box>.fromOpaque(box).release() }
    }

    /// Waits for the thread to finish (no-op if it never started).
    func join() {
        guard started else { return }
        pthread_join(handle, nil)
        started = false
    }
}

/// Monotonic clock in ns (CLOCK_MONOTONIC).
@inline(__always) func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Wall clock in ns since the epoch.
@inline(__always) func wallClockNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
