import VigilCore
/// A piece of condition text together with where it came from, so positions
/// inside it can be reported as file:line:column.
package struct ConditionText: Sendable {
    /// The text as the loader assembled it (after appends).
    package var text: String
    /// Segments: text offset where a piece starts, and the node it came from.
    var segments: [(offset: Int, mark: SourceMark, source: SourceLocator?)]

    init(_ text: String, mark: SourceMark, source: SourceLocator?) {
        self.text = text; self.segments = [(0, mark, source)]
    }

    /// Appends `more` with a separating space (Falco's append semantics).
    mutating func append(_ more: ConditionText) {
        let base = text.utf8.count + 1
        text += " " + more.text
        for s in more.segments { segments.append((base + s.offset, s.mark, s.source)) }
    }

    /// The source position of byte `offset` of ``text``.
    func mark(at offset: Int) -> SourceMark {
        var seg = segments[0]
        for s in segments where s.offset <= offset { seg = s }
        let local = offset - seg.offset
        let start = text.utf8.index(text.utf8.startIndex, offsetBy: seg.offset)
        let piece = Substring(text.utf8[start...])
        return seg.source?.locate(piece: String(piece), offset: local, start: seg.mark) ?? seg.mark
    }
}

/// Maps an offset inside a scalar's value back to the source text, which may
/// differ by quoting, folding and indentation.
final class SourceLocator: @unchecked Sendable {
    let lines: [Substring]
    init(text: String) { lines = text.split(separator: "\n", omittingEmptySubsequences: false) }

    /// Finds the `offset`-th byte of `value` (a scalar starting at `start`) in the source.
    func locate(piece value: String, offset: Int, start: SourceMark) -> SourceMark {
        let bytes = Array(value.utf8)
        guard offset >= 0, offset <= bytes.count else { return start }
        // The token at the offset: maximal run of non-space bytes.
        var e = offset
        while e < bytes.count, bytes[e] != 32, bytes[e] != 10, bytes[e] != 9 { e += 1 }
        let token = Array(bytes[offset..<e])
        guard !token.isEmpty else { return start }
        // Which occurrence of the token precedes the offset in the value.
        var occurrence = 0
        var i = 0
        while i + token.count <= offset {
            if Array(bytes[i..<(i + token.count)]) == token { occurrence += 1 }
            i += 1
        }
        // Walk the source from the scalar's start and find the same occurrence.
        var seen = 0
        var lineIdx = start.line - 1
        var col = start.column - 1
        while lineIdx < lines.count {
            let line = Array(lines[lineIdx].utf8)
            var c = col
            while c + token.count <= line.count {
                if Array(line[c..<(c + token.count)]) == token {
                    if seen == occurrence { return SourceMark(file: start.file, line: lineIdx + 1, column: c + 1) }
                    seen += 1
                }
                c += 1
            }
            lineIdx += 1; col = 0
            if lineIdx - start.line > 2000 { break }
        }
        return start
    }
}

/// One exception of a rule (`exceptions:` entry).
package struct ExceptionDef: Sendable {
    package var name: String
    /// Field names; `isTuple` when given as a list (values are then tuples).
    package var fields: [String]
    package var isTuple: Bool
    /// Comparison operator per field (defaults: `=` for tuples, `in` for a single field).
    package var comps: [String]
    /// Value tuples (for a scalar `fields`, each tuple has one element, or a list).
    package var values: [[ExceptionValue]]
    package var mark: SourceMark
}

/// An exception value: a single string, or a list (for `in`-style comps).
package enum ExceptionValue: Sendable {
    case scalar(String, quoted: Bool)
    case list([String])
}

/// A `list` item as loaded (after appends/overrides).
package struct ListDef: Sendable {
    package var name: String
    package var items: [String]
    package var mark: SourceMark
}

/// A `macro` item as loaded.
package struct MacroDef: Sendable {
    package var name: String
    package var condition: ConditionText
    package var mark: SourceMark
}

/// A `rule` item as loaded (before compilation).
package struct RuleDef: Sendable {
    package var name: String
    package var desc: String
    package var condition: ConditionText
    package var output: String
    package var outputMark: SourceMark
    package var priority: Priority
    package var enabled: Bool
    package var tags: [String]
    package var source: String
    package var exceptions: [ExceptionDef]
    package var warnEventTypes: Bool
    package var skipIfUnknownFilter: Bool
    package var mark: SourceMark
    /// Load order (stable across redefinitions).
    package var order: Int
}
