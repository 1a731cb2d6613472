#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilCore
import VigilRules

/// One reload's compilation (configuration and rules), run on its own thread so a hostile
/// rules file can never stall the caller: the caller waits with a time and a memory budget
/// and gives up (cancelling the compilation) when either runs out or the agent stops.
///
/// The thread has a large stack (the compiler's nesting limits keep recursion far below it).
/// An abandoned compilation stops at its next cancellation check and frees its memory; until it
/// has, its ``Counter`` refuses to start another.
final class ReloadCompilation: Sendable {
    /// Compilations of one reloader running now (abandoned ones included).
    final class Counter: Sendable {
        let running = Atomic<Int>(0)
        init() {}
        var value: Int { running.load(ordering: .acquiring) }
    }

    /// The compiled set, or why there is none.
    typealias Output = Result<(LoadedConfig, RuleSet), RuleLoading.Rejected>

    /// Why a compilation did not deliver a rule set.
    enum Failure: Error, Sendable, Equatable {
        case rejected([String])
        case timedOut(ms: Int)
        case memoryExceeded(limit: Int, used: Int)
        case stopping
        case busy
        case cannotStart

        var errors: [String] {
            switch self {
            case .rejected(let e): e
            case .timedOut(let ms): ["the compilation took longer than the reload time budget (rules_reload.timeout_ms = \(ms))"]
            case .memoryExceeded(let limit, let used):
                ["the compilation used \(used >> 20) MiB, more than the reload memory budget (rules_reload.max_memory = \(limit >> 20) MiB)"]
            case .stopping: ["the agent is stopping"]
            case .busy: ["an earlier compilation that ran out of budget is still finishing; try again later"]
            case .cannotStart: ["cannot start the compilation thread"]
            }
        }
    }

    /// Stack of the compilation thread.
    static let stackBytes = 256 << 20

    private let work: @Sendable (RuleLoadCancellation) -> Output
    private let counter: Counter
    private let cancellation = RuleLoadCancellation()
    private let output = Mutex<Output?>(nil)
    private let finished = Atomic<Bool>(false)

    init(counter: Counter, _ work: @escaping @Sendable (RuleLoadCancellation) -> Output) { self.counter = counter; self.work = work }

    /// Runs the work on its own thread and waits for it within the budgets, polling `isStopping`.
    func run(timeoutMs: Int, maxMemory: Int, isStopping: @Sendable () -> Bool) -> Result<(LoadedConfig, RuleSet), Failure> {
        guard counter.running.add(1, ordering: .acquiringAndReleasing).newValue == 1 else {
            counter.running.subtract(1, ordering: .acquiringAndReleasing)
            return .failure(.busy)
        }
        let rss0 = Self.residentBytes()
        guard start() else {
            counter.running.subtract(1, ordering: .acquiringAndReleasing)
            return .failure(.cannotStart)
        }
        let deadline = Timestamp.monotonicNanoseconds() &+ UInt64(timeoutMs) &* 1_000_000
        var peak = 0
        while !finished.load(ordering: .acquiring) {
            if isStopping() { cancellation.cancel(); return .failure(.stopping) }
            if Timestamp.monotonicNanoseconds() >= deadline { cancellation.cancel(); return .failure(.timedOut(ms: timeoutMs)) }
            let used = max(0, Self.residentBytes() - rss0)
            peak = max(peak, used)
            if used > maxMemory { cancellation.cancel(); return .failure(.memoryExceeded(limit: maxMemory, used: used)) }
            Timestamp.sleep(milliseconds: 2)
        }
        switch output.withLock({ $0 })! {
        case .success(let r): return .success(r)
        case .failure(let rejected): return .failure(.rejected(rejected.errors))
        }
    }

    /// Starts the compilation thread (never joined: an abandoned one is detached and ends on its own).
    private func start() -> Bool {
        do {
            _ = try NamedThread.start(name: "vigil-reload-cc", stackBytes: Self.stackBytes) { [self] in
                let out = work(cancellation)
                output.withLock { $0 = out }
                finished.store(true, ordering: .releasing)
                counter.running.subtract(1, ordering: .acquiringAndReleasing)
            }
            return true
        } catch {
            Log.error("reload", "cannot start the compilation thread", [("error", error.description)])
            return false
        }
    }

    /// The process's resident set size in bytes (`/proc/self/statm`), 0 if unreadable.
    static func residentBytes() -> Int {
        guard let text = FileReader.contents("/proc/self/statm", limit: 256) else { return 0 }
        let fields = text.split(separator: 0x20)
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
