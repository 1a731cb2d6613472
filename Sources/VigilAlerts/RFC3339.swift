/// Fast RFC 3339 UTC formatting of epoch nanoseconds (`2026-11-24T05:56:55.123456789Z`), pure
/// arithmetic (no `gmtime_r`, no intermediate strings): it is a large part of rendering an alert.
enum RFC3339 {
    /// Appends the 30-byte timestamp to `out`. `fractionDigits` is 9 (Falco) or 6 (syslog).
    static func append(_ ns: UInt64, fractionDigits: Int = 9, to out: inout [UInt8]) {
        let secs = Int64(ns / 1_000_000_000)
        var frac = Int(ns % 1_000_000_000)
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let sod = Int(secs - days * 86_400)
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        if m <= 2 { y += 1 }
        @inline(__always) func two(_ v: Int) { out.append(UInt8(48 + v / 10)); out.append(UInt8(48 + v % 10)) }
        let yy = Int(max(0, min(9999, y)))
        out.append(UInt8(48 + yy / 1000)); out.append(UInt8(48 + yy / 100 % 10)); two(yy % 100)
        out.append(UInt8(ascii: "-")); two(m); out.append(UInt8(ascii: "-")); two(d)
        out.append(UInt8(ascii: "T")); two(sod / 3600); out.append(UInt8(ascii: ":")); two(sod / 60 % 60)
        out.append(UInt8(ascii: ":")); two(sod % 60); out.append(UInt8(ascii: "."))
        if fractionDigits < 9 { for _ in fractionDigits..<9 { frac /= 10 } }
        var div = 1
        for _ in 1..<max(1, fractionDigits) { div *= 10 }
        while div > 0 { out.append(UInt8(48 + frac / div % 10)); div /= 10 }
        out.append(UInt8(ascii: "Z"))
    }

    /// The timestamp as a string.
    static func string(_ ns: UInt64, fractionDigits: Int = 9) -> String {
        var b: [UInt8] = []
        b.reserveCapacity(32)
        append(ns, fractionDigits: fractionDigits, to: &b)
        return String(decoding: b, as: UTF8.self)
    }
}
