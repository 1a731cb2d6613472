import VigilABI
import VigilDecode

/// Kernel-side counters (the per-CPU `kstats` map, summed over CPUs).
package struct KernelStats: Sendable, Equatable {
    /// Records written to the ring.
    package var submitted: UInt64 = 0
    /// Records lost because the ring was full (reserve/output failed).
    package var ringFull: UInt64 = 0
    /// Records sent with VIGIL_HF_TRUNCATED.
    package var truncated: UInt64 = 0
    /// User or kernel memory reads that failed (fields left empty, record still sent).
    package var readFailed: UInt64 = 0
    /// Failed calls dropped in the kernel because no loaded rule and no state update can use
    /// them (``KernelInterest/dropFailed``): filtered on purpose, not lost.
    package var filteredFailed: UInt64 = 0
    /// Failed opens dropped in the kernel because their path is none of those the loaded rules
    /// can match a failure for (``KernelInterest/failedPaths``): filtered on purpose, not lost.
    package var filteredFailedPath: UInt64 = 0

    package init() {}

    /// Events lost in the kernel (the ring was full: the only way the kernel side loses an event).
    package var drops: UInt64 { ringFull }
}

/// A snapshot of a capture's counters (all monotonically increasing).
package struct CaptureStats: Sendable {
    /// Records received, indexed by event type (``EventType/rawValue``, ``EventType/count`` entries).
    package var recordsByType: [UInt64] = Array(repeating: 0, count: EventType.count)
    /// Records received, indexed by record kind (`VIGIL_REC_*`).
    package var recordsByKind: [UInt64] = Array(repeating: 0, count: Int(VIGIL_REC_MAX.rawValue))
    /// Bytes of records received.
    package var bytes: UInt64 = 0
    /// Records that failed validation (bad size or kind): counted and skipped.
    package var decodeErrors: UInt64 = 0
    /// Kernel-side counters (zero for sources other than the live capture).
    package var kernel = KernelStats()

    package init() {}

    /// Records received (valid ones).
    package var records: UInt64 { recordsByKind.reduce(0, &+) }
    /// Events lost in the kernel.
    package var kernelDrops: UInt64 { kernel.drops }

    /// Records received by Falco event-type name (`openat`, `execve`, `procexit`, ...), types seen only.
    package var recordsByTypeName: [(String, UInt64)] {
        recordsByType.enumerated().compactMap { i, n in n == 0 ? nil : (EventType(rawValue: UInt16(i)).name, n) }
    }
}

/// Counts records on the delivering thread without atomics; ``publish()`` makes
/// a snapshot visible to other threads (called once per batch).
///
/// The counts live behind pointers, not in stored properties: counting a record pays no
/// dynamic exclusivity check and no copy-on-write test.
final class RecordCounter: @unchecked Sendable {
    private struct Totals {
        var bytes: UInt64 = 0
        var malformed: UInt64 = 0
        var dirty = false
    }
    private let totals: UnsafeMutablePointer<Totals>
    private let byType: UnsafeMutableBufferPointer<UInt64>
    private let byKind: UnsafeMutableBufferPointer<UInt64>
    private let published = MutexBox(CaptureStats())

    init() {
        totals = .allocate(capacity: 1)
        totals.initialize(to: Totals())
        byType = .allocate(capacity: EventType.count)
        byType.initialize(repeating: 0)
        byKind = .allocate(capacity: Int(VIGIL_REC_MAX.rawValue))
        byKind.initialize(repeating: 0)
    }

    deinit {
        totals.deinitialize(count: 1); totals.deallocate()
        byType.deallocate()
        byKind.deallocate()
    }

    /// Validates one record (``Event/decode(_:)``, the only check a record gets; for a record
    /// read from the kernel's ring, ``Event/decodeRingRecord(_:)``, which ignores the unused
    /// tail of a ring slot) and counts it: by kind and type when valid, as a decode error when
    /// not (then nil). `bytes` counts what the record took (a ring record's whole slot).
    @inline(__always)
    func admit(_ record: UnsafeRawBufferPointer, fromRing: Bool = false) -> Event? {
        let t = totals
        t.pointee.dirty = true
        let decoded = fromRing ? Event.decodeRingRecord(record) : Event.decode(record)
        guard case .success(let e) = decoded else { t.pointee.malformed &+= 1; return nil }
        let kind = Int(e.recordKind)
        precondition(kind < byKind.count, "record kind \(kind) passed validation but has no counter")
        byKind[kind] &+= 1
        byType[Int(e.type.rawValue) & (EventType.count - 1)] &+= 1
        t.pointee.bytes &+= UInt64(record.count)
        return e
    }

    /// Publishes the counts (only if something changed since the last call).
    func publish() {
        let t = totals
        guard t.pointee.dirty else { return }
        t.pointee.dirty = false
        // Element by element into the published arrays: assigning the arrays would share their
        // storage, and the next admit() would copy the whole array (an allocation per batch).
        let types = byType, kinds = byKind
        published.withLock { s in
            for i in 0..<min(types.count, s.recordsByType.count) { s.recordsByType[i] = types[i] }
            for i in 0..<min(kinds.count, s.recordsByKind.count) { s.recordsByKind[i] = kinds[i] }
            s.bytes = t.pointee.bytes; s.decodeErrors = t.pointee.malformed
        }
    }

    /// The last published snapshot.
    func snapshot() -> CaptureStats { published.withLock { $0 } }
}
