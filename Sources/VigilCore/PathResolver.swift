/// Lexical path work for fd names: joining a relative path to a base directory
/// and normalising `.`, `..` and repeated slashes, as Falco does for `fd.name`
/// (no file-system access; symlinks are not followed).
package enum PathResolver {
    /// Normalises an absolute path: collapses `//`, drops `.`, resolves `..`
    /// (never above `/`), removes a trailing slash (except for `/` itself).
    /// A relative input is returned normalised but still relative.
    package static func normalize(_ path: String) -> String {
        var u = Array(path.utf8)
        normalizeBytes(&u)
        return String(decoding: u, as: UTF8.self)
    }

    /// Resolves `path` against `base` (an absolute directory, with or without a
    /// trailing slash): absolute paths are only normalised.
    package static func resolve(_ path: String, against base: String) -> String {
        var u: [UInt8] = []
        resolve(UnsafeRawBufferPointer(start: nil, count: 0), string: path, base: base, into: &u)
        return String(decoding: u, as: UTF8.self)
    }

    /// Resolves raw path bytes (from a record) against `base`.
    package static func resolve(_ path: UnsafeRawBufferPointer, against base: String) -> String {
        var u: [UInt8] = []
        resolve(path, string: nil, base: base, into: &u)
        return String(decoding: u, as: UTF8.self)
    }

    /// Resolves `raw` (or `string` when given) against `base` into `u` (reusing its storage).
    package static func resolve(_ raw: UnsafeRawBufferPointer, string: String?, base: String, into u: inout [UInt8]) {
        let first: UInt8? = string.map { $0.utf8.first } ?? (raw.count > 0 ? raw[0] : nil)
        u.removeAll(keepingCapacity: true)
        if first != UInt8(ascii: "/") {
            u.append(contentsOf: base.utf8)
            u.append(UInt8(ascii: "/"))
        }
        if let s = string { u.append(contentsOf: s.utf8) } else { u.append(contentsOf: raw) }
        normalizeBytes(&u)
    }

    /// Whether an absolute path is already normal: no empty, `.` or `..`
    /// segments and no trailing slash (so it can be used as-is, without copying).
    /// Every slash is found eight bytes at a time; only a slash's next bytes are looked at.
    package static func isNormalAbsolute(_ p: UnsafeRawBufferPointer) -> Bool {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        let n = p.count
        guard n > 0, let base = p.baseAddress, p[0] == slash else { return false }
        if n == 1 { return true }
        if p[n - 1] == slash { return false }
        // The segment after the slash at `i` (not the last byte) is not empty, `.` or `..`.
        @inline(__always) func segmentIsNormal(_ i: Int) -> Bool {
            let s = i + 1
            let c = p[s]
            if c == slash { return false }
            if c == dot {
                let e = s + 1
                if e >= n || p[e] == slash { return false }  // "."
                if p[e] == dot && (e + 1 >= n || p[e + 1] == slash) { return false }  // ".."
            }
            return true
        }
        var i = 0
        let low7: UInt64 = 0x7f7f_7f7f_7f7f_7f7f
        while i + 8 <= n {
            let x = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ 0x2f2f_2f2f_2f2f_2f2f
            var slashes = ~(((x & low7) &+ low7) | x | low7)  // 0x80 in each byte that is a slash
            while slashes != 0 {
                if !segmentIsNormal(i + slashes.trailingZeroBitCount >> 3) { return false }
                slashes &= slashes &- 1
            }
            i += 8
        }
        while i < n {
            if p[i] == slash && !segmentIsNormal(i) { return false }
            i += 1
        }
        return true
    }

    /// Normalises path bytes in place (see ``normalize(_:)``).
    package static func normalizeBytes(_ u: inout [UInt8]) {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        guard !u.isEmpty else { return }
        let absolute = u[0] == slash
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var segStarts: [Int] = []  // start index in `out` of each kept segment (of its leading slash)
        var i = 0
        let n = u.count
        while i < n {
            while i < n && u[i] == slash { i += 1 }
            if i >= n { break }
            var j = i
            while j < n && u[j] != slash { j += 1 }
            let len = j - i
            if len == 1 && u[i] == dot {
                // skip "."
            } else if len == 2 && u[i] == dot && u[i + 1] == dot {
                if let s = segStarts.popLast() {
                    out.removeSubrange(s..<out.count)
                } else if !absolute {
                    segStarts.removeAll()
                    if !out.isEmpty { out.append(slash) }
                    out.append(dot); out.append(dot)
                }
            } else {
                segStarts.append(out.count)
                if absolute || !out.isEmpty { out.append(slash) }
                out.append(contentsOf: u[i..<j])
            }
            i = j
        }
        if out.isEmpty { out = absolute ? [slash] : [dot] }
        u = out
    }
}
