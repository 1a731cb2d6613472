import CYAML

/// Parses YAML text into trees of ``YAMLNode`` with libyaml's event parser.
///
/// The one YAML tree builder of Vigil (rules, configuration, kubeconfig). It never
/// recurses, and checks its limits while building, so hostile input gets a positioned
/// error instead of a stack overflow or unbounded memory:
/// - nesting deeper than ``Limits/maxDepth`` fails with `file:line:column: YAML nested deeper than N`;
/// - more than ``Limits/maxNodes`` nodes, counting each alias at the size of what it names
///   ("billion laughs"), fails with `YAML document expands to more than N nodes`.
package enum YAMLDocumentParser {
    /// Bounds on one parse.
    package struct Limits: Sendable {
        /// Deepest allowed nesting of sequences and mappings (the top level is depth 1).
        package var maxDepth: Int
        /// Most nodes a document may expand to (aliases counted at full size).
        package var maxNodes: Int
        package init(maxDepth: Int = YAMLDocumentParser.defaultMaxDepth, maxNodes: Int = YAMLDocumentParser.defaultMaxNodes) {
            self.maxDepth = maxDepth; self.maxNodes = maxNodes
        }
    }

    /// Default nesting limit: far above any real rules, configuration or kubeconfig file.
    package static let defaultMaxDepth = 256
    /// Default node budget per document.
    package static let defaultMaxNodes = 4_000_000

    /// An open collection while its children are read.
    private struct Frame {
        var isMapping: Bool
        var mark: SourceMark
        var anchor: String?
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
        var hasMergeKey = false
    }

    /// Parses every document in `text`; `file` names the source in marks and errors.
    /// An empty document is a plain empty scalar (``YAMLNode/isNull``); a stream with no
    /// document at all gives an empty array.
    package static func parse(_ text: [UInt8], file: String, limits: Limits = Limits()) throws(YAMLError) -> [YAMLNode] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else {
            throw YAMLError(mark: SourceMark(file: file, line: 1, column: 1), message: "cannot initialise the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }
        return try text.withUnsafeBufferPointer { (buf) throws(YAMLError) -> [YAMLNode] in
            // libyaml needs a non-null pointer even for empty input.
            var empty: UInt8 = 0
            if let base = buf.baseAddress { yaml_parser_set_input_string(&parser, base, buf.count) }
            else { yaml_parser_set_input_string(&parser, &empty, 0) }
            var docs: [YAMLNode] = []
            var stack: [Frame] = []
            var anchors: [String: YAMLNode] = [:]
            var root: YAMLNode?
            var nodes = 0
            func mark(_ m: yaml_mark_t) -> SourceMark { SourceMark(file: file, line: Int(m.line) + 1, column: Int(m.column) + 1) }
            func name(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            }
            func count(_ n: Int, at m: SourceMark) throws(YAMLError) {
                nodes &+= n
                if nodes > limits.maxNodes {
                    throw YAMLError(mark: m, message: "YAML document expands to more than \(limits.maxNodes) nodes (aliases count at full size)")
                }
            }
            func add(_ node: YAMLNode) {
                guard !stack.isEmpty else { root = node; return }
                let i = stack.count - 1
                if !stack[i].isMapping { stack[i].items.append(node); return }
                if let key = stack[i].pendingKey {
                    if key.isPlainScalar && key.scalar == "<<" { stack[i].hasMergeKey = true }
                    stack[i].pairs.append((key, node))
                    stack[i].pendingKey = nil
                } else {
                    stack[i].pendingKey = node
                }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) != 0 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
                    let context = parser.context.map { String(cString: $0) + ": " } ?? ""
                    throw YAMLError(mark: mark(parser.problem_mark), message: "invalid YAML: \(context)\(problem)")
                }
                defer { yaml_event_delete(&event) }
                let m = mark(event.start_mark)
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return docs
                case YAML_DOCUMENT_START_EVENT:
                    root = nil; anchors = [:]; nodes = 0
                case YAML_DOCUMENT_END_EVENT:
                    docs.append(root ?? YAMLNode(.scalar("", quoted: false, block: false), m))
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let style = s.style
                    let block = style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE
                    let quoted = block || style == YAML_SINGLE_QUOTED_SCALAR_STYLE || style == YAML_DOUBLE_QUOTED_SCALAR_STYLE
                    let value = s.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(s.length)), as: UTF8.self) } ?? ""
                    try count(1, at: m)
                    let node = YAMLNode(.scalar(value, quoted: quoted, block: block), m)
                    if let a = name(s.anchor) { anchors[a] = node }
                    add(node)
                case YAML_ALIAS_EVENT:
                    let a = name(event.data.alias.anchor) ?? ""
                    guard let node = anchors[a] else { throw YAMLError(mark: m, message: "unknown YAML alias '*\(a)'") }
                    try count(node.size, at: m)
                    add(node)
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    if stack.count >= limits.maxDepth {
                        throw YAMLError(mark: m, message: "YAML nested deeper than \(limits.maxDepth)")
                    }
                    try count(1, at: m)
                    let isMapping = event.type == YAML_MAPPING_START_EVENT
                    let anchor = isMapping ? name(event.data.mapping_start.anchor) : name(event.data.sequence_start.anchor)
                    stack.append(Frame(isMapping: isMapping, mark: m, anchor: anchor))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let f = stack.popLast() else { break }
                    let node: YAMLNode
                    if !f.isMapping {
                        node = YAMLNode(.sequence(f.items), f.mark)
                    } else if f.hasMergeKey {
                        node = YAMLNode(.mapping(merged(f.pairs)), f.mark)
                    } else {
                        node = YAMLNode(.mapping(f.pairs), f.mark)
                    }
                    if let a = f.anchor { anchors[a] = node }
                    add(node)
                default:
                    break
                }
            }
        }
    }

    /// Applies merge keys (`<<: *anchor` or `<<: [*a, *b]`): the merged mappings' pairs
    /// are added where the mapping does not set the key itself.
    private static func merged(_ pairs: [(key: YAMLNode, value: YAMLNode)]) -> [(key: YAMLNode, value: YAMLNode)] {
        var own = Set<String>()
        for (k, _) in pairs where !(k.isPlainScalar && k.scalar == "<<") { if let s = k.scalar { own.insert(s) } }
        var out: [(key: YAMLNode, value: YAMLNode)] = []
        for (k, v) in pairs {
            guard k.isPlainScalar && k.scalar == "<<" else { out.append((k, v)); continue }
            let sources = v.mapping != nil ? [v] : (v.sequence ?? [])
            for src in sources {
                for p in src.mapping ?? [] {
                    let name = p.key.scalar ?? ""
                    if !own.contains(name) { own.insert(name); out.append(p) }
                }
            }
        }
        return out
    }
}
