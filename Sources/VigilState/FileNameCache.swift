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
/// the storage made for the last path that hashed to it, and is used only when its bytes are
/// the same as the open's (a hash collision just replaces the slot). Shared storage is never
/// changed in place: ``FDInfo`` copies it before any change (copy-on-write, the table holds a
/// reference). Owned by the process table (the pipeline thread); not thread-safe.
final class FileNameCache {
    /// Slots in the table (a power of two).
    static let capacity = 1024

    private var slots: [FDInfo.Storage?] = Array(repeating: nil, count: FileNameCache.capacity)
    /// Opens whose names were found in the table.
    private(set) var hits: UInt64 = 0
    /// Opens whose names were made (and then kept).
    private(set) var misses: UInt64 = 0

    /// The storage of a file opened by the path `raw` (as passed) whose resolved name is `name`
    /// (the same bytes as `raw` when nil). Both are taken as UTF-8, invalid sequences repaired
    /// (as ``UnsafeRawBufferPointer/vigilString`` does).
    func storage(raw: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer?) -> FDInfo.Storage {
        let sameName = name == nil || Self.equal(raw, name!)
        var h = Self.hash(raw)
        if !sameName { h = Self.hash(name!, seed: h ^ 0x9E37_79B9_7F4A_7C15) }
        let i = Int(truncatingIfNeeded: h >> 32) & (Self.capacity - 1)
        if let s = slots[i], Self.matches(s, raw: raw, name: sameName ? nil : name) {
            hits &+= 1
            return s
        }
        misses &+= 1
        let rawString = raw.vigilString
        let s = FDInfo.Storage(name: sameName ? rawString : name!.vigilString, nameRaw: rawString, clientIP: [], serverIP: [])
        slots[i] = s
        return s
    }

    /// Drops every slot (the memory goes back when no fd uses the names).
    func removeAll() {
        for i in slots.indices { slots[i] = nil }
    }

    /// Whether `s` is the storage of `raw` named `name` (nil: named `raw`), byte for byte.
    private static func matches(_ s: FDInfo.Storage, raw: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer?) -> Bool {
        guard s.clientIP.isEmpty && s.serverIP.isEmpty else { return false }
        var r = s.nameRaw
        guard r.withUTF8({ equal(UnsafeRawBufferPointer($0), raw) }) else { return false }
        var n = s.name
        return n.withUTF8 { equal(UnsafeRawBufferPointer($0), name ?? raw) }
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
