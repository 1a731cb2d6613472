#if canImport(Glibc)
import Glibc
#endif
import VigilDecode

/// The name storage (``FDInfo/Storage``) of recently opened files, shared by every open of
/// the same path: a node opens the same few files over and over (a program's libraries and
/// locale files at each exec), and sharing their names makes such an open allocate nothing
/// (no strings, no storage box) instead of three allocations, and its close free nothing.
///
/// A direct-mapped table of ``capacity`` slots keyed by a hash of the path bytes; a slot holds
/// the storage made for the last path that hashed to it (with a copy of the path's bytes), and
/// is used only when those bytes are the same as the open's (a hash collision just replaces the slot). Shared storage is never
/// changed in place: ``FDInfo`` copies it before any change (copy-on-write, the table holds a
/// reference). Owned by the process table (the pipeline thread); not thread-safe.
final class FileNameCache {
    /// Slots in the table (a power of two).
    static let capacity = 1024
    /// Longest path (bytes, the resolved name's included) kept in the table: longer ones get
    /// storage of their own at each open, so the table holds at most about
    /// `capacity * 2 * maxKeyBytes` bytes of names and keys (a workload opening long paths
    /// cannot make it grow).
    static let maxKeyBytes = 512

    /// One slot: the key (the hash, the path bytes and the resolved name's bytes, kept in a
    /// buffer of their own so that a lookup compares bytes without touching the storage's
    /// strings) and the storage made for it.
    struct Slot {
        var hash: UInt64 = 0
        var rawCount = 0
        /// -1: the resolved name is the path itself.
        var nameCount = -1
        var key: UnsafeMutableRawPointer? = nil
        var storage: FDInfo.Storage? = nil
    }

    private var slots: UnsafeMutablePointer<Slot>
    /// Opens whose names were found in the table.
    private(set) var hits: UInt64 = 0
    /// Opens whose names were made (and then kept).
    private(set) var misses: UInt64 = 0

    init() {
        slots = .allocate(capacity: Self.capacity)
        slots.initialize(repeating: Slot(), count: Self.capacity)
    }

    deinit {
        for i in 0..<Self.capacity { slots[i].key?.deallocate() }
        slots.deinitialize(count: Self.capacity)
        slots.deallocate()
    }

    /// The storage of a file opened by the path `raw` (as passed) whose resolved name is `name`
    /// (the same bytes as `raw` when nil). Both are taken as UTF-8, invalid sequences repaired
    /// (as ``UnsafeRawBufferPointer/vigilString`` does).
    func storage(raw: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer?) -> FDInfo.Storage {
        storage(raw: raw, name: name, ifNew: { true })!
    }

    /// ``storage(raw:name:)`` for names that may not be cached: the table's storage when it holds
    /// these exact bytes (they passed `ifNew` when they were added: the caller's test of the
    /// same bytes, so it is not asked again), else new storage if `ifNew()` holds (kept in the
    /// table), else nil (the caller names the fd its own way).
    @inline(__always)
    func storage(raw: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer?, ifNew: () -> Bool) -> FDInfo.Storage? {
        var resolved = name
        if let n = resolved, Self.equal(raw, n) { resolved = nil }
        var h = Self.hash(raw)
        if let n = resolved { h = Self.hash(n, seed: h ^ 0x9E37_79B9_7F4A_7C15) }
        let slot = slots + (Int(truncatingIfNeeded: h >> 32) & (Self.capacity - 1))
        if slot.pointee.hash == h, slot.pointee.rawCount == raw.count, slot.pointee.nameCount == (resolved?.count ?? -1),
           let key = slot.pointee.key, let s = slot.pointee.storage,
           Self.equal(UnsafeRawBufferPointer(start: key, count: raw.count), raw),
           resolved.map({ Self.equal(UnsafeRawBufferPointer(start: key + raw.count, count: $0.count), $0) }) ?? true {
            hits &+= 1
            return s
        }
        guard ifNew() else { return nil }
        misses &+= 1
        let rawString = raw.vigilString
        let s = FDInfo.Storage(name: resolved?.vigilString ?? rawString, nameRaw: rawString, clientIP: [], serverIP: [])
        let total = raw.count + (resolved?.count ?? 0)
        guard total <= Self.maxKeyBytes else { return s }
        slot.pointee.key?.deallocate()
        let key = UnsafeMutableRawPointer.allocate(byteCount: max(1, total), alignment: 8)
        if raw.count > 0 { key.copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
        if let n = resolved, n.count > 0 { (key + raw.count).copyMemory(from: n.baseAddress!, byteCount: n.count) }
        slot.pointee = Slot(hash: h, rawCount: raw.count, nameCount: resolved?.count ?? -1, key: key, storage: s)
        return s
    }

    @inline(__always)
    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0 else { return true }
        return memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }

    /// A 64-bit hash of `bytes`, eight at a time.
    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
        var h = seed ^ UInt64(bytes.count)
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x0000_0100_0000_01B3
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n { tail |= UInt64(bytes[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0x0000_0100_0000_01B3
        h ^= h >> 32
        return h &* 0x9E37_79B9_7F4A_7C15
    }
}
