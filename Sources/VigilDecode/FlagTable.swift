/// A table of symbolic names for an integer argument: either a bitmask
/// (`O_WRONLY|O_CREAT`, `S_IRUSR|S_IXUSR`) or an enumeration (`PTRACE_ATTACH`,
/// `AF_INET`). Renders values as Falco does and parses symbolic text back.
package struct FlagTable: Sendable {
    /// Short name used in error messages (`open flags`, `ptrace request`, ...).
    package let name: String
    /// Whether values are OR-ed bits (`true`) or one of the listed values (`false`).
    package let isBitmask: Bool
    /// Name and value pairs, in rendering order. For bitmasks a value may have
    /// several bits (`O_SYNC`); it renders when all of its bits are set.
    package let entries: [(name: String, value: UInt64)]
    /// Bits that hold an enumerated field inside a bitmask (the open access mode,
    /// the socket type): rendered through `fieldNames` first.
    let fieldMask: UInt64
    let fieldNames: [(name: String, value: UInt64)]
    /// Bits never rendered (for example mount's magic number).
    let ignoredMask: UInt64

    init(_ name: String, bitmask: Bool, _ entries: [(String, UInt64)], fieldMask: UInt64 = 0,
         fieldNames: [(String, UInt64)] = [], ignoredMask: UInt64 = 0) {
        self.name = name; self.isBitmask = bitmask
        self.entries = entries.map { (name: $0.0, value: $0.1) }
        self.fieldMask = fieldMask
        self.fieldNames = fieldNames.map { (name: $0.0, value: $0.1) }
        self.ignoredMask = ignoredMask
    }

    /// Falco's rendering of `value`: names joined by `|` for bitmasks (bits without
    /// a name are left out; a zero bitmask renders as the table's zero name, if any,
    /// else empty), the matching name for enumerations (empty when none matches).
    package func render(_ value: UInt64) -> String {
        var out = ""
        render(value, into: &out)
        return out
    }

    /// Appends the rendering of `value` to `out`.
    package func render(_ value: UInt64, into out: inout String) {
        if !isBitmask {
            for e in entries where e.value == value { out += e.name; return }
            return
        }
        var first = true
        if fieldMask != 0 || !fieldNames.isEmpty {
            let field = value & fieldMask
            for f in fieldNames where f.value == field {
                out += f.name; first = false; break
            }
        }
        var rest = value & ~fieldMask & ~ignoredMask
        if rest == 0 && first {
            for e in entries where e.value == 0 { out += e.name; return }
            return
        }
        for e in entries where e.value != 0 && (value & e.value) == e.value && (rest & e.value) != 0 {
            if !first { out += "|" }
            out += e.name
            first = false
            rest &= ~e.value
        }
    }

    /// The value of one symbolic name (`O_CREAT`), or nil.
    package func value(of name: Substring) -> UInt64? {
        for f in fieldNames where f.name == name { return f.value }
        for e in entries where e.name == name { return e.value }
        return nil
    }

    /// The value of one symbolic name (`O_CREAT`), or nil.
    package func value(of name: String) -> UInt64? { value(of: Substring(name)) }

    /// Parses `O_RDONLY|O_CREAT`, `PTRACE_ATTACH`, a decimal, `0x`-hex or `0`-octal
    /// number, or a mix (`O_CREAT|0x8000`). Whitespace around names is ignored.
    /// Returns nil when a part is neither a known name nor a number.
    package func parse(_ text: String) -> UInt64? {
        var result: UInt64 = 0
        for part in text.split(separator: "|", omittingEmptySubsequences: false) {
            let p = part.trimmingSpaces
            if p.isEmpty { return nil }
            if let v = value(of: p) { result |= v; continue }
            if let n = FlagTable.parseNumber(p) { result |= n; continue }
            return nil
        }
        return result
    }

    /// Parses a decimal, `0x` hex or leading-`0` octal unsigned number; negative
    /// decimals wrap to their two's-complement bit pattern.
    package static func parseNumber(_ s: Substring) -> UInt64? {
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) }
        if s.hasPrefix("-") { return Int64(s).map { UInt64(bitPattern: $0) } }
        if s.count > 1 && s.hasPrefix("0") { return UInt64(s.dropFirst(), radix: 8) }
        return UInt64(s)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
