import CYAML

/// Where a configuration value came from: a file position or a `-o` override.
public struct ConfigSource: Sendable, Equatable, CustomStringConvertible {
    /// File path, or `-o key=value` for command-line overrides, or `default`.
    public var origin: String
    /// 1-based line and column (0 when not from a file).
    public var line: Int
    public var column: Int

    public init(origin: String, line: Int = 0, column: Int = 0) {
        self.origin = origin; self.line = line; self.column = column
    }

    public var description: String { line > 0 ? "\(origin):\(line):\(column)" : origin }
}

/// A parsed YAML node of the configuration file (order-preserving), with its source position.
public struct ConfigNode: Sendable {
    /// The node's shape.
    public indirect enum Kind: Sendable {
        /// A scalar; `plain` is false for quoted scalars (which are always strings).
        case scalar(String, plain: Bool)
        case sequence([ConfigNode])
        /// Ordered key/value pairs; each key keeps its own position.
        case mapping([(key: String, keySource: ConfigSource, value: ConfigNode)])
    }

    public var kind: Kind
    public var source: ConfigSource

    public init(_ kind: Kind, source: ConfigSource) { self.kind = kind; self.source = source }

    /// An empty mapping.
    public static func emptyMapping(_ source: ConfigSource) -> ConfigNode { ConfigNode(.mapping([]), source: source) }

    /// Whether this is a plain `null`/`~`/empty scalar.
    public var isNull: Bool {
        if case .scalar(let s, let plain) = kind, plain, s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" { return true }
        return false
    }

    /// The node at a dotted key path (the deepest existing one on the way).
    public func find(_ path: String) -> ConfigNode? {
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
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Dotted key path (`webserver.listen_port`), empty for document-level errors.
    public var key: String
    public var source: ConfigSource
    public var message: String

    public init(key: String, source: ConfigSource, message: String) {
        self.key = key; self.source = source; self.message = message
    }

    public var description: String {
        key.isEmpty ? "\(source): \(message)" : "\(source): \(key): \(message)"
    }
}

/// Parses YAML text into ``ConfigNode`` trees with libyaml's event API.
enum ConfigYAML {
    /// Parses one YAML document. An empty document yields an empty mapping.
    static func parse(_ text: String, origin: String) throws(ConfigError) -> ConfigNode {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw ConfigError(key: "", source: ConfigSource(origin: origin), message: "cannot initialise the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { (buf) throws(ConfigError) -> ConfigNode in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            var builder = Builder(origin: origin)
            var anchors: [String: ConfigNode] = [:]
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let line = Int(parser.problem_mark.line) + 1
                    let col = Int(parser.problem_mark.column) + 1
                    let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
                    let context = parser.context.map { " " + String(cString: $0) } ?? ""
                    throw ConfigError(key: "", source: ConfigSource(origin: origin, line: line, column: col),
                                      message: "invalid YAML: \(problem)\(context)")
                }
                defer { yaml_event_delete(&event) }
                let src = ConfigSource(origin: origin, line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                func anchorName(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                    p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return builder.root ?? ConfigNode.emptyMapping(ConfigSource(origin: origin))
                case YAML_DOCUMENT_START_EVENT:
                    if builder.root != nil {
                        throw ConfigError(key: "", source: src, message: "only one YAML document is allowed in a configuration file")
                    }
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let value = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
                    let plain = s.style == YAML_PLAIN_SCALAR_STYLE
                    let node = ConfigNode(.scalar(value, plain: plain), source: src)
                    if let a = anchorName(s.anchor) { anchors[a] = node }
                    try builder.add(node)
                case YAML_SEQUENCE_START_EVENT:
                    builder.open(isMapping: false, source: src, anchor: anchorName(event.data.sequence_start.anchor))
                case YAML_MAPPING_START_EVENT:
                    builder.open(isMapping: true, source: src, anchor: anchorName(event.data.mapping_start.anchor))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    if let (node, anchor) = try builder.close() {
                        if let anchor { anchors[anchor] = node }
                    }
                case YAML_ALIAS_EVENT:
                    let name = anchorName(event.data.alias.anchor) ?? ""
                    guard let node = anchors[name] else {
                        throw ConfigError(key: "", source: src, message: "unknown alias '*\(name)'")
                    }
                    try builder.add(node)
                default:
                    break
                }
            }
        }
    }

    /// Assembles nodes from the event stream.
    struct Builder {
        struct Frame {
            var isMapping: Bool
            var source: ConfigSource
            var anchor: String?
            var items: [ConfigNode] = []
            var pairs: [(key: String, keySource: ConfigSource, value: ConfigNode)] = []
            var pendingKey: (String, ConfigSource)?
        }
        let origin: String
        var stack: [Frame] = []
        var root: ConfigNode?

        init(origin: String) { self.origin = origin }

        mutating func open(isMapping: Bool, source: ConfigSource, anchor: String?) {
            stack.append(Frame(isMapping: isMapping, source: source, anchor: anchor))
        }

        mutating func close() throws(ConfigError) -> (ConfigNode, String?)? {
            guard let f = stack.popLast() else { return nil }
            let node = f.isMapping ? ConfigNode(.mapping(f.pairs), source: f.source) : ConfigNode(.sequence(f.items), source: f.source)
            try add(node)
            return (node, f.anchor)
        }

        mutating func add(_ node: ConfigNode) throws(ConfigError) {
            guard !stack.isEmpty else { root = node; return }
            let i = stack.count - 1
            if !stack[i].isMapping { stack[i].items.append(node); return }
            if let (k, ks) = stack[i].pendingKey {
                if stack[i].pairs.contains(where: { $0.key == k }) {
                    throw ConfigError(key: k, source: ks, message: "duplicate key")
                }
                stack[i].pairs.append((k, ks, node))
                stack[i].pendingKey = nil
            } else {
                guard case .scalar(let k, _) = node.kind else {
                    throw ConfigError(key: "", source: node.source, message: "mapping keys must be scalars")
                }
                stack[i].pendingKey = (k, node.source)
            }
        }
    }
}
