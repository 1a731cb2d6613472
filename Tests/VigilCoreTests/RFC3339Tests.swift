import Glibc
import Testing
import VigilCore

@Suite struct RFC3339Tests {
    @Test func knownInstants() {
        #expect(RFC3339.string(0) == "1970-01-01T00:00:00.000000000Z")
        #expect(RFC3339.string(1_709_164_800_000_000_001) == "2024-02-29T00:00:00.000000001Z")  // leap day
        #expect(RFC3339.string(951_868_799_999_999_999) == "2000-02-29T23:59:59.999999999Z")
        #expect(RFC3339.string(4_102_444_800_000_000_000) == "2100-01-01T00:00:00.000000000Z")
        #expect(RFC3339.string(1_764_912_615_123_456_789, fractionDigits: 6) == "2025-12-05T05:30:15.123456Z")
        #expect(RFC3339.string(1_764_912_615_123_456_789, fractionDigits: 1) == "2025-12-05T05:30:15.1Z")
    }

    /// The arithmetic agrees with the C library's `gmtime_r` over four centuries of instants.
    @Test func agreesWithGmtime() {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            let ns = x % 12_622_780_800_000_000_000  // up to 2370
            var t = time_t(ns / 1_000_000_000)
            var tmv = tm()
            gmtime_r(&t, &tmv)
            func pad(_ v: Int32, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
            let frac = String(ns % 1_000_000_000)
            let expected = "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2))."
                + String(repeating: "0", count: 9 - frac.count) + frac + "Z"
            #expect(RFC3339.string(ns) == expected)
            if RFC3339.string(ns) != expected { break }
        }
    }

    @Test func appendAndWriteAgree() {
        var out: [UInt8] = [0x41]
        RFC3339.append(1_764_912_615_000_000_000, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "A2025-12-05T05:30:15.000000000Z")
        let n = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: RFC3339.maxLength) { RFC3339.write(.max, into: $0.baseAddress!) }
        #expect(n == RFC3339.maxLength)
    }
}
