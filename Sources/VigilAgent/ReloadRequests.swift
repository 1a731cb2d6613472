import Synchronization
import VigilCore

/// Pending reload requests for the agent's reload thread: signals and the file watcher
/// only record a request, so they never wait for a compilation. The reload thread sleeps
/// until a request or the stop arrives (no polling).
final class ReloadRequests: Sendable {
    private struct State { var pending: [String] = []; var stopped = false }
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)
    private let wake = WakeSignal()

    /// Records a request (merged with requests not yet taken).
    func request(_ reason: String) {
        state.withLock { if !$0.pending.contains(reason) { $0.pending.append(reason) } }
        wake.signal()
    }

    /// Ends ``next()`` and marks the agent stopping.
    func stop() {
        stopped.store(true, ordering: .releasing)
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    /// Whether the agent is stopping (a reload in progress gives up).
    var isStopping: Bool { stopped.load(ordering: .acquiring) }

    /// Waits for the next request (all pending reasons joined), or nil once stopped.
    func next() -> String? {
        while true {
            let taken = state.withLock { s -> String?? in
                if s.stopped { return .some(nil) }
                guard !s.pending.isEmpty else { return nil }
                defer { s.pending.removeAll() }
                return .some(s.pending.joined(separator: ", "))
            }
            if let t = taken { return t }
            wake.wait()
        }
    }
}
