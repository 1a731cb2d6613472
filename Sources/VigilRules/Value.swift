#if canImport(Glibc)
import Glibc
#endif

/// A field value during evaluation: a number, a boolean, bytes in the scratch
/// arena (or the event record), or an IP address. Plain data, no references.
struct FV {
    enum Kind: UInt8 { case unset = 0, int, bool, str, ip }
    var kind: Kind
    var len: Int32
    var i: Int64
    var p: UnsafePointer<UInt8>?

    @inline(__always) static var unset: FV { FV(kind: .unset, len: 0, i: 0, p: nil) }
    @inline(__always) static func int(_ v: Int64) -> FV { FV(kind: .int, len: 0, i: v, p: nil) }
    @inline(__always) static func bool(_ v: Bool) -> FV { FV(kind: .bool, len: 0, i: v ? 1 : 0, p: nil) }
    @inline(__always) static func str(_ p: UnsafePointer<UInt8>?, _ n: Int) -> FV { FV(kind: .str, len: Int32(n), i: 0, p: p) }

    @inline(__always) var isSet: Bool { kind != .unset }
    @inline(__always) var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: p, count: Int(len)) }
}

/// A bump allocator for the strings computed while evaluating one event.
/// Reset per event; never shrinks, so the hot path allocates nothing once warm.
final class Arena {
    @exclusivity(unchecked) private var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var cap: Int
    @exclusivity(unchecked) private var used = 0
    @exclusivity(unchecked) private var spill: [UnsafeMutablePointer<UInt8>] = []

    init(capacity: Int = 1 << 20) {
        cap = capacity
        base = .allocate(capacity: capacity)
    }
    deinit {
        base.deallocate()
        for p in spill { p.deallocate() }
    }

    @inline(__always) func reset() {
        used = 0
        if !spill.isEmpty { for p in spill { p.deallocate() }; spill.removeAll(keepingCapacity: true) }
    }

    /// `n` bytes plus a NUL terminator.
    @inline(__always) func alloc(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        let need = (n + 8) & ~7
        if used + need > cap {
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: n + 1)
            spill.append(p)
            p[n] = 0
            return p
        }
        let p = base + used
        used += need
        p[n] = 0
        return p
    }

    @inline(__always) func copy(_ src: UnsafeRawBufferPointer) -> FV {
        let p = alloc(src.count)
        if src.count > 0, let b = src.baseAddress { memcpy(p, b, src.count) }
        return .str(UnsafePointer(p), src.count)
    }

    /// A view of `s`: large native strings are referenced in place (their
    /// storage is NUL-terminated and owned by the state object the string was
    /// read from, alive for the whole evaluation); small ones are copied.
    @inline(__always) func copy(_ s: String) -> FV {
        if s.utf8.count > 15, let v = s.utf8.withContiguousStorageIfAvailable({ b -> FV in
            .str(b.baseAddress, b.count)
        }), v.p != nil, v.p![Int(v.len)] == 0 {
            return v
        }
        var s = s
        return s.withUTF8 { copy(UnsafeRawBufferPointer($0)) }
    }

    /// Copies `s` into the arena (for strings that do not outlive this call).
    @inline(__always) func copyOwned(_ s: String) -> FV {
        var s = s
        return s.withUTF8 { copy(UnsafeRawBufferPointer($0)) }
    }

    /// Builds a string from pieces: call `put` repeatedly between `begin` and `end`.
    /// Capacity must be reserved up front with `begin(max:)`.
    @inline(__always) func begin(max: Int) -> UnsafeMutablePointer<UInt8> { alloc(max) }
}

/// A writer into reserved arena memory.
struct ArenaWriter {
    let start: UnsafeMutablePointer<UInt8>
    var n = 0
    let cap: Int
    init(_ arena: Arena, max: Int) { start = arena.alloc(max); cap = max }
    @inline(__always) mutating func put(_ b: UInt8) { if n < cap { start[n] = b; n += 1 } }
    @inline(__always) mutating func put(_ buf: UnsafeRawBufferPointer) {
        let k = min(buf.count, cap - n)
        if k > 0, let src = buf.baseAddress { memcpy(start + n, src, k); n += k }
    }
    @inline(__always) mutating func put(_ s: String) {
        var s = s
        s.withUTF8 { put(UnsafeRawBufferPointer($0)) }
    }
    mutating func putStatic(_ s: StaticString) { put(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }
    mutating func putInt(_ v: Int64) {
        if v < 0 { put(45); putUInt(UInt64(bitPattern: 0 &- v)) } else { putUInt(UInt64(v)) }
    }
    mutating func putUInt(_ v: UInt64) {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &tmp) { t in
            var x = v, k = 0
            repeat { t[k] = UInt8(48 + x % 10); x /= 10; k += 1 } while x > 0
            while k > 0 { k -= 1; put(t[k]) }
        }
    }
    mutating func putHex(_ v: UInt64) {
        putStatic("0x")
        let digits: StaticString = "0123456789abcdef"
        var started = false
        for shift in stride(from: 60, through: 0, by: -4) {
            let d = Int((v >> UInt64(shift)) & 15)
            if d != 0 || started || shift == 0 { started = true; put(digits.utf8Start[d]) }
        }
    }
    mutating func putIP(_ ip: UnsafeBufferPointer<UInt8>, v6: Bool) {
        if !v6 {
            for k in 0..<4 { if k > 0 { put(46) }; putUInt(UInt64(ip[k])) }
        } else {
            // RFC 5952-ish: hex groups, longest zero run compressed.
            var groups = [UInt16](repeating: 0, count: 8)
            for g in 0..<8 { groups[g] = UInt16(ip[2 * g]) << 8 | UInt16(ip[2 * g + 1]) }
            var bestS = -1, bestL = 0, s = -1
            for g in 0...8 {
                if g < 8 && groups[g] == 0 { if s < 0 { s = g } } else if s >= 0 {
                    if g - s > bestL && g - s > 1 { bestS = s; bestL = g - s }; s = -1
                }
            }
            let digits: StaticString = "0123456789abcdef"
            var g = 0
            while g < 8 {
                if g == bestS { putStatic("::"); g += bestL; continue }
                if g > 0 && g != bestS + bestL { put(58) }
                let v = groups[g]
                var started = false
                for shift in stride(from: 12, through: 0, by: -4) {
                    let d = Int((v >> UInt16(shift)) & 15)
                    if d != 0 || started || shift == 0 { started = true; put(digits.utf8Start[d]) }
                }
                g += 1
            }
        }
    }
    var value: FV { start[n] = 0; return .str(UnsafePointer(start), n) }
}
