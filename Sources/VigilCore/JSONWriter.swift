/// Vigil's one JSON writer (no Foundation): alert lines, `vigil trace` events, the agent's
/// log, stats and CLI reports.
///
/// One growable raw buffer; static keys copied without escaping; strings escaped in runs
/// (control characters escaped, bytes that are not valid UTF-8 written as U+FFFD), so hostile
/// input (argv with newlines, ANSI escapes, invalid UTF-8) always yields one valid JSON line.
/// Not thread-safe: reuse one per thread and call ``reset()`` between records, so the
/// per-event path does not allocate.
package final class JSONWriter {
    /// Mutable state behind a `let` pointer: no dynamic exclusivity checks on the hot path.
    private struct State {
        var base: UnsafeMutablePointer<UInt8>
        var capacity: Int
        var count: Int
        var needComma: Bool
    }
    private let st: UnsafeMutablePointer<State>

    private var base: UnsafeMutablePointer<UInt8> {
        @inline(__always) get { st.pointee.base }
    }
    private var capacity: Int {
        @inline(__always) get { st.pointee.capacity }
    }
    /// Bytes written so far.
    package var count: Int {
        @inline(__always) get { st.pointee.count }
    }
    private var needComma: Bool {
        @inline(__always) get { st.pointee.needComma }
    }

    /// Creates an empty writer with `capacity` bytes reserved (at least 64).
    package init(capacity: Int = 1024) {
        let c = max(64, capacity)
        st = .allocate(capacity: 1)
        st.initialize(to: State(base: .allocate(capacity: c), capacity: c, count: 0, needComma: false))
    }

    deinit {
        st.pointee.base.deallocate()
        st.deinitialize(count: 1)
        st.deallocate()
    }

    /// The bytes written so far (valid until the next write or ``reset()``).
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy of the bytes written so far.
    package var byteArray: [UInt8] { Array(bytes) }

    /// The text written so far as a string.
    package var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Forgets the content, keeping the buffer.
    @inline(__always) package func reset() { st.pointee.count = 0; st.pointee.needComma = false }

    @inline(__always) private func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ need: Int) {
        var c = capacity * 2
        while c < need { c *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        nb.update(from: base, count: count)
        base.deallocate()
        st.pointee.base = nb
        st.pointee.capacity = c
    }

    @inline(__always) private func put(_ b: UInt8) { reserve(1); base[count] = b; st.pointee.count += 1 }

    @inline(__always) private func put(_ p: UnsafePointer<UInt8>, _ n: Int) {
        reserve(n)
        (base + count).update(from: p, count: n)
        st.pointee.count += n
    }

    @inline(__always) private func comma() {
        if needComma { put(UInt8(ascii: ",")) }
    }

    /// Appends a raw byte (such as a newline between records).
    @inline(__always) package func rawByte(_ b: UInt8) { put(b) }

    /// Starts an object (as a value in the current context).
    package func beginObject() { comma(); put(UInt8(ascii: "{")); st.pointee.needComma = false }
    /// Ends the current object.
    package func endObject() { put(UInt8(ascii: "}")); st.pointee.needComma = true }
    /// Starts an array (as a value in the current context).
    package func beginArray() { comma(); put(UInt8(ascii: "[")); st.pointee.needComma = false }
    /// Ends the current array.
    package func endArray() { put(UInt8(ascii: "]")); st.pointee.needComma = true }

    /// An object key known at compile time (must not need escaping).
    @inline(__always) package func key(_ k: StaticString) {
        comma()
        reserve(k.utf8CodeUnitCount + 3)
        base[count] = UInt8(ascii: "\""); st.pointee.count += 1
        (base + count).update(from: k.utf8Start, count: k.utf8CodeUnitCount)
        st.pointee.count += k.utf8CodeUnitCount
        base[count] = UInt8(ascii: "\""); base[count + 1] = UInt8(ascii: ":"); st.pointee.count += 2
        st.pointee.needComma = false
    }

    /// An object key from a runtime string (escaped).
    package func key(string k: String) {
        comma()
        var k = k
        k.withUTF8 { escaped($0) }
        put(UInt8(ascii: ":"))
        st.pointee.needComma = false
    }

    /// Writes a string value.
    package func string(_ s: String) {
        comma()
        var s = s
        s.withUTF8 { escaped($0) }
        st.pointee.needComma = true
    }

    /// Writes raw bytes as a JSON string (invalid UTF-8 becomes U+FFFD).
    package func string(bytes raw: UnsafeRawBufferPointer) {
        comma()
        escaped(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
        st.pointee.needComma = true
    }

    /// Writes a boolean.
    package func bool(_ v: Bool) {
        comma()
        if v { put(UInt8(ascii: "t")); put(UInt8(ascii: "r")); put(UInt8(ascii: "u")); put(UInt8(ascii: "e")) }
        else { put(UInt8(ascii: "f")); put(UInt8(ascii: "a")); put(UInt8(ascii: "l")); put(UInt8(ascii: "s")); put(UInt8(ascii: "e")) }
        st.pointee.needComma = true
    }

    /// Writes an unsigned integer.
    package func uint(_ v: UInt64) {
        comma()
        decimal(v, negative: false)
        st.pointee.needComma = true
    }

    /// Writes a signed integer.
    package func int(_ v: Int64) {
        comma()
        decimal(v.magnitude, negative: v < 0)
        st.pointee.needComma = true
    }

    /// Writes a floating-point number (non-finite values become `null`).
    package func double(_ v: Double) {
        if v.isFinite { raw("\(v)") } else { null() }
    }

    /// Writes `null`.
    package func null() {
        comma()
        put(UInt8(ascii: "n")); put(UInt8(ascii: "u")); put(UInt8(ascii: "l")); put(UInt8(ascii: "l"))
        st.pointee.needComma = true
    }

    /// Writes already-encoded JSON text as a value (the caller guarantees it is valid JSON).
    package func raw(_ json: String) {
        comma()
        var json = json
        json.withUTF8 { if let b = $0.baseAddress { put(b, $0.count) } }
        st.pointee.needComma = true
    }

    /// Writes RFC 3339 text of epoch nanoseconds as a string value (``RFC3339``), without allocating.
    package func time(_ ns: UInt64, fractionDigits: Int = 9) {
        comma()
        reserve(RFC3339.maxLength + 2)
        base[count] = UInt8(ascii: "\""); st.pointee.count += 1
        st.pointee.count += RFC3339.write(ns, fractionDigits: fractionDigits, into: base + count)
        base[count] = UInt8(ascii: "\""); st.pointee.count += 1
        st.pointee.needComma = true
    }

    @inline(__always) private func decimal(_ v: UInt64, negative: Bool) {
        reserve(21)
        if negative { base[count] = UInt8(ascii: "-"); st.pointee.count += 1 }
        if v == 0 { base[count] = UInt8(ascii: "0"); st.pointee.count += 1; return }
        var digits = 0
        var t = v
        while t > 0 { digits += 1; t /= 10 }
        var n = v
        var i = count + digits - 1
        while n > 0 { base[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n % 10); n /= 10; i -= 1 }
        st.pointee.count += digits
    }

    private static let hex: StaticString = "0123456789abcdef"

    /// Writes `s` quoted and escaped.
    private func escaped(_ s: UnsafeBufferPointer<UInt8>) {
        put(UInt8(ascii: "\""))
        guard let sp = s.baseAddress else { put(UInt8(ascii: "\"")); return }
        let n = s.count
        var i = 0
        var run = 0
        while i < n {
            let c = sp[i]
            if c >= 0x20 && c < 0x7F && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { i += 1; continue }
            if run < i { put(sp + run, i - run) }
            if c < 0x80 {
                reserve(6)
                base[count] = UInt8(ascii: "\\")
                switch c {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): base[count + 1] = c; st.pointee.count += 2
                case 0x0A: base[count + 1] = UInt8(ascii: "n"); st.pointee.count += 2
                case 0x0D: base[count + 1] = UInt8(ascii: "r"); st.pointee.count += 2
                case 0x09: base[count + 1] = UInt8(ascii: "t"); st.pointee.count += 2
                default:
                    let h = JSONWriter.hex.utf8Start
                    base[count + 1] = UInt8(ascii: "u"); base[count + 2] = UInt8(ascii: "0"); base[count + 3] = UInt8(ascii: "0")
                    base[count + 4] = h[Int(c >> 4)]; base[count + 5] = h[Int(c & 0xF)]
                    st.pointee.count += 6
                }
                i += 1
            } else {
                let len = JSONWriter.utf8Length(sp, n, i)
                if len == 0 {
                    reserve(3)
                    base[count] = 0xEF; base[count + 1] = 0xBF; base[count + 2] = 0xBD
                    st.pointee.count += 3
                    i += 1
                } else {
                    put(sp + i, len)
                    i += len
                }
            }
            run = i
        }
        if run < n { put(sp + run, n - run) }
        put(UInt8(ascii: "\""))
    }

    /// Length of the valid UTF-8 multi-byte sequence at `i`, or 0 if invalid.
    @inline(__always)
    static func utf8Length(_ s: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int {
        let c = s[i]
        @inline(__always) func cont(_ j: Int) -> Bool { j < n && s[j] & 0xC0 == 0x80 }
        @inline(__always) func inRange(_ j: Int, _ lo: UInt8, _ hi: UInt8) -> Bool { j < n && s[j] >= lo && s[j] <= hi }
        switch c {
        case 0xC2...0xDF: return cont(i + 1) ? 2 : 0
        case 0xE0: return inRange(i + 1, 0xA0, 0xBF) && cont(i + 2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(i + 1) && cont(i + 2) ? 3 : 0
        case 0xED: return inRange(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0
        case 0xF0: return inRange(i + 1, 0x90, 0xBF) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF1...0xF3: return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF4: return inRange(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0
        default: return 0
        }
    }
}
