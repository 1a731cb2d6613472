#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Clock helpers: wall-clock, boot-time and monotonic nanoseconds, and EINTR-safe sleeps.
/// RFC 3339 text is ``RFC3339``.
package enum Timestamp {
    @inline(__always) static func read(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch.
    package static func nowNanoseconds() -> UInt64 { read(CLOCK_REALTIME) }

    /// CLOCK_BOOTTIME in nanoseconds (the clock of `vigil_header.ts_ns`).
    package static func bootNanoseconds() -> UInt64 { read(CLOCK_BOOTTIME) }

    /// CLOCK_MONOTONIC in nanoseconds: for intervals and deadlines (never jumps with the wall clock).
    @inline(__always) package static func monotonicNanoseconds() -> UInt64 { read(CLOCK_MONOTONIC) }

    /// CLOCK_MONOTONIC_COARSE in nanoseconds (a tick's resolution, cheaper to read): for ages
    /// checked on every event.
    @inline(__always) package static func monotonicCoarseNanoseconds() -> UInt64 { read(CLOCK_MONOTONIC_COARSE) }

    /// Offset to add to a CLOCK_BOOTTIME timestamp to get wall-clock nanoseconds.
    package static func bootToWallOffset() -> UInt64 {
        nowNanoseconds() &- bootNanoseconds()
    }

    /// Sleeps the calling thread for `ns` nanoseconds (resumed after signals).
    package static func sleep(nanoseconds ns: UInt64) {
        var req = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var rem = timespec()
        while nanosleep(&req, &rem) != 0 && errno == EINTR { req = rem }
    }

    /// Sleeps the calling thread for `ms` milliseconds.
    package static func sleep(milliseconds ms: Int) { sleep(nanoseconds: UInt64(max(0, ms)) &* 1_000_000) }
}
