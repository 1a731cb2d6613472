#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilCore

/// Signals the agent handles: SIGINT/SIGTERM stop, SIGHUP reloads, SIGUSR1 reopens files.
///
/// ``blockAgentSignals()`` must run on the main thread before any other thread
/// starts, so every thread inherits the mask and only the signal thread
/// (``SignalWaiter``) receives them, synchronously.
package enum AgentSignals {
    /// The handled signals.
    package static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGUSR1]

    /// Blocks the handled signals in the calling thread (and threads it starts later).
    package static func blockAgentSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in handled { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }
}

/// A thread that waits for the agent's signals and calls back (never in signal context).
package final class SignalWaiter: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let thread: Mutex<NamedThread?> = Mutex(nil)

    package init() {}

    /// Starts waiting; `handler` runs on the signal thread for each signal received.
    /// Throws when the thread cannot be started.
    package func start(_ handler: @escaping @Sendable (Int32) -> Void) throws(NamedThread.StartError) {
        let t = try NamedThread.start(name: "vigil-signals") { [self] in
            var set = sigset_t()
            sigemptyset(&set)
            for s in AgentSignals.handled { sigaddset(&set, s) }
            var timeout = timespec(tv_sec: 0, tv_nsec: 200_000_000)
            while !stopFlag.load(ordering: .acquiring) {
                let sig = sigtimedwait(&set, nil, &timeout)
                if sig > 0 { handler(sig) }
            }
        }
        thread.withLock { $0 = t }
    }

    /// Stops waiting and joins the thread.
    package func stop() {
        stopFlag.store(true, ordering: .releasing)
        let t = thread.withLock { t -> NamedThread? in let x = t; t = nil; return x }
        t?.join()
    }
}
