import VigilCore
/// An error or warning found while loading or compiling rules, with its place.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }
    public var severity: Severity
    /// Where: file, line and column (1-based).
    public var mark: SourceMark
    /// The item it concerns, e.g. `rule 'Terminal shell in container'`, or nil.
    public var item: String?
    public var message: String

    public init(_ severity: Severity, _ mark: SourceMark, item: String?, _ message: String) {
        self.severity = severity; self.mark = mark; self.item = item; self.message = message
    }

    /// `file:line:column: error: rule 'X': message`.
    public var description: String {
        "\(mark): \(severity.rawValue): " + (item.map { "\($0): " } ?? "") + message
    }
}

/// Thrown by ``RuleSet/load(paths:options:)`` when rules could not be loaded.
public struct RuleLoadError: Error, CustomStringConvertible {
    /// Every diagnostic (errors and warnings).
    public var diagnostics: [Diagnostic]
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
