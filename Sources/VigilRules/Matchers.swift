#if canImport(Glibc)
import Glibc
#endif
import VigilCore

@inline(__always) func fnv1a(_ h0: UInt64, _ c: UInt8) -> UInt64 { (h0 ^ UInt64(c)) &* 0x100000001b3 }
let fnvBasis: UInt64 = 0xcbf29ce484222325

/// Hash of a byte string, 8 bytes at a time (multiply-xorshift mixing).
@inline(__always) func fnvHash(_ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
    guard let base = b.baseAddress else { return fnvBasis }
    let n = b.count
    var h = fnvBasis ^ (UInt64(n) &* 0x9E3779B97F4A7C15)
    var k = 0
    while k + 8 <= n {
        let w = UnsafeRawPointer(base + k).loadUnaligned(as: UInt64.self)
        h = (h ^ w) &* 0xff51afd7ed558ccd
        h ^= h >> 32
        k += 8
    }
    if k < n {
        // The last 1-7 bytes in at most two loads, all of them covered (for a given count, each
        // tail gives its own word; the count is in `h` already).
        let rem = n - k
        let p = UnsafeRawPointer(base + k)
        let w: UInt64
        if rem >= 4 {
            w = UInt64(p.loadUnaligned(as: UInt32.self)) | UInt64(p.loadUnaligned(fromByteOffset: rem - 4, as: UInt32.self)) << 32
        } else {
            let b = p.assumingMemoryBound(to: UInt8.self)
            w = UInt64(b[0]) | UInt64(b[rem >> 1]) << 8 | UInt64(b[rem - 1]) << 16
        }
        h = (h ^ w) &* 0xc4ceb9fe1a85ec53
        h ^= h >> 29
    }
    return h
}

/// An immutable hash set of byte strings (for `in` lists): open addressing over
/// one byte pool in permanent memory; lookups hash the value in place, allocate
/// nothing and touch no reference counts.
struct ByteSet {
    let pool: UnsafePointer<UInt8>
    let hashes: UnsafePointer<UInt64>
    let offsets: UnsafePointer<Int32>
    let lengths: UnsafePointer<Int32>
    let mask: Int
    let count: Int
    /// Which lengths (0...255, and "256 or more" as bit 255) occur: most misses are decided without hashing.
    let lengths0: UInt64, lengths1: UInt64, lengths2: UInt64, lengths3: UInt64

    @inline(__always) func hasLength(_ n: Int) -> Bool {
        let l = min(n, 255)
        let word: UInt64 = l < 64 ? lengths0 : (l < 128 ? lengths1 : (l < 192 ? lengths2 : lengths3))
        return word & (1 << UInt64(l & 63)) != 0
    }

    init(_ items: [[UInt8]], store: PermanentStore) {
        var seen = Set<[UInt8]>()
        let unique = items.filter { seen.insert($0).inserted }
        var cap = 8
        while cap < unique.count * 2 { cap <<= 1 }
        var hs = [UInt64](repeating: 0, count: cap)
        var offs = [Int32](repeating: -1, count: cap)
        var lens = [Int32](repeating: 0, count: cap)
        var pool: [UInt8] = []
        for it in unique {
            let h = it.withUnsafeBufferPointer { fnvHash($0) }
            var k = Int(truncatingIfNeeded: h) & (cap - 1)
            while offs[k] >= 0 { k = (k + 1) & (cap - 1) }
            hs[k] = h; offs[k] = Int32(pool.count); lens[k] = Int32(it.count)
            pool += it
        }
        self.pool = store.copy(pool); hashes = store.copy(hs); offsets = store.copy(offs); lengths = store.copy(lens)
        var lm: [UInt64] = [0, 0, 0, 0]
        for it in unique { let l = min(it.count, 255); lm[l / 64] |= 1 << UInt64(l % 64) }
        lengths0 = lm[0]; lengths1 = lm[1]; lengths2 = lm[2]; lengths3 = lm[3]
        mask = cap - 1
        count = unique.count
    }

    @inline(__always) func contains(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard hasLength(b.count) else { return false }
        return contains(b, hash: fnvHash(b))
    }

    /// ``contains(_:)`` on a set read in place (no copy of its 80 bytes per call).
    static func contains(_ set: UnsafePointer<ByteSet>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard set.pointee.hasLength(b.count) else { return false }
        let h = fnvHash(b)
        let mask = set.pointee.mask, offsets = set.pointee.offsets, hashes = set.pointee.hashes, lengths = set.pointee.lengths
        var k = Int(truncatingIfNeeded: h) & mask
        while offsets[k] >= 0 {
            if hashes[k] == h && Int(lengths[k]) == b.count {
                if b.count == 0 || memcmp(set.pointee.pool + Int(offsets[k]), b.baseAddress!, b.count) == 0 { return true }
            }
            k = (k + 1) & mask
        }
        return false
    }

    @inline(__always) func contains(_ b: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Bool {
        var k = Int(truncatingIfNeeded: h) & mask
        while offsets[k] >= 0 {
            if hashes[k] == h && Int(lengths[k]) == b.count {
                if b.count == 0 || memcmp(pool + Int(offsets[k]), b.baseAddress!, b.count) == 0 { return true }
            }
            k = (k + 1) & mask
        }
        return false
    }
}

/// Path-prefix index for `pmatch`: a value matches when it equals one of the
/// paths or lies below one (component-wise). The value is probed at each `/`
/// boundary, and only where a path of that length exists (a length bitmap
/// decides most misses without hashing), which walks the same path a component
/// trie would.
struct PathPrefixSet {
    let set: ByteSet
    let matchAll: Bool

    init(_ paths: [String], store: PermanentStore) {
        var items: [[UInt8]] = []
        var all = false
        for p in paths {
            var b = Array(p.utf8)
            while b.count > 1 && b.last == 47 { b.removeLast() }
            if b == [47] { all = true }
            items.append(b)
        }
        set = ByteSet(items, store: store)
        matchAll = all
    }

    @inline(__always) func matches(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        if matchAll { return v.first == 47 }
        // Probe each component boundary whose prefix length occurs in the set.
        for k in 1..<max(v.count, 1) where v[k] == 47 && set.hasLength(k) {
            if set.contains(UnsafeBufferPointer(rebasing: v[0..<k])) { return true }
        }
        var n = v.count
        if n > 1 && v[n - 1] == 47 { n -= 1 } // trailing slash: compare without it
        return set.contains(UnsafeBufferPointer(rebasing: v[0..<n]))
    }

    /// ``matches(_:)`` on a set read in place (no copy of it per call).
    static func matches(_ p: UnsafePointer<PathPrefixSet>, _ v: UnsafeBufferPointer<UInt8>) -> Bool {
        if p.pointee.matchAll { return v.first == 47 }
        let set = (UnsafeRawPointer(p) + MemoryLayout<PathPrefixSet>.offset(of: \PathPrefixSet.set)!).assumingMemoryBound(to: ByteSet.self)
        for k in 1..<max(v.count, 1) where v[k] == 47 && set.pointee.hasLength(k) {
            if ByteSet.contains(set, UnsafeBufferPointer(rebasing: v[0..<k])) { return true }
        }
        var n = v.count
        if n > 1 && v[n - 1] == 47 { n -= 1 } // trailing slash: compare without it
        return ByteSet.contains(set, UnsafeBufferPointer(rebasing: v[0..<n]))
    }
}

/// A compiled POSIX extended regex, matched against the whole value. The
/// regex_t lives in the rule set's permanent store.
struct CompiledRegex {
    let re: UnsafeMutablePointer<regex_t>

    /// Longest pattern accepted, in bytes.
    static let maxPatternBytes = 4096
    /// Budget for the compiled size estimated by `estimatedSize`: glibc's regcomp copies a
    /// repeated atom once per repetition (`x+` as `xx*`, `x{n}` n times), so stacked or nested
    /// quantifiers grow it exponentially (24 stacked `+` take about 3 GB).
    static let maxEstimatedSize = 50_000

    init(_ pattern: String, store: PermanentStore) throws(RuleCompileError) {
        if pattern.utf8.count > Self.maxPatternBytes {
            throw RuleCompileError(offset: nil, message: "regex longer than \(Self.maxPatternBytes) bytes")
        }
        if Self.estimatedSize(pattern) > Self.maxEstimatedSize {
            throw RuleCompileError(offset: nil, message: "regex '\(pattern.prefix(80))' too complex: its repetitions expand past \(Self.maxEstimatedSize) nodes")
        }
        let r = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let rc = regcomp(r, "^(" + pattern + ")$", REG_EXTENDED | REG_NOSUB)
        if rc != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            regerror(rc, r, &buf, 256)
            r.deallocate()
            let msg = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw RuleCompileError(offset: nil, message: "invalid regex '\(pattern)': \(msg)")
        }
        store.adopt(r)
        re = r
    }

    /// `p` must be NUL-terminated (arena strings are).
    @inline(__always) func matches(_ p: UnsafePointer<UInt8>) -> Bool {
        p.withMemoryRebound(to: CChar.self, capacity: 1) { regexec(re, $0, 0, nil, 0) == 0 }
    }

    /// An upper estimate of the nodes regcomp builds for an extended regex: atoms count 1, a
    /// group the sum of its alternatives, and each quantifier multiplies the atom before it
    /// (`+` by 2, `{m,n}` by the larger bound plus 1; stacked quantifiers multiply again).
    /// Saturates instead of overflowing.
    static func estimatedSize(_ pattern: String) -> Int {
        let b = Array(pattern.utf8)
        let cap = Int.max / 4
        func mul(_ a: Int, _ k: Int) -> Int { a > cap / max(k, 1) ? cap : a * k }
        // Per open group: (sum of the finished alternatives' sizes, size of the current one).
        var groups: [(done: Int, current: Int)] = [(0, 0)]
        var last = 0  // size of the atom a following quantifier applies to
        var i = 0
        while i < b.count {
            let c = b[i]
            switch c {
            case UInt8(ascii: "("):
                groups.append((0, 0)); last = 0; i += 1
            case UInt8(ascii: ")"):
                if groups.count > 1 {
                    let g = groups.removeLast()
                    let size = min(cap, g.done + g.current + 1)
                    groups[groups.count - 1].current = min(cap, groups[groups.count - 1].current + size)
                    last = size
                }
                i += 1
            case UInt8(ascii: "|"):
                let g = groups[groups.count - 1]
                groups[groups.count - 1] = (min(cap, g.done + g.current), 0); last = 0; i += 1
            case UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "+"), UInt8(ascii: "{"):
                var k = c == UInt8(ascii: "+") ? 2 : 1
                i += 1
                if c == UInt8(ascii: "{") {
                    var bound = 0, n = 0
                    while i < b.count, b[i] != UInt8(ascii: "}") {
                        if b[i] >= 48 && b[i] <= 57 { n = min(n * 10 + Int(b[i] - 48), 1 << 20); bound = max(bound, n) } else { n = 0 }
                        i += 1
                    }
                    i += 1
                    k = bound + 1
                }
                let grown = mul(last, k)
                groups[groups.count - 1].current = min(cap, groups[groups.count - 1].current - last + grown)
                last = grown
            case UInt8(ascii: "["):
                // A bracket expression is one atom: skip to its closing ']' (a ']' first is literal).
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "^") { i += 1 }
                if i < b.count, b[i] == UInt8(ascii: "]") { i += 1 }
                while i < b.count, b[i] != UInt8(ascii: "]") {
                    if b[i] == UInt8(ascii: "["), i + 1 < b.count, b[i + 1] == UInt8(ascii: ":") || b[i + 1] == UInt8(ascii: ".") || b[i + 1] == UInt8(ascii: "=") {
                        let close = b[i + 1]
                        i += 2
                        while i + 1 < b.count, !(b[i] == close && b[i + 1] == UInt8(ascii: "]")) { i += 1 }
                        i += 2
                    } else {
                        i += 1
                    }
                }
                i += 1
                groups[groups.count - 1].current = min(cap, groups[groups.count - 1].current + 1); last = 1
            case UInt8(ascii: "\\"):
                i += 2
                groups[groups.count - 1].current = min(cap, groups[groups.count - 1].current + 1); last = 1
            default:
                i += 1
                groups[groups.count - 1].current = min(cap, groups[groups.count - 1].current + 1); last = 1
            }
        }
        while groups.count > 1 {
            let g = groups.removeLast()
            groups[groups.count - 1].current = min(cap, groups[groups.count - 1].current + g.done + g.current + 1)
        }
        return min(cap, groups[0].done + groups[0].current)
    }
}

/// A validated fnmatch(3) pattern.
struct GlobPattern {
    let pattern: UnsafePointer<CChar>
    let flags: Int32

    init(_ s: String, caseInsensitive: Bool, store: PermanentStore) throws(RuleCompileError) {
        // fnmatch does not report malformed patterns; check brackets and escapes ourselves.
        let b = Array(s.utf8)
        var k = 0
        while k < b.count {
            if b[k] == 92 { // backslash
                if k + 1 >= b.count { throw RuleCompileError(offset: nil, message: "invalid glob '\(s)': trailing backslash") }
                k += 2; continue
            }
            if b[k] == 91 { // [
                var j = k + 1
                if j < b.count && (b[j] == 33 || b[j] == 94) { j += 1 }
                if j < b.count && b[j] == 93 { j += 1 }
                while j < b.count && b[j] != 93 { j += 1 }
                if j >= b.count { throw RuleCompileError(offset: nil, message: "invalid glob '\(s)': unclosed '['") }
                k = j + 1; continue
            }
            k += 1
        }
        pattern = store.copy(s.utf8CString.map { $0 })
        flags = caseInsensitive ? (1 << 4) : 0 // FNM_CASEFOLD
    }

    @inline(__always) func matches(_ p: UnsafePointer<UInt8>) -> Bool {
        p.withMemoryRebound(to: CChar.self, capacity: 1) { fnmatch(pattern, $0, flags) == 0 }
    }
}

/// An IP address or network (for `ipaddr`/`ipnet` comparisons).
struct IPMatch {
    var bytes: [UInt8]   // 4 or 16
    var prefix: Int      // bits

    /// The plain-data form stored in the rule set.
    var pod: IPMatchPOD {
        var p = IPMatchPOD()
        withUnsafeMutableBytes(of: &p.bytes) { for (k, b) in bytes.enumerated() { $0[k] = b } }
        p.len = bytes.count; p.prefix = prefix
        return p
    }

    static func parse(_ s: String, network: Bool) -> IPMatch? {
        var addr = s
        var prefix: Int?
        if let slash = s.firstIndex(of: "/") {
            guard network, let p = Int(s[s.index(after: slash)...]) else { return nil }
            addr = String(s[..<slash]); prefix = p
        }
        // The one IP text parser (glibc's inet_pton): 4 or 16 network-order bytes.
        guard let b = IPText.parse(addr) else { return nil }
        let p = prefix ?? b.count * 8
        guard p >= 0 && p <= b.count * 8 else { return nil }
        return IPMatch(bytes: b, prefix: p)
    }

}

/// An IP address or network as plain data.
struct IPMatchPOD {
    var bytes: (UInt64, UInt64) = (0, 0)
    var len = 0
    var prefix = 0

    @inline(__always) func matches(_ v: UnsafeBufferPointer<UInt8>) -> Bool {
        guard v.count == len else { return false }
        var b = self.bytes
        return withUnsafeBytes(of: &b) { bytes in
        var bits = prefix
        var k = 0
        while bits >= 8 { if v[k] != bytes[k] { return false }; k += 1; bits -= 8 }
        if bits > 0 {
            let m = UInt8(0xff << (8 - bits) & 0xff)
            if v[k] & m != bytes[k] & m { return false }
        }
        return true
        }
    }
}

/// Byte-string helpers on NUL-terminated arena values.
enum Bytes {
    @inline(__always) static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        return memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }
    @inline(__always) static func startsWith(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count >= b.count else { return false }
        if b.isEmpty { return true }
        return memcmp(a.baseAddress!, b.baseAddress!, b.count) == 0
    }
    @inline(__always) static func endsWith(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count >= b.count else { return false }
        if b.isEmpty { return true }
        return memcmp(a.baseAddress! + (a.count - b.count), b.baseAddress!, b.count) == 0
    }
    @inline(__always) static func contains(_ a: UnsafeBufferPointer<UInt8>, _ nb: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = nb.count
        if n == 0 { return true }
        guard a.count >= n else { return false }
        let first = Int32(nb[0])
        var k = 0
        let last = a.count - n
        while k <= last {
            guard let hit = memchr(a.baseAddress! + k, first, last - k + 1) else { return false }
            let off = a.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if n == 1 || memcmp(a.baseAddress! + off + 1, nb.baseAddress! + 1, n - 1) == 0 { return true }
            k = off + 1
        }
        return false
    }
    /// `nb` must be lower case already.
    @inline(__always) static func containsIgnoringCase(_ a: UnsafeBufferPointer<UInt8>, _ nb: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = nb.count
        if n == 0 { return true }
        guard a.count >= n else { return false }
        var k = 0
        while k + n <= a.count {
            var j = 0
            while j < n {
                var c = a[k + j]
                if c >= 65 && c <= 90 { c += 32 }
                if c != nb[j] { break }
                j += 1
            }
            if j == n { return true }
            k += 1
        }
        return false
    }
    /// Lexicographic compare.
    @inline(__always) static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(a.count, b.count)
        if n > 0 { let r = memcmp(a.baseAddress!, b.baseAddress!, n); if r != 0 { return Int(r) } }
        return a.count - b.count
    }
}
