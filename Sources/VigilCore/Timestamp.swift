#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Clock helpers: wall-clock and boot-time nanoseconds, and RFC 3339 formatting.
public enum Timestamp {
    /// Wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch.
    public static func nowNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// CLOCK_BOOTTIME in nanoseconds (the clock of `vigil_header.ts_ns`).
    public static func bootNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Offset to add to a CLOCK_BOOTTIME timestamp to get wall-clock nanoseconds.
    public static func bootToWallOffset() -> UInt64 {
        nowNanoseconds() &- bootNanoseconds()
    }

    /// Formats epoch nanoseconds as RFC 3339 UTC with nanoseconds: `2026-11-24T05:56:55.123456789Z`.
    public static func rfc3339(_ ns: UInt64) -> String {
        var secs = time_t(ns / 1_000_000_000)
        let frac = Int(ns % 1_000_000_000)
        var tmv = tm()
        gmtime_r(&secs, &tmv)
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        return "\(pad(Int(tmv.tm_year) + 1900, 4))-\(pad(Int(tmv.tm_mon) + 1, 2))-\(pad(Int(tmv.tm_mday), 2))T"
            + "\(pad(Int(tmv.tm_hour), 2)):\(pad(Int(tmv.tm_min), 2)):\(pad(Int(tmv.tm_sec), 2)).\(pad(frac, 9))Z"
    }
}
