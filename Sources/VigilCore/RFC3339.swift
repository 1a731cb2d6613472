/// RFC 3339 UTC text of epoch nanoseconds (`2026-11-24T05:56:55.123456789Z`), by pure arithmetic
/// (no `gmtime_r`, no intermediate strings): it is a large part of rendering an alert or a trace line.
///
/// One formatter for every place Vigil prints a time: alert JSON and text, syslog (6 digits),
/// `evt.time`-style rule fields (slices of the same 30 bytes), `vigil trace`, the agent's log.
package enum RFC3339 {
    /// Bytes written by ``write(_:fractionDigits:into:)`` with 9 fraction digits.
    package static let maxLength = 30

    /// Writes the timestamp at `p` (at most ``maxLength`` bytes); returns the length.
    /// `fractionDigits` is 9 (Falco), 6 (syslog) or anything in 1...9. Years are clamped to 0...9999.
    @inline(__always)
    package static func write(_ ns: UInt64, fractionDigits: Int = 9, into p: UnsafeMutablePointer<UInt8>) -> Int {
        let digits = max(1, min(9, fractionDigits))
        let secs = Int64(ns / 1_000_000_000)
        var frac = Int(ns % 1_000_000_000)
        let days = secs / 86_400
        let sod = Int(secs - days * 86_400)
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        if m <= 2 { y += 1 }
        var n = 0
        @inline(__always) func put(_ b: UInt8) { p[n] = b; n += 1 }
        @inline(__always) func two(_ v: Int) { put(UInt8(48 + v / 10)); put(UInt8(48 + v % 10)) }
        let yy = Int(max(0, min(9999, y)))
        put(UInt8(48 + yy / 1000)); put(UInt8(48 + yy / 100 % 10)); two(yy % 100)
        put(UInt8(ascii: "-")); two(m); put(UInt8(ascii: "-")); two(d)
        put(UInt8(ascii: "T")); two(sod / 3600); put(UInt8(ascii: ":")); two(sod / 60 % 60)
        put(UInt8(ascii: ":")); two(sod % 60); put(UInt8(ascii: "."))
        for _ in digits..<9 { frac /= 10 }
        var i = n + digits - 1
        while i >= n { p[i] = UInt8(48 + frac % 10); frac /= 10; i -= 1 }
        n += digits
        put(UInt8(ascii: "Z"))
        return n
    }

    /// Appends the timestamp to `out`.
    package static func append(_ ns: UInt64, fractionDigits: Int = 9, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxLength) { buf in
            let n = write(ns, fractionDigits: fractionDigits, into: buf.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[0..<n]))
        }
    }

    /// The timestamp as a string.
    package static func string(_ ns: UInt64, fractionDigits: Int = 9) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxLength) { buf in
            let n = write(ns, fractionDigits: fractionDigits, into: buf.baseAddress!)
            return String(decoding: UnsafeBufferPointer(rebasing: buf[0..<n]), as: UTF8.self)
        }
    }
}
