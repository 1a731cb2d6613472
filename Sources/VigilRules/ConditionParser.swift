/// Parses Falco's condition language into a ``ConditionExpr``.
///
/// Grammar (precedence low to high): `or`, `and`, `not`, primary. A primary is
/// `( expr )`, a macro name, or `field op operand` / `field exists` with
/// transformers around the field (`tolower(proc.name) = bash`).
///
/// The parser recurses only into parentheses and `not`; their nesting is limited to
/// ``maxDepth`` (an error at the offending token, never a stack overflow). Chains of
/// `and`/`or` are loops, so they have no limit.
package struct ConditionParser {
    /// Deepest allowed nesting of parentheses and `not` in one condition (macros add to it at compile time).
    package static let maxDepth = 1000

    let b: [UInt8]
    var i = 0
    /// Current nesting of parentheses and `not`.
    var depth = 0

    package init(_ text: String) { b = Array(text.utf8) }
    /// A parser positioned at byte `start` of `bytes` (offsets stay relative to `bytes`).
    init(bytes: [UInt8], start: Int) { b = bytes; i = start }

    /// Enters one level of nesting at `at`, or throws when that exceeds ``maxDepth``.
    mutating func enter(at: Int) throws(ConditionSyntaxError) {
        depth += 1
        if depth > ConditionParser.maxDepth { throw err("condition nested deeper than \(ConditionParser.maxDepth)", at: at) }
    }

    /// Parses the whole text; the error's offset points into it.
    package static func parse(_ text: String) throws(ConditionSyntaxError) -> ConditionExpr {
        var p = ConditionParser(text)
        p.skipSpace()
        if p.i >= p.b.count { throw ConditionSyntaxError(offset: 0, message: "empty condition") }
        let e = try p.parseOr()
        p.skipSpace()
        if p.i < p.b.count { throw p.err("unexpected '\(p.peekToken())' after the end of the expression") }
        return e
    }

    func err(_ m: String, at: Int? = nil) -> ConditionSyntaxError { ConditionSyntaxError(offset: at ?? i, message: m) }

    mutating func skipSpace() { while i < b.count, b[i] == 32 || b[i] == 9 || b[i] == 10 || b[i] == 13 { i += 1 } }

    func peekToken() -> String {
        var j = i
        while j < b.count, !(b[j] == 32 || b[j] == 9 || b[j] == 10 || b[j] == 13) { j += 1 }
        return String(decoding: b[i..<min(j, i + 40)], as: UTF8.self)
    }

    static func isWordByte(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95 || c == 46 || c == 45
    }

    /// Whether the keyword `w` is at the cursor (followed by a non-word byte).
    func atKeyword(_ w: String) -> Bool {
        var n = 0
        for c in w.utf8 {
            guard i + n < b.count, b[i + n] == c else { return false }
            n += 1
        }
        if i + n < b.count, ConditionParser.isWordByte(b[i + n]) || b[i + n] == 91 { return false }
        return true
    }

    mutating func parseOr() throws(ConditionSyntaxError) -> ConditionExpr {
        var items = [try parseAnd()]
        while true {
            skipSpace()
            if atKeyword("or") { i += 2; items.append(try parseAnd()) } else { break }
        }
        return items.count == 1 ? items[0] : .or(items)
    }

    mutating func parseAnd() throws(ConditionSyntaxError) -> ConditionExpr {
        var items = [try parseNot()]
        while true {
            skipSpace()
            if atKeyword("and") { i += 3; items.append(try parseNot()) } else { break }
        }
        return items.count == 1 ? items[0] : .and(items)
    }

    mutating func parseNot() throws(ConditionSyntaxError) -> ConditionExpr {
        skipSpace()
        if atKeyword("not") {
            try enter(at: i)
            defer { depth -= 1 }
            i += 3
            return .not(try parseNot())
        }
        return try parsePrimary()
    }

    mutating func parsePrimary() throws(ConditionSyntaxError) -> ConditionExpr {
        skipSpace()
        guard i < b.count else { throw err("unexpected end of condition, expected a field, macro or '('") }
        if b[i] == 40 { // (
            let open = i
            try enter(at: i)
            defer { depth -= 1 }
            i += 1
            let e = try parseOr()
            skipSpace()
            guard i < b.count, b[i] == 41 else { throw err("missing ')' to close '(' at offset \(open)", at: i) }
            i += 1
            return e
        }
        let start = i
        // Identifier: field name or macro name, or a transformer call.
        let word = readWord()
        guard !word.isEmpty else { throw err("expected a field, macro or '(' but found '\(peekToken())'") }
        if word == "and" || word == "or" { throw err("'\(word)' without a left operand", at: start) }
        skipSpace()
        if let t = Transformer(rawValue: word), i < b.count, b[i] == 40 {
            var f = try parseTransformed(t, start: start)
            f.offset = start
            return try parseComparison(f, start: start)
        }
        // A bare word with a dot or index is a field; otherwise a macro unless an operator follows.
        if !word.contains(".") && (i >= b.count || !startsOperator()) {
            return .macro(word, offset: start)
        }
        let f = try finishField(word, start: start)
        return try parseComparison(f, start: start)
    }

    mutating func readWord() -> String {
        let s = i
        while i < b.count, ConditionParser.isWordByte(b[i]) { i += 1 }
        return String(decoding: b[s..<i], as: UTF8.self)
    }

    /// Reads an optional `[arg]` after a field name.
    mutating func finishField(_ word: String, start: Int) throws(ConditionSyntaxError) -> FieldRef {
        var name = word
        var arg: String?
        if i < b.count, b[i] == 91 { // [
            let open = i
            i += 1
            let s = i
            while i < b.count, b[i] != 93 { i += 1 }
            guard i < b.count else { throw err("missing ']' in field '\(word)['", at: open) }
            arg = String(decoding: b[s..<i], as: UTF8.self)
            i += 1
        }
        if arg == nil, name.hasPrefix("evt.arg.") { arg = String(name.dropFirst(8)); name = "evt.arg" }
        return FieldRef(name: name, arg: arg, offset: start)
    }

    mutating func parseTransformed(_ t: Transformer, start: Int) throws(ConditionSyntaxError) -> FieldRef {
        i += 1 // (
        skipSpace()
        let s = i
        let w = readWord()
        guard !w.isEmpty else { throw err("expected a field inside \(t.rawValue)(...)") }
        var inner: FieldRef
        skipSpace()
        if let t2 = Transformer(rawValue: w), i < b.count, b[i] == 40 {
            inner = try parseTransformed(t2, start: s)
        } else {
            inner = try finishField(w, start: s)
        }
        skipSpace()
        guard i < b.count, b[i] == 41 else { throw err("missing ')' after \(t.rawValue)(\(w)") }
        i += 1
        inner.transformers.insert(t, at: 0)
        return inner
    }

    func startsOperator() -> Bool {
        guard i < b.count else { return false }
        let c = b[i]
        if c == 61 || c == 33 || c == 60 || c == 62 { return true }
        for op in CompareOp.allCases where op.rawValue.first!.isLetter && atKeyword(op.rawValue) { return true }
        return false
    }

    mutating func parseOperator() throws(ConditionSyntaxError) -> CompareOp {
        skipSpace()
        guard i < b.count else { throw err("expected an operator after the field") }
        let two = i + 1 < b.count ? String(decoding: b[i...(i + 1)], as: UTF8.self) : ""
        for s in ["==", "!=", "<=", ">="] where two == s { i += 2; return CompareOp(rawValue: s)! }
        switch b[i] {
        case 61: i += 1; return .eq
        case 60: i += 1; return .lt
        case 62: i += 1; return .gt
        default: break
        }
        for op in CompareOp.allCases where op.rawValue.first!.isLetter && atKeyword(op.rawValue) {
            i += op.rawValue.utf8.count
            return op
        }
        throw err("expected an operator (=, !=, <, <=, >, >=, in, intersects, pmatch, contains, icontains, bcontains, startswith, bstartswith, endswith, glob, iglob, regex, exists) but found '\(peekToken())'")
    }

    mutating func parseComparison(_ f: FieldRef, start: Int) throws(ConditionSyntaxError) -> ConditionExpr {
        let opAt = i
        let op = try parseOperator()
        if op == .exists { return .compare(f, .exists, .none, offset: start) }
        skipSpace()
        guard i < b.count else { throw err("missing value after operator '\(op.rawValue)'", at: opAt) }
        if op.takesList {
            guard b[i] == 40 else {
                // Falco also accepts a single value or list name for `in`.
                let o = i
                let (v, q) = try readValue()
                return .compare(f, op, .list([(v, q)], offset: o), offset: start)
            }
            return .compare(f, op, try readList(), offset: start)
        }
        // val(field) or transformer(val(field)) on the right.
        let save = i
        let w = readWord()
        if (w == "val" || Transformer(rawValue: w) != nil), i < b.count, b[i] == 40 {
            if let rhs = try? parseRHSField(w, start: save) { return .compare(f, op, .field(rhs), offset: start) }
        }
        i = save
        if b[i] == 40 {
            // A list for a scalar operator: Falco accepts `=` with a list only in exceptions; report it.
            throw err("operator '\(op.rawValue)' takes a single value, not a list")
        }
        let o = i
        let (v, _) = try readValue()
        return .compare(f, op, .value(v, offset: o), offset: start)
    }

    mutating func parseRHSField(_ w: String, start: Int) throws(ConditionSyntaxError) -> FieldRef {
        if w == "val" {
            i += 1; skipSpace()
            let s = i
            let name = readWord()
            guard !name.isEmpty else { throw err("expected a field inside val(...)") }
            var f = try finishField(name, start: s)
            skipSpace()
            guard i < b.count, b[i] == 41 else { throw err("missing ')' after val(\(name)") }
            i += 1
            f.offset = s
            return f
        }
        guard let t = Transformer(rawValue: w) else {
            throw err("expected val(field) or a transformer (\(Transformer.allCases.map(\.rawValue).joined(separator: ", "))), not '\(w)'")
        }
        i += 1; skipSpace()
        let s = i
        let inner = readWord()
        skipSpace()
        guard i < b.count, b[i] == 40 else { throw err("expected val(field) or a transformer inside \(w)(...)") }
        var f = try parseRHSField(inner, start: s)
        skipSpace()
        guard i < b.count, b[i] == 41 else { throw err("missing ')' after \(w)(...)") }
        i += 1
        f.transformers.insert(t, at: 0)
        return f
    }

    /// A quoted string or a bare word (up to whitespace, parentheses or a comma).
    mutating func readValue() throws(ConditionSyntaxError) -> (String, Bool) {
        guard i < b.count else { throw err("missing value") }
        let q = b[i]
        if q == 34 || q == 39 {
            let open = i
            i += 1
            var out: [UInt8] = []
            while i < b.count, b[i] != q {
                if b[i] == 92, i + 1 < b.count { // backslash escapes
                    let n = b[i + 1]
                    if n == q || n == 92 { out.append(n); i += 2; continue }
                }
                out.append(b[i]); i += 1
            }
            guard i < b.count else { throw err("unterminated string starting here", at: open) }
            i += 1
            return (String(decoding: out, as: UTF8.self), true)
        }
        let s = i
        while i < b.count {
            let c = b[i]
            if c == 32 || c == 9 || c == 10 || c == 13 || c == 40 || c == 41 || c == 44 { break }
            i += 1
        }
        guard i > s else { throw err("expected a value but found '\(peekToken())'") }
        return (String(decoding: b[s..<i], as: UTF8.self), false)
    }

    mutating func readList() throws(ConditionSyntaxError) -> Operand {
        let open = i
        i += 1
        var items: [(String, Bool)] = []
        skipSpace()
        if i < b.count, b[i] == 41 { i += 1; return .list([], offset: open) }
        while true {
            skipSpace()
            guard i < b.count else { throw err("missing ')' to close the list", at: open) }
            items.append(try readValue())
            skipSpace()
            guard i < b.count else { throw err("missing ')' to close the list", at: open) }
            if b[i] == 44 { i += 1; continue }
            if b[i] == 41 { i += 1; break }
            throw err("expected ',' or ')' in list but found '\(peekToken())'")
        }
        return .list(items, offset: open)
    }
}
