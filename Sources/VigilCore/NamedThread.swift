#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A joinable OS thread with a name (shown in `top -H`, `ps -L` and `/proc/<pid>/task/*/comm`).
///
/// Vigil's long-running threads (the pipeline, the alert dispatcher and sinks, the
/// container enricher, the Kubernetes watcher, signal waiters) are plain pthreads, not
/// Swift tasks: the per-event path must never hop executors. Every thread starts with
/// SIGPIPE blocked, so a write to a closed pipe or socket returns EPIPE instead of
/// killing the process.
package final class NamedThread: Sendable {
    /// The name given at start (the kernel keeps the first 15 bytes).
    package let name: String
    private let handle: pthread_t
    private let joined = Atomic<Bool>(false)

    private init(name: String, handle: pthread_t) {
        self.name = name
        self.handle = handle
    }

    /// Why a thread could not be started.
    package struct StartError: Error, CustomStringConvertible, Sendable {
        /// The thread's name.
        package let name: String
        /// The error number `pthread_create` returned.
        package let code: Int32
        package var description: String { "cannot start thread \(name): \(String(cString: strerror(code)))" }
    }

    private final class Start: @unchecked Sendable {
        // @unchecked: written before pthread_create, read by the new thread only.
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ body: @escaping @Sendable () -> Void) { self.name = name; self.body = body }
    }

    /// Starts `body` on a new thread named `name`. Throws when the system refuses a
    /// thread (`EAGAIN`: the thread or memory limit). `stackBytes` sets the stack size
    /// (nil: the system default).
    package static func start(name: String, stackBytes: Int? = nil, _ body: @escaping @Sendable () -> Void) throws(StartError) -> NamedThread {
        let ctx = Unmanaged.passRetained(Start(name, body)).toOpaque()
        var tid = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        if let stackBytes { pthread_attr_setstacksize(&attr, stackBytes) }
        let rc = pthread_create(&tid, &attr, { raw in
            guard let raw else { return nil }
            let start = Unmanaged<Start>.fromOpaque(raw).takeRetainedValue()
            NamedThread.setCurrentName(start.name)
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &set, nil)
            start.body()
            return nil
        }, ctx)
        if rc != 0 {
            Unmanaged<Start>.fromOpaque(ctx).release()
            throw StartError(name: name, code: rc)
        }
        return NamedThread(name: name, handle: tid)
    }

    /// Waits for the thread to finish. The first call joins; later calls (from any thread) return at once.
    package func join() {
        guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_join(handle, nil)
    }

    deinit {
        // A thread nobody joined is detached so its resources are freed when it ends.
        if !joined.load(ordering: .acquiring) { pthread_detach(handle) }
    }

    /// Names the calling thread (first 15 bytes).
    package static func setCurrentName(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// The calling thread's name (from `/proc/thread-self/comm`), empty if unreadable.
    package static func currentName() -> String {
        let fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return "" }
        var s = Array(buf.prefix(n))
        if s.last == 0x0A { s.removeLast() }
        return String(decoding: s, as: UTF8.self)
    }
}
