import VigilCore

/// One entry of the configuration's `append_output` list (Falco 0.39+): text appended to the
/// `output` of the rules it matches, and extra `output_fields` that appear only in JSON alerts.
///
/// ```yaml
/// append_output:
///   - match: {source: syscall, tags: [container], rule: "Terminal shell in container"}
///     extra_output: "on CPU %evt.cpu"      # appended to the output after a space
///     extra_fields:
///       - evt.hostname                     # a field: its typed value, keyed by its name
///       - home: "${HOME} %user.name"       # name: format, rendered as a string
///   - suggested_output: true               # appends static_NAME=%static.NAME for each static field
/// ```
///
/// `match` conditions are all required (an entry without `match` applies to every rule):
/// `source` equal to the rule's source, every tag in `tags` among the rule's tags, `rule`
/// equal to the rule's name. Entries apply in order; a later extra field of the same name wins.
package struct AppendOutput: Sendable, Equatable {
    /// One `extra_fields` item.
    package struct ExtraField: Sendable, Equatable {
        /// The key in `output_fields`.
        package var name: String
        /// For `{name: format}` items, the format (rendered as a string); nil for a plain field
        /// name, whose typed value is written.
        package var format: String?
        /// Where the item was written.
        package var mark: SourceMark
        package init(name: String, format: String?, mark: SourceMark) { self.name = name; self.format = format; self.mark = mark }
        /// Equal when the settings are (where they were written does not count).
        package static func == (a: ExtraField, b: ExtraField) -> Bool { a.name == b.name && a.format == b.format }
    }

    /// `match.source` (nil: any source).
    package var source: String?
    /// `match.tags`: the rule must have all of them.
    package var tags: [String]
    /// `match.rule` (nil: any rule).
    package var rule: String?
    /// `extra_output`, appended after a space ("" for none).
    package var extraOutput: String
    /// `extra_fields`, in order.
    package var extraFields: [ExtraField]
    /// `suggested_output`: append `static_NAME=%static.NAME` for every static field (the only
    /// fields Vigil marks as suggested; Falco's plugins suggest theirs the same way).
    package var suggestedOutput: Bool
    /// Where the entry was written (errors in its formats name it).
    package var mark: SourceMark

    package init(source: String? = nil, tags: [String] = [], rule: String? = nil, extraOutput: String = "",
                 extraFields: [ExtraField] = [], suggestedOutput: Bool = false,
                 mark: SourceMark = SourceMark(file: "append_output", line: 0, column: 0)) {
        self.source = source; self.tags = tags; self.rule = rule; self.extraOutput = extraOutput
        self.extraFields = extraFields; self.suggestedOutput = suggestedOutput; self.mark = mark
    }

    /// Equal when the settings are (where they were written does not count).
    package static func == (a: AppendOutput, b: AppendOutput) -> Bool {
        a.source == b.source && a.tags == b.tags && a.rule == b.rule && a.extraOutput == b.extraOutput
            && a.extraFields == b.extraFields && a.suggestedOutput == b.suggestedOutput
    }

    /// Whether this entry applies to a rule with these properties (all `match` conditions hold).
    package func matches(rule name: String, source src: String, tags ruleTags: [String]) -> Bool {
        if let source, source != src { return false }
        if let rule, rule != name { return false }
        return tags.allSatisfy { ruleTags.contains($0) }
    }

    /// The suggested-output format of a field (Falco's `foo_bar=%foo.bar`).
    static func suggestedFormat(_ field: String) -> String {
        String(field.map { $0 == "." ? "_" : $0 }) + "=%" + field
    }
}

/// One entry of the configuration's `static_fields` map: a constant string field usable as
/// `static.NAME` in conditions and `%static.NAME` in outputs (Falco 0.39+).
package struct StaticField: Sendable, Equatable {
    package var name: String
    package var value: String
    package init(name: String, value: String) { self.name = name; self.value = value }
}
