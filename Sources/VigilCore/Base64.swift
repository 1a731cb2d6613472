/// Standard base64 (RFC 4648 §4, with `=` padding) without Foundation.
package enum Base64 {
    /// The bytes `text` encodes, or nil when it is not valid padded base64
    /// (whitespace is not skipped: strip it first).
    package static func decode(_ text: String) -> [UInt8]? {
        let s = Array(text.utf8)
        guard s.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(s.count / 4 * 3)
        var i = 0
        while i < s.count {
            var quad: UInt32 = 0
            var pad = 0
            for k in 0..<4 {
                let c = s[i + k]
                let v: UInt32
                switch c {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
                case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
                case UInt8(ascii: "+"): v = 62
                case UInt8(ascii: "/"): v = 63
                case UInt8(ascii: "="):
                    // Padding only in the last quad's last one or two places.
                    guard i + 4 == s.count, k >= 2 else { return nil }
                    pad += 1
                    v = 0
                default: return nil
                }
                if pad > 0 && c != UInt8(ascii: "=") { return nil }
                quad = quad << 6 | v
            }
            out.append(UInt8(quad >> 16))
            if pad < 2 { out.append(UInt8(quad >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(quad & 0xFF)) }
            i += 4
        }
        return out
    }
}
