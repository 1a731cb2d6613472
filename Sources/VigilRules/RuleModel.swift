import VigilCore
/// A piece of condition text together with where it came from, so positions
/// inside it can be reported as file:line:column.
public struct ConditionText: Sendable {
    /// The text as the loader assembled it (after appends).
    public var text: String
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
public struct ExceptionDef: Sendable {
    public var name: String
    /// Field names; `isTuple` when given as a list (values are then tuples).
    public var fields: [String]
    public var isTuple: Bool
    /// Comparison operator per field (defaults: `=` for tuples, `in` for a single field).
    public var comps: [String]
    /// Value tuples (for a scalar `fields`, each tuple has one element, or a list).
    public var values: [[ExceptionValue]]
    public var mark: SourceMark
}

/// An exception value: a single string, or a list (for `in`-style comps).
public enum ExceptionValue: Sendable {
    case scalar(String, quoted: Bool)
    case list([String])
}

/// A `list` item as loaded (after appends/overrides).
public struct ListDef: Sendable {
    public var name: String
    public var items: [String]
    public var mark: SourceMark
}

/// A `macro` item as loaded.
public struct MacroDef: Sendable {
    public var name: String
    public var condition: ConditionText
    public var mark: SourceMark
}

/// A `rule` item as loaded (before compilation).
public struct RuleDef: Sendable {
    public var name: String
    public var desc: String
    public var condition: ConditionText
    public var output: String
    public var outputMark: SourceMark
    public var priority: Priority
    public var enabled: Bool
    public var tags: [String]
    public var source: String
    public var exceptions: [ExceptionDef]
    public var warnEventTypes: Bool
    public var skipIfUnknownFilter: Bool
    public var mark: SourceMark
    /// Load order (stable across redefinitions).
    public var order: Int
}
