import VigilState

/// A rule's compiled `output:` template: literal text and `%field` /
/// `%transformer(field)` references.
struct OutputTemplate: @unchecked Sendable {
    enum Piece: @unchecked Sendable { case text(String), field(FieldSpec, String) }
    var pieces: [Piece] = []
    /// Fields in template order, each once (output_fields), with their names as written.
    var fields: [(spec: FieldSpec, name: String)] = []

    /// Longest accepted template (bytes). Falco's longest is under 2 KiB; every alert carries the rendered text.
    static let maxBytes = 64 << 10

    /// Parses `text` in one pass; field errors are reported through `resolve` with offsets into `text`.
    static func parse(_ text: String, resolve: (FieldRef) throws(RuleCompileError) -> FieldSpec) throws(RuleCompileError) -> OutputTemplate {
        var t = OutputTemplate()
        let b = Array(text.utf8)
        if b.count > maxBytes {
            throw RuleCompileError(offset: nil, message: "output template is \(b.count) bytes, more than the limit of \(maxBytes >> 10) KiB")
        }
        var lit: [UInt8] = []
        var i = 0
        func flush() { if !lit.isEmpty { t.pieces.append(.text(String(decoding: lit, as: UTF8.self))); lit.removeAll() } }
        while i < b.count {
            guard b[i] == 37, i + 1 < b.count else { lit.append(b[i]); i += 1; continue } // '%'
            let start = i
            // Parse in place: offsets of `p` are into the whole template.
            var p = ConditionParser(bytes: b, start: i + 1)
            let word = p.readWord()
            guard !word.isEmpty, word.first!.isLetter else { lit.append(b[i]); i += 1; continue }
            var ref: FieldRef
            do {
                if let tr = Transformer(rawValue: word), p.i < p.b.count, p.b[p.i] == 40 {
                    ref = try p.parseTransformed(tr, start: 0)
                } else {
                    // A trailing dot is punctuation, not part of the name.
                    var w = word
                    while w.hasSuffix(".") { w.removeLast(); p.i -= 1 }
                    ref = try p.finishField(w, start: 0)
                }
            } catch {
                throw RuleCompileError(offset: error.offset, message: error.message)
            }
            ref.offset = start
            let spec = try resolve(ref)
            flush()
            t.pieces.append(.field(spec, ref.text))
            if !t.fields.contains(where: { $0.name == ref.text }) { t.fields.append((spec, ref.text)) }
            i = p.i
        }
        flush()
        return t
    }
}

/// Falco-style rendering of values for the text output and typed values for `output_fields`.
enum OutputRendering {
    static func text(_ v: FV, _ s: RuleScratch) -> String {
        guard v.isSet else { return "<NA>" }
        let r = FieldExtractor.render(v, s)
        return String(decoding: r.bytes, as: UTF8.self)
    }

    /// The text of a field in an output: list fields as Falco prints them, `(a,b)`.
    static func text(_ v: FV, _ spec: FieldSpec, _ s: RuleScratch) -> String {
        if spec.id == .fdTypes && spec.index < 0 && !spec.hasTransformers && v.isSet { return "(" + text(v, s) + ")" }
        return text(v, s)
    }

    static func typed(_ v: FV, _ spec: FieldSpec, _ s: RuleScratch) -> AlertFieldValue {
        // List fields are JSON arrays in output_fields.
        if spec.id == .fdTypes && !spec.hasTransformers && v.isSet {
            return .strings(text(v, s).split(separator: ",").map(String.init))
        }
        switch v.kind {
        case .unset: return .none
        case .int:
            switch spec.resultType {
            case .uint64, .uint32, .port, .abstime, .reltime: return v.i >= 0 ? .uint(UInt64(v.i)) : .int(v.i)
            default: return .int(v.i)
            }
        case .bool: return .bool(v.i != 0)
        case .str, .ip: return .string(text(v, s))
        }
    }
}
