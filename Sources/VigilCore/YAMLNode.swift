/// A node of a YAML document with the position it started at.
///
/// Built by ``YAMLDocumentParser`` from libyaml. Immutable, so it is shared freely
/// (an alias `*a` is the same node as its anchor `&a`).
package final class YAMLNode: Sendable {
    /// The node's shape.
    package enum Kind: Sendable {
        /// A scalar; `quoted` is true for quoted and block scalars (never null or boolean),
        /// `block` for literal (`|`) and folded (`>`) ones.
        case scalar(String, quoted: Bool, block: Bool)
        case sequence([YAMLNode])
        /// Key/value pairs in document order (merge keys `<<` already applied).
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    package let kind: Kind
    package let mark: SourceMark
    /// Nodes in this subtree, counting this one (aliases counted at their full size).
    package let size: Int

    package init(_ kind: Kind, _ mark: SourceMark) {
        self.kind = kind; self.mark = mark
        switch kind {
        case .scalar: size = 1
        case .sequence(let items): size = items.reduce(1) { $0 &+ $1.size }
        case .mapping(let pairs): size = pairs.reduce(1) { $0 &+ $1.key.size &+ $1.value.size }
        }
    }

    /// The scalar's text, or nil for collections.
    package var scalar: String? { if case .scalar(let s, _, _) = kind { return s }; return nil }
    /// Whether this is a plain (unquoted) scalar.
    package var isPlainScalar: Bool { if case .scalar(_, let q, _) = kind { return !q }; return false }
    /// Whether this is a plain `null`, `~` or empty scalar.
    package var isNull: Bool {
        if case .scalar(let s, let q, _) = kind, !q { return s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" }
        return false
    }
    /// The items of a sequence, or nil.
    package var sequence: [YAMLNode]? { if case .sequence(let a) = kind { return a }; return nil }
    /// The pairs of a mapping, or nil.
    package var mapping: [(key: YAMLNode, value: YAMLNode)]? { if case .mapping(let m) = kind { return m }; return nil }
    /// The value for scalar key `key` in a mapping (the first one).
    package subscript(key: String) -> YAMLNode? {
        mapping?.first(where: { $0.key.scalar == key })?.value
    }
    /// A YAML 1.1/1.2 boolean, when this is a plain scalar spelling one.
    package var bool: Bool? {
        guard case .scalar(let s, let q, _) = kind, !q else { return nil }
        switch s {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }
    /// A short description of the node's kind for error messages.
    package var kindName: String {
        switch kind {
        case .scalar: "a scalar"
        case .sequence: "a sequence"
        case .mapping: "a mapping"
        }
    }
}

/// A YAML error with its position (syntax, nesting or size limit).
package struct YAMLError: Error, Sendable, CustomStringConvertible {
    package var mark: SourceMark
    package var message: String
    package init(mark: SourceMark, message: String) { self.mark = mark; self.message = message }
    package var description: String { "\(mark): \(message)" }
}
