/// Appends JSON text to a byte buffer without going through Foundation.
///
/// Strings are written byte-exact where they are valid UTF-8; control characters
/// are escaped (`\n`, `\u001b`, ...) and bytes that are not valid UTF-8 are written
/// as U+FFFD, so hostile input (argv with newlines, ANSI escapes, invalid UTF-8)
/// always yields one valid JSON line. Reuse one writer per thread and call
/// ``reset()`` between records to avoid allocating per event.
public struct JSONWriter: Sendable {
    /// The JSON text written so far.
    public private(set) var bytes: [UInt8]
    private var needsComma: [Bool] = []

    /// Creates an empty writer with `capacity` bytes reserved.
    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Clears the buffer, keeping its capacity.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma.removeAll(keepingCapacity: true)
    }

    /// The text as a Swift string.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func separator() {
        if let last = needsComma.last {
            if last { bytes.append(UInt8(ascii: ",")) } else { needsComma[needsComma.count - 1] = true }
        }
    }

    /// Starts an object (as a value in the current context).
    public mutating func beginObject() { separator(); bytes.append(UInt8(ascii: "{")); needsComma.append(false) }
    /// Ends the current object.
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma.removeLast() }
    /// Starts an array (as a value in the current context).
    public mutating func beginArray() { separator(); bytes.append(UInt8(ascii: "[")); needsComma.append(false) }
    /// Ends the current array.
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma.removeLast() }

    /// Writes an object key; the next call writes its value.
    public mutating func key(_ k: String) {
        separator()
        var k = k
        k.withUTF8 { appendEscaped($0) }
        bytes.append(UInt8(ascii: ":"))
        // The value that follows must not write a separator.
        needsComma.append(false)
        pendingKey = true
    }
    private var pendingKey = false

    private mutating func valueSeparator() {
        if pendingKey { pendingKey = false; needsComma.removeLast() } else { separator() }
    }

    /// Writes a string value.
    public mutating func string(_ s: String) {
        valueSeparator()
        var s = s
        s.withUTF8 { appendEscaped($0) }
        closeValue()
    }
    /// Writes raw bytes as a JSON string (invalid UTF-8 becomes U+FFFD).
    public mutating func string(bytes raw: UnsafeRawBufferPointer) {
        valueSeparator()
        appendEscaped(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
        closeValue()
    }
    /// Writes a signed integer.
    public mutating func int(_ v: Int64) { valueSeparator(); appendDecimal(v); closeValue() }
    /// Writes an unsigned integer.
    public mutating func uint(_ v: UInt64) {
        valueSeparator()
        if v <= UInt64(Int64.max) { appendDecimal(Int64(v)) } else { bytes.append(contentsOf: String(v).utf8) }
        closeValue()
    }
    /// Writes a floating-point number (non-finite values become `null`).
    public mutating func double(_ v: Double) {
        valueSeparator()
        if v.isFinite { bytes.append(contentsOf: "\(v)".utf8) } else { bytes.append(contentsOf: "null".utf8) }
        closeValue()
    }
    /// Writes a boolean.
    public mutating func bool(_ v: Bool) { valueSeparator(); bytes.append(contentsOf: (v ? "true" : "false").utf8); closeValue() }
    /// Writes `null`.
    public mutating func null() { valueSeparator(); bytes.append(contentsOf: "null".utf8); closeValue() }
    /// Writes already-encoded JSON text as a value (the caller guarantees validity).
    public mutating func raw(_ json: String) { valueSeparator(); bytes.append(contentsOf: json.utf8); closeValue() }

    private mutating func closeValue() {
        // After a value inside an object or array, the next element needs a comma.
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = true }
    }

    private mutating func appendDecimal(_ v: Int64) {
        if v == 0 { bytes.append(UInt8(ascii: "0")); return }
        var buf: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v.magnitude
        var i = 20
        withUnsafeMutableBytes(of: &buf) { p in
            while n > 0 { i -= 1; p[i] = UInt8(ascii: "0") &+ UInt8(n % 10); n /= 10 }
            if v < 0 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[i..<20]))
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `s` as a quoted, escaped JSON string.
    public mutating func appendEscaped(_ s: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var i = 0
        let n = s.count
        var run = 0  // start of the pending run of bytes copied as-is
        while i < n {
            let c = s[i]
            // Fast path: printable ASCII other than '"' and '\\' is copied in runs.
            if c >= 0x20 && c < 0x7F && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { i += 1; continue }
            if run < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: s[run..<i])) }
            if c < 0x80 {
                switch c {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(c)
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(c)
                case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
                default:  // other control characters and DEL
                    bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              Self.hex[Int(c >> 4)], Self.hex[Int(c & 0xF)]])
                }
                i += 1
            } else {
                let len = Self.validUTF8SequenceLength(s, i)
                if len == 0 {
                    bytes.append(contentsOf: [0xEF, 0xBF, 0xBD]) // U+FFFD
                    i += 1
                } else {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: s[i..<(i + len)]))
                    i += len
                }
            }
            run = i
        }
        if run < n { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: s[run..<n])) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Length of the valid UTF-8 multi-byte sequence at `i`, or 0 if invalid.
    @inline(__always)
    static func validUTF8SequenceLength(_ s: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let c = s[i]
        let n = s.count
        func cont(_ j: Int) -> Bool { j < n && s[j] & 0xC0 == 0x80 }
        switch c {
        case 0xC2...0xDF: return cont(i + 1) ? 2 : 0
        case 0xE0: return (i + 1 < n && s[i + 1] >= 0xA0 && s[i + 1] <= 0xBF && cont(i + 2)) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return (cont(i + 1) && cont(i + 2)) ? 3 : 0
        case 0xED: return (i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F && cont(i + 2)) ? 3 : 0
        case 0xF0: return (i + 1 < n && s[i + 1] >= 0x90 && s[i + 1] <= 0xBF && cont(i + 2) && cont(i + 3)) ? 4 : 0
        case 0xF1...0xF3: return (cont(i + 1) && cont(i + 2) && cont(i + 3)) ? 4 : 0
        case 0xF4: return (i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x8F && cont(i + 2) && cont(i + 3)) ? 4 : 0
        default: return 0
        }
    }
}
