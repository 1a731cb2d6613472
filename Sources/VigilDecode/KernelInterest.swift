import VigilABI

/// What the kernel side sends: the event types, and of those, the types whose failed calls (a
/// negative result) it drops before building a record, because no loaded rule and no state
/// update can use them (`RuleSet.failureEventTypes`, combined by `RuleLoading.interest`). Native
/// calls (with io_uring completions) and 32-bit calls are told apart, as rules can (`evt.is_compat`).
///
/// A set literal of types sends every event of those types, failed ones included:
/// ```swift
/// try capture.setInterest([openat, connect])                                       // all of them
/// try capture.setInterest(KernelInterest(types: [openat], dropFailed: [openat]))   // native failed opens dropped
/// ```
/// Dropped failures are counted in the kernel (`VIGIL_KSTAT_FILTERED_FAILED`), never lost silently.
package struct KernelInterest: Sendable, Equatable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// Event types the kernel sends (``EventType/environmentCapture`` turns on the environment copy at exec).
    package var types: Set<EventType>
    /// Types of ``types`` whose failed native calls and io_uring completions the kernel drops.
    package var dropFailed: Set<EventType>
    /// Types of ``types`` whose failed 32-bit calls (ia32, `int 0x80`) the kernel drops.
    package var dropFailedCompat: Set<EventType>

    /// Sends every event of `types` except the failed calls of `dropFailed` (native and io_uring)
    /// and of `dropFailedCompat` (32-bit). Types outside `types` are ignored.
    package init(types: Set<EventType>, dropFailed: Set<EventType> = [], dropFailedCompat: Set<EventType> = []) {
        self.types = types
        self.dropFailed = dropFailed.intersection(types)
        self.dropFailedCompat = dropFailedCompat.intersection(types)
    }

    /// Every event of the listed types, failed ones included.
    package init(arrayLiteral elements: EventType...) { self.init(types: Set(elements)) }

    /// Whether failed calls of `type` are sent (native ones, or 32-bit ones when `compat`).
    package func sendsFailures(of type: EventType, compat: Bool = false) -> Bool {
        types.contains(type) && !(compat ? dropFailedCompat : dropFailed).contains(type)
    }

    /// What either interest needs: the types of both, and a type's failures dropped only when
    /// neither sends them (used while a reload switches rule sets, so that no event either set
    /// can use is lost in between).
    package func union(_ other: KernelInterest) -> KernelInterest {
        let all = types.union(other.types)
        return KernelInterest(types: all,
                              dropFailed: all.filter { !sendsFailures(of: $0) && !other.sendsFailures(of: $0) },
                              dropFailedCompat: all.filter { !sendsFailures(of: $0, compat: true) && !other.sendsFailures(of: $0, compat: true) })
    }

    /// Event types that can arrive as a failed syscall record: every syscall row except the
    /// clone family (reported only by sched_process_fork, on success) and socketcall (never a
    /// record itself). Only these belong in ``dropFailed`` and ``dropFailedCompat``.
    package static let failableTypes: Set<EventType> = Set(EventTable.rows.filter {
        !$0.name.isEmpty && ($0.x86_64 != nil || !$0.i386.isEmpty || $0.arm64 != nil)
            && $0.capture & (VIGIL_CAPTURE_FORK_RECORD | VIGIL_CAPTURE_DEMUX) == 0
    }.map(\.type))

    /// Adds `type` (all its events, failures included).
    package mutating func insert(_ type: EventType) {
        types.insert(type)
        dropFailed.remove(type)
        dropFailedCompat.remove(type)
    }

    /// Whether ``types`` holds `type`.
    package func contains(_ type: EventType) -> Bool { types.contains(type) }

    /// Number of event types sent.
    package var count: Int { types.count }

    /// Names of the types whose failures are dropped: `openat` (native and 32-bit), `openat(native)`, `openat(32-bit)`.
    package var droppedFailureNames: [String] {
        dropFailed.union(dropFailedCompat).sorted { $0.rawValue < $1.rawValue }.map { t in
            switch (dropFailed.contains(t), dropFailedCompat.contains(t)) {
            case (true, true): t.name
            case (true, false): t.name + "(native)"
            default: t.name + "(32-bit)"
            }
        }
    }

    /// `N types, failures dropped for: a, b` (for logs).
    package var description: String {
        "\(types.count) types" + (droppedFailureNames.isEmpty ? "" : ", failures dropped for: " + droppedFailureNames.joined(separator: ","))
    }
}
