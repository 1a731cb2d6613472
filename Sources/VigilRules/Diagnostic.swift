import VigilCore
/// An error or warning found while loading or compiling rules, with its place.
package struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    package enum Severity: String, Sendable { case error, warning }
    package var severity: Severity
    /// Where: file, line and column (1-based).
    package var mark: SourceMark
    /// The item it concerns, e.g. `rule 'Terminal shell in container'`, or nil.
    package var item: String?
    package var message: String

    package init(_ severity: Severity, _ mark: SourceMark, item: String?, _ message: String) {
        self.severity = severity; self.mark = mark; self.item = item; self.message = message
    }

    /// `file:line:column: error: rule 'X': message`.
    package var description: String {
        "\(mark): \(severity.rawValue): " + (item.map { "\($0): " } ?? "") + message
    }
}

/// Thrown by ``RuleSet/load(paths:options:)`` when rules could not be loaded.
package struct RuleLoadError: Error, CustomStringConvertible {
    /// Every diagnostic (errors and warnings).
    package var diagnostics: [Diagnostic]
    package var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    package var description: String { errors.map(\.description).joined(separator: "\n") }
}
