#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// Where a configuration value came from: a file position or a `-o` override.
package struct ConfigSource: Sendable, Equatable, CustomStringConvertible {
    /// File path, or `-o key=value` for command-line overrides, or `default`.
    package var origin: String
    /// 1-based line and column (0 when not from a file).
    package var line: Int
    package var column: Int

    package init(origin: String, line: Int = 0, column: Int = 0) {
        self.origin = origin; self.line = line; self.column = column
    }

    package var description: String { line > 0 ? "\(origin):\(line):\(column)" : origin }
}

/// A parsed YAML node of the configuration file (order-preserving), with its source position.
package struct ConfigNode: Sendable {
    /// The node's shape.
    package indirect enum Kind: Sendable {
        /// A scalar; `plain` is false for quoted scalars (which are always strings).
        case scalar(String, plain: Bool)
        case sequence([ConfigNode])
        /// Ordered key/value pairs; each key keeps its own position.
        case mapping([(key: String, keySource: ConfigSource, value: ConfigNode)])
    }

    package var kind: Kind
    package var source: ConfigSource

    package init(_ kind: Kind, source: ConfigSource) { self.kind = kind; self.source = source }

    /// An empty mapping.
    package static func emptyMapping(_ source: ConfigSource) -> ConfigNode { ConfigNode(.mapping([]), source: source) }

    /// Whether this is a plain `null`/`~`/empty scalar.
    package var isNull: Bool {
        if case .scalar(let s, let plain) = kind, plain, s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" { return true }
        return false
    }

    /// The node at a dotted key path (the deepest existing one on the way).
    package func find(_ path: String) -> ConfigNode? {
        var node = self
        for k in path.split(separator: ".") {
            guard case .mapping(let pairs) = node.kind, let p = pairs.first(where: { $0.key == k }) else { return node }
            node = p.value
        }
        return node
    }

    /// A short description of the node for error messages.
    var shapeName: String {
        switch kind {
        case .scalar(let s, _): return "'\(s)'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// A configuration error that names the key and where it was written.
package struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Dotted key path (`webserver.listen_port`), empty for document-level errors.
    package var key: String
    package var source: ConfigSource
    package var message: String

    package init(key: String, source: ConfigSource, message: String) {
        self.key = key; self.source = source; self.message = message
    }

    package var description: String {
        key.isEmpty ? "\(source): \(message)" : "\(source): \(key): \(message)"
    }
}

/// Turns the shared YAML tree (``YAMLDocumentParser``, VigilCore) into ``ConfigNode``s:
/// one document, scalar keys, no duplicate keys.
enum ConfigYAML {
    /// Parses one YAML document. An empty document yields an empty mapping.
    static func parse(_ text: String, origin: String) throws(ConfigError) -> ConfigNode {
        let docs: [YAMLNode]
        do { docs = try YAMLDocumentParser.parse(Array(text.utf8), file: origin) } catch {
            throw ConfigError(key: "", source: source(error.mark), message: error.message)
        }
        if docs.count > 1 {
            throw ConfigError(key: "", source: source(docs[1].mark), message: "only one YAML document is allowed in a configuration file")
        }
        guard let doc = docs.first, !(doc.isNull && doc.scalar?.isEmpty == true) else {
            return ConfigNode.emptyMapping(ConfigSource(origin: origin))
        }
        return try convert(doc)
    }

    static func source(_ m: SourceMark) -> ConfigSource { ConfigSource(origin: m.file, line: m.line, column: m.column) }

    /// Converts a tree whose depth the parser has bounded (``YAMLDocumentParser/defaultMaxDepth``).
    static func convert(_ n: YAMLNode) throws(ConfigError) -> ConfigNode {
        let src = source(n.mark)
        switch n.kind {
        case .scalar(let s, let quoted, _):
            return ConfigNode(.scalar(s.contains("$") ? expandEnvironment(s) : s, plain: !quoted), source: src)
        case .sequence(let items):
            var out: [ConfigNode] = []
            out.reserveCapacity(items.count)
            for x in items { out.append(try convert(x)) }
            return ConfigNode(.sequence(out), source: src)
        case .mapping(let pairs):
            var out: [(key: String, keySource: ConfigSource, value: ConfigNode)] = []
            var seen = Set<String>()
            for (k, v) in pairs {
                guard let key = k.scalar else {
                    throw ConfigError(key: "", source: source(k.mark), message: "mapping keys must be scalars")
                }
                guard seen.insert(key).inserted else { throw ConfigError(key: key, source: source(k.mark), message: "duplicate key") }
                out.append((key, source(k.mark), try convert(v)))
            }
            return ConfigNode(.mapping(out), source: src)
        }
    }

    /// Falco's environment expansion of configuration values: `${NAME}` is replaced by the
    /// variable's value (nothing when unset), `$${` stands for a literal `${`. A `${` without
    /// a closing `}` leaves the rest of the value as written.
    static func expandEnvironment(_ value: String) -> String {
        var b = Array(value.utf8)
        var i = 0
        while i < b.count {
            guard b[i] == UInt8(ascii: "$") else { i += 1; continue }
            if i + 1 < b.count && b[i + 1] == UInt8(ascii: "{") {
                guard let end = b[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) else { break }
                let name = String(decoding: b[(i + 2)..<end], as: UTF8.self)
                let replacement = Array((getenv(name).map { String(cString: $0) } ?? "").utf8)
                b.replaceSubrange(i...end, with: replacement)
                i += replacement.count
            } else if i + 2 < b.count && b[i + 1] == UInt8(ascii: "$") && b[i + 2] == UInt8(ascii: "{") {
                guard b[(i + 3)...].contains(UInt8(ascii: "}")) else { break }
                b.remove(at: i)   // `$${` -> `${`, kept literally
                i += 2
            } else {
                i += 1
            }
        }
        return String(decoding: b, as: UTF8.self)
    }
}
