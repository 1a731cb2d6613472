import VigilABI
import VigilCore

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
/// Of the open family (``pathFilterableTypes``), a type can also send its failed calls only for a
/// few exact paths (``failedPathTypes``, ``failedPaths``: the rules match its failures only for
/// those, as `RuleSet.failurePaths` proves); the kernel then drops a failed open only when its
/// path, as passed, is a normal absolute path it can compare and none of them.
///
/// Dropped failures are counted in the kernel (`VIGIL_KSTAT_FILTERED_FAILED`,
/// `VIGIL_KSTAT_FILTERED_FAILED_PATH`), never lost silently.
package struct KernelInterest: Sendable, Equatable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// Event types the kernel sends (``EventType/environmentCapture`` turns on the environment copy at exec).
    package var types: Set<EventType>
    /// Types of ``types`` whose failed native calls and io_uring completions the kernel drops.
    package var dropFailed: Set<EventType>
    /// Types of ``types`` whose failed 32-bit calls (ia32, `int 0x80`) the kernel drops.
    package var dropFailedCompat: Set<EventType>

    /// Types of ``types`` (of ``pathFilterableTypes``, not in ``dropFailed``) whose failed native
    /// calls are sent only when their path may be one of ``failedPaths`` (io_uring completions
    /// carry no path: theirs are all sent).
    package var failedPathTypes: Set<EventType>
    /// The same for 32-bit calls (not in ``dropFailedCompat``).
    package var failedPathTypesCompat: Set<EventType>
    /// The paths whose failed opens the types of ``failedPathTypes`` and
    /// ``failedPathTypesCompat`` send: normal absolute paths of at most `VIGIL_FAILED_PATH_LEN`
    /// bytes, at most `VIGIL_FAILED_PATH_MAX` of them (what the kernel's filter holds). Empty
    /// when neither set has a type.
    package var failedPaths: Set<[UInt8]>
    /// Types of ``types`` (of ``openNameTypes``: `open`, `openat`) whose successful read-only
    /// opens (access mode `O_RDONLY`) no loaded rule can read the path as passed of
    /// (`RuleSet.openNameWriteOnlyTypes`): the kernel sends such an open without it (str0 empty)
    /// when it resolved the opened file's path itself (`VIGIL_INTEREST_OPEN_NAME_WRITE_ONLY`).
    package var openNameWriteOnly: Set<EventType> = []

    /// Sends every event of `types` except the failed calls of `dropFailed` (native and io_uring)
    /// and of `dropFailedCompat` (32-bit), and the failed calls of `failedPathTypes` (native) and
    /// `failedPathTypesCompat` (32-bit) whose path is none of `failedPaths`. Types outside `types`
    /// are ignored, and so are path filters on types outside ``pathFilterableTypes`` or whose
    /// failures are dropped anyway. The paths are reduced to those the kernel can compare
    /// (``kernelPaths(_:)``); when they cannot be (too many, too long), no type filters its
    /// failures by path: they are all sent.
    package init(types: Set<EventType>, dropFailed: Set<EventType> = [], dropFailedCompat: Set<EventType> = [],
                 failedPathTypes: Set<EventType> = [], failedPathTypesCompat: Set<EventType> = [],
                 failedPaths: Set<[UInt8]> = []) {
        self.types = types
        self.dropFailed = dropFailed.intersection(types)
        self.dropFailedCompat = dropFailedCompat.intersection(types)
        let filterable = types.intersection(Self.pathFilterableTypes)
        var native = failedPathTypes.intersection(filterable).subtracting(self.dropFailed)
        var compat = failedPathTypesCompat.intersection(filterable).subtracting(self.dropFailedCompat)
        var paths: Set<[UInt8]> = []
        if !native.isEmpty || !compat.isEmpty {
            if let k = Self.kernelPaths(failedPaths) {
                paths = k
            } else {
                native = []
                compat = []
            }
        }
        self.failedPathTypes = native
        self.failedPathTypesCompat = compat
        self.failedPaths = paths
    }

    /// ``init(types:dropFailed:dropFailedCompat:failedPathTypes:failedPathTypesCompat:failedPaths:)``,
    /// and the types of `openNameWriteOnly` (of ``types`` and ``openNameTypes``) send their
    /// successful read-only opens without the path as passed where the kernel resolved the file's path.
    package init(types: Set<EventType>, dropFailed: Set<EventType> = [], dropFailedCompat: Set<EventType> = [],
                 failedPathTypes: Set<EventType> = [], failedPathTypesCompat: Set<EventType> = [],
                 failedPaths: Set<[UInt8]> = [], openNameWriteOnly: Set<EventType>) {
        self.init(types: types, dropFailed: dropFailed, dropFailedCompat: dropFailedCompat, failedPathTypes: failedPathTypes,
                  failedPathTypesCompat: failedPathTypesCompat, failedPaths: failedPaths)
        self.openNameWriteOnly = openNameWriteOnly.intersection(types).intersection(Self.openNameTypes)
    }

    /// The types whose read-only opens the kernel can send without the path as passed
    /// (``openNameWriteOnly``): `open` and `openat`, whose flags are a register argument.
    package static let openNameTypes: Set<EventType> = Set(["open", "openat"].compactMap { EventType(name: $0) })

    /// The open family: types whose record's only string is the path as passed, which names the
    /// file on a failure (`fd.name`, `fd.nameraw`). Only these can filter failures by path.
    package static let pathFilterableTypes: Set<EventType> = Set(["open", "openat", "openat2", "creat"].compactMap { EventType(name: $0) })

    /// The longest path the kernel's failed-open filter compares (`VIGIL_FAILED_PATH_LEN` bytes).
    package static let failedPathMaxBytes = Int(VIGIL_FAILED_PATH_LEN)
    /// The most paths the kernel's failed-open filter holds (`VIGIL_FAILED_PATH_MAX`).
    package static let failedPathMaxCount = Int(VIGIL_FAILED_PATH_MAX)

    /// What the kernel's filter must hold so that no failed open whose name is one of `paths` is
    /// dropped, or nil when it cannot: the normal absolute paths among them (the kernel sends
    /// every path that is not one, and a failed open's `fd.name` and `fd.nameraw` are the path as
    /// passed only when it is one); nil when one of those is longer than
    /// `VIGIL_FAILED_PATH_LEN` bytes, holds U+FFFD (the user side's replacement for invalid
    /// UTF-8, which a path the kernel compares as bytes could turn into), or there are more than
    /// `VIGIL_FAILED_PATH_MAX`.
    package static func kernelPaths(_ paths: Set<[UInt8]>) -> Set<[UInt8]>? {
        var out: Set<[UInt8]> = []
        for p in paths {
            guard !p.contains(0), p.withUnsafeBytes({ PathResolver.isNormalAbsolute($0) }) else { continue }
            if p.count > failedPathMaxBytes { return nil }
            for i in 0..<max(0, p.count - 2) where p[i] == 0xEF && p[i + 1] == 0xBF && p[i + 2] == 0xBD { return nil }
            out.insert(p)
        }
        return out.count <= failedPathMaxCount ? out : nil
    }

    /// Every event of the listed types, failed ones included.
    package init(arrayLiteral elements: EventType...) { self.init(types: Set(elements)) }

    /// Whether failed calls of `type` are sent (native ones, or 32-bit ones when `compat`): all of
    /// them, or those of some paths (``filtersFailuresByPath(of:compat:)``).
    package func sendsFailures(of type: EventType, compat: Bool = false) -> Bool {
        types.contains(type) && !(compat ? dropFailedCompat : dropFailed).contains(type)
    }

    /// Whether the failed calls of `type` are sent only for ``failedPaths`` (native ones, or
    /// 32-bit ones when `compat`).
    package func filtersFailuresByPath(of type: EventType, compat: Bool = false) -> Bool {
        (compat ? failedPathTypesCompat : failedPathTypes).contains(type)
    }

    /// Whether every failed call of `type` is sent (native ones, or 32-bit ones when `compat`).
    package func sendsEveryFailure(of type: EventType, compat: Bool = false) -> Bool {
        sendsFailures(of: type, compat: compat) && !filtersFailuresByPath(of: type, compat: compat)
    }

    /// What either interest needs: the types of both, a type's failures dropped only when neither
    /// sends them, its read-only opens sent without the path as passed only when neither needs it,
    /// and filtered by path only when neither sends them all (with the paths of both;
    /// used while a reload switches rule sets, so that no event either set can use is lost in
    /// between).
    package func union(_ other: KernelInterest) -> KernelInterest {
        let all = types.union(other.types)
        func byPath(_ t: EventType, _ compat: Bool) -> Bool {
            !sendsEveryFailure(of: t, compat: compat) && !other.sendsEveryFailure(of: t, compat: compat)
                && (sendsFailures(of: t, compat: compat) || other.sendsFailures(of: t, compat: compat))
        }
        return KernelInterest(types: all,
                              dropFailed: all.filter { !sendsFailures(of: $0) && !other.sendsFailures(of: $0) },
                              dropFailedCompat: all.filter { !sendsFailures(of: $0, compat: true) && !other.sendsFailures(of: $0, compat: true) },
                              failedPathTypes: all.filter { byPath($0, false) },
                              failedPathTypesCompat: all.filter { byPath($0, true) },
                              failedPaths: failedPaths.union(other.failedPaths),
                              openNameWriteOnly: all.filter { leavesOutOpenNames(of: $0) && other.leavesOutOpenNames(of: $0) })
    }

    /// Whether no read-only open of `type` this interest sends needs the path as passed: the type
    /// is in ``openNameWriteOnly``, or not sent at all.
    package func leavesOutOpenNames(of type: EventType) -> Bool {
        openNameWriteOnly.contains(type) || !types.contains(type)
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
        failedPathTypes.remove(type)
        failedPathTypesCompat.remove(type)
        openNameWriteOnly.remove(type)
        if failedPathTypes.isEmpty && failedPathTypesCompat.isEmpty { failedPaths = [] }
    }

    /// Whether ``types`` holds `type`.
    package func contains(_ type: EventType) -> Bool { types.contains(type) }

    /// Number of event types sent.
    package var count: Int { types.count }

    /// Names of the types whose failures are dropped: `openat` (native and 32-bit), `openat(native)`, `openat(32-bit)`.
    package var droppedFailureNames: [String] { Self.names(native: dropFailed, compat: dropFailedCompat) }

    /// Names of the types whose failures are sent only for ``failedPaths``, as in ``droppedFailureNames``.
    package var pathFilteredFailureNames: [String] { Self.names(native: failedPathTypes, compat: failedPathTypesCompat) }

    /// The types of either set by name, each marked `(native)` or `(32-bit)` when only one set holds it.
    private static func names(native: Set<EventType>, compat: Set<EventType>) -> [String] {
        native.union(compat).sorted { $0.rawValue < $1.rawValue }.map { t in
            switch (native.contains(t), compat.contains(t)) {
            case (true, true): t.name
            case (true, false): t.name + "(native)"
            default: t.name + "(32-bit)"
            }
        }
    }

    /// ``failedPaths`` as text, sorted.
    package var failedPathNames: [String] { failedPaths.map { String(decoding: $0, as: UTF8.self) }.sorted() }

    /// `N types, failures dropped for: a, b, failures sent only for N paths for: c` (for logs).
    package var description: String {
        "\(types.count) types" + (droppedFailureNames.isEmpty ? "" : ", failures dropped for: " + droppedFailureNames.joined(separator: ","))
            + (pathFilteredFailureNames.isEmpty ? "" : ", failures sent only for \(failedPaths.count) paths for: "
                + pathFilteredFailureNames.joined(separator: ","))
            + (openNameWriteOnly.isEmpty ? "" : ", read-only opens without the path as passed for: "
                + openNameWriteOnly.map(\.name).sorted().joined(separator: ","))
    }
}
