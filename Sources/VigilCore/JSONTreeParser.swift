/// JSON `null` in a tree built by ``JSONTreeParser``.
package struct JSONNull: Sendable, Equatable {
    package init() {}
}

/// Why a JSON text could not be parsed: what and at which byte offset.
package struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong (`unexpected character "x"`, `unterminated string`).
    package let message: String
    /// Byte offset in the input.
    package let offset: Int
    package var description: String { "\(message) at byte \(offset)" }
}

/// Parses JSON (RFC 8259) into Swift values, the shape `JSONSerialization` gives without
/// loading Foundation (whose libraries cost the agent several MiB of resident memory):
/// objects as `[String: Any]`, arrays as `[Any]`, strings as `String`, integers that fit
/// as `Int`, other numbers as `Double`, `true`/`false` as `Bool`, `null` as ``JSONNull``.
///
/// Used off the event path (container runtime state files, Kubernetes API replies).
/// Nesting deeper than `maxDepth` is an error, not a stack overflow.
package struct JSONTreeParser {
    private let bytes: [UInt8]
    private var i = 0
    private let maxDepth: Int

    private init(_ bytes: [UInt8], maxDepth: Int) { self.bytes = bytes; self.maxDepth = maxDepth }

    /// Parses one JSON value that must make up the whole input (surrounding whitespace allowed).
    package static func parse(_ bytes: [UInt8], maxDepth: Int = 512) throws(JSONParseError) -> Any {
        var p = JSONTreeParser(bytes, maxDepth: maxDepth)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.i != bytes.count { throw p.error("unexpected data after the JSON value") }
        return v
    }

    /// Parses the UTF-8 of `text`.
    package static func parse(_ text: String, maxDepth: Int = 512) throws(JSONParseError) -> Any {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    private func error(_ m: String) -> JSONParseError { JSONParseError(message: m, offset: i) }

    private mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func value(depth: Int) throws(JSONParseError) -> Any {
        guard i < bytes.count else { throw error("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return try string()
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        case UInt8(ascii: "n"): try literal("null"); return JSONNull()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character \(Self.describe(bytes[i]))")
        }
    }

    private static func describe(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? "\"\(Character(Unicode.Scalar(b)))\"" : "0x" + String(b, radix: 16)
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw error("unexpected end of input") }
        let p = word.utf8Start
        for k in 0..<n where bytes[i + k] != p[k] { throw error("invalid literal") }
        i += n
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> [String: Any] {
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        i += 1
        var out: [String: Any] = [:]
        skipSpace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return out }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected \":\"") }
            i += 1
            skipSpace()
            out[key] = try value(depth: depth)
            skipSpace()
            guard i < bytes.count else { throw error("unterminated object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return out }
            throw error("expected \",\" or \"}\"")
        }
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> [Any] {
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        i += 1
        var out: [Any] = []
        skipSpace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return out }
        while true {
            skipSpace()
            out.append(try value(depth: depth))
            skipSpace()
            guard i < bytes.count else { throw error("unterminated array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return out }
            throw error("expected \",\" or \"]\"")
        }
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    private mutating func string() throws(JSONParseError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: bytes[start..<i], as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw error("control character in string") }
            i += 1
        }
        var out = Array(bytes[start..<i])
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00, i + 1 < bytes.count,
                   bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                    let save = i
                    i += 2
                    let low = try hex4()
                    if low >= 0xDC00 && low < 0xE000 {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        i = save
                    }
                }
                // Lone surrogates become U+FFFD (as a lenient decoder does).
                let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                i -= 1
                throw error("invalid escape \\\(Self.describe(e))")
            }
        }
        throw error("unterminated string")
    }

    private mutating func number() throws(JSONParseError) -> Any {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        var digits = 0
        let first = i
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1; digits += 1 }
        if digits == 0 { throw error("invalid number") }
        if digits > 1 && bytes[first] == UInt8(ascii: "0") { throw JSONParseError(message: "invalid number (leading zero)", offset: first + 1) }
        var integral = true
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            var frac = 0
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1; frac += 1 }
            if frac == 0 { throw error("invalid number") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            var exp = 0
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1; exp += 1 }
            if exp == 0 { throw error("invalid number") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if integral, let n = Int(text) { return n }
        guard let d = Double(text) else { throw JSONParseError(message: "invalid number", offset: start) }
        return d
    }
}
