/// Comparison operators of Falco's condition language.
package enum CompareOp: String, Sendable, CaseIterable {
    case eq = "=", eqeq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    case `in` = "in", intersects, pmatch, contains, icontains, bcontains, startswith, bstartswith, endswith
    case glob, iglob, regex, exists

    /// Operators that take a list on the right.
    var takesList: Bool { self == .in || self == .intersects || self == .pmatch }
    /// Normalised (`==` is `=`).
    var canonical: CompareOp { self == .eqeq ? .eq : self }
}

/// Field-value transformers (`tolower(proc.name)`).
package enum Transformer: String, Sendable, CaseIterable {
    case tolower, toupper, b64, basename, len
}

/// A field reference, possibly with an argument (`proc.aname[2]`, `evt.arg.flags`)
/// and transformers applied (outermost first).
package struct FieldRef: Sendable, Equatable {
    /// Catalog name (`proc.aname`, `evt.arg`).
    package var name: String
    /// Argument (`2`, `flags`, `app`), nil when none.
    package var arg: String?
    /// Transformers, outermost first.
    package var transformers: [Transformer] = []
    /// Byte offset in the condition text.
    package var offset: Int
    /// The text as written (`proc.aname[2]`).
    package var text: String { transformers.reversed().reduce(name + (arg.map { argText($0) } ?? "")) { "\($1.rawValue)(\($0))" } }
    func argText(_ a: String) -> String { (name == "evt.arg" && Int(a) == nil) ? "." + a : "[\(a)]" }
}

/// The right-hand side of a comparison.
package enum Operand: Sendable, Equatable {
    case none
    /// A single value (quoted or bare).
    case value(String, offset: Int)
    /// A list `(a, b, "c")`: items, each with whether it was quoted (unquoted names may be lists).
    case list([(String, Bool)], offset: Int)
    /// Another field (`val(proc.pname)`).
    case field(FieldRef)

    package static func == (a: Operand, b: Operand) -> Bool {
        switch (a, b) {
        case (.none, .none): true
        case (.value(let x, _), .value(let y, _)): x == y
        case (.list(let x, _), .list(let y, _)): x.map(\.0) == y.map(\.0)
        case (.field(let x), .field(let y)): x == y
        default: false
        }
    }
}

/// A parsed condition.
package indirect enum ConditionExpr: Sendable {
    case and([ConditionExpr])
    case or([ConditionExpr])
    case not(ConditionExpr)
    /// A macro reference (name, offset).
    case macro(String, offset: Int)
    case compare(FieldRef, CompareOp, Operand, offset: Int)
    /// A constant (used for empty exception sets).
    case constant(Bool)
}

/// A syntax error in a condition, at a byte offset.
package struct ConditionSyntaxError: Error, Sendable {
    package var offset: Int
    package var message: String
}
