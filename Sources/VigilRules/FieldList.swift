import VigilCore
import VigilState

/// A list of rule fields compiled once and read through the rules' own extractor
/// (``FieldExtractor``), each computed once per event in a ``RuleScratch``'s cache: what
/// `vigil trace` prints is what rules see (`fd.name`, `proc.*`, `container.*`).
///
/// ```swift
/// let fields = try FieldList([("fd.name", "fd.name"), ("proc.tid", "thread.tid")])
/// let scratch = fields.makeScratch()
/// withUnsafePointer(to: ctx) { fields.write($0, scratch: scratch, to: json) }  // "fd.name": "/etc/shadow", ...
/// ```
package final class FieldList {
    /// JSON keys, in order.
    package let keys: [String]
    /// The resolved fields, parallel to ``keys``.
    let specs: [FieldSpec]
    /// Owns the memory the specs point into (keys, argument tables).
    let compiler: ConditionCompiler

    /// Compiles `fields`: each a JSON key and the rule field (with transformers, if any) it shows.
    /// Throws a ``FieldListError`` naming the field when it is unknown, unsupported or malformed.
    package init(_ fields: [(key: String, field: String)]) throws(FieldListError) {
        var c = ConditionCompiler(lists: [:], macros: [:], macroASTs: [:])
        var specs: [FieldSpec] = []
        for (_, text) in fields {
            var p = ConditionParser(bytes: Array(text.utf8), start: 0)
            let word = p.readWord()
            let ref: FieldRef
            do {
                if let tr = Transformer(rawValue: word), p.i < p.b.count, p.b[p.i] == 40 {
                    ref = try p.parseTransformed(tr, start: 0)
                } else {
                    ref = try p.finishField(word, start: 0)
                }
            } catch {
                throw FieldListError(description: "field '\(text)': \(error.message)")
            }
            guard p.i == p.b.count else { throw FieldListError(description: "field '\(text)': unexpected text after the field") }
            do {
                specs.append(try c.resolve(ref, forOutput: true).0)
            } catch {
                throw FieldListError(description: "field '\(text)': \(error.message)")
            }
        }
        keys = fields.map(\.key)
        self.specs = specs
        compiler = c
    }

    /// A scratch sized for these fields (one per rendering thread).
    package func makeScratch(hostname: String = RuleScratch.systemHostname()) -> RuleScratch {
        RuleScratch(slots: compiler.program.slotCount, checks: 1, hostname: hostname)
    }

    /// Writes every field that has a value for the event as `"key": value` (numbers as
    /// numbers, flags as booleans, the rest as strings); unset fields are left out. Starts a
    /// new event in `s`: each field is extracted once, into `s`'s arena (no allocation once warm).
    package func write(_ cp: UnsafePointer<EventContext>, scratch s: RuleScratch, to w: JSONWriter) {
        s.ensure(compiler.program.slotCount, 1)
        s.begin()
        for k in specs.indices {
            let spec = specs[k]
            let v = FieldExtractor.value(spec, cp, s)
            guard v.isSet else { continue }
            w.key(string: keys[k])
            switch v.kind {
            case .unset: w.null()
            case .bool: w.bool(v.i != 0)
            case .int:
                let unsigned: Bool
                switch spec.resultType {
                case .uint64, .uint32, .port, .abstime, .reltime: unsigned = v.i >= 0
                default: unsigned = false
                }
                if unsigned { w.uint(UInt64(v.i)) } else { w.int(v.i) }
            case .str, .ip:
                let r = FieldExtractor.render(v, s)
                w.string(bytes: UnsafeRawBufferPointer(r.bytes))
            }
        }
    }
}

/// Why a ``FieldList`` could not be compiled.
package struct FieldListError: Error, Sendable, Equatable, CustomStringConvertible {
    package let description: String
}
