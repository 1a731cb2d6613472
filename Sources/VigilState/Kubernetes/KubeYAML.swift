import CYAML

/// A minimal YAML document tree for kubeconfig files (built on libyaml's event parser).
/// Positions are 1-based line and column, for error messages.
indirect enum KubeYAMLNode {
    case scalar(String, line: Int, column: Int)
    case mapping([(String, KubeYAMLNode)], line: Int, column: Int)
    case sequence([KubeYAMLNode], line: Int, column: Int)
    case null(line: Int, column: Int)

    var line: Int {
        switch self {
        case .scalar(_, let l, _), .mapping(_, let l, _), .sequence(_, let l, _), .null(let l, _): l
        }
    }
    var column: Int {
        switch self {
        case .scalar(_, _, let c), .mapping(_, _, let c), .sequence(_, _, let c), .null(_, let c): c
        }
    }
    subscript(key: String) -> KubeYAMLNode? {
        if case .mapping(let pairs, _, _) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }
    var string: String? {
        if case .scalar(let s, _, _) = self { return s }
        return nil
    }
    var items: [KubeYAMLNode] {
        if case .sequence(let a, _, _) = self { return a }
        return []
    }

    struct ParseError: Error { let line: Int; let column: Int; let message: String }

    /// Parses the first document of `text`; an empty document is `.null`.
    static func parse(_ text: String) throws(ParseError) -> KubeYAMLNode {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { throw ParseError(line: 0, column: 0, message: "cannot initialise the YAML parser") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buf throws(ParseError) -> KubeYAMLNode in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            enum Frame { case map([(String, KubeYAMLNode)], String?, Int, Int); case seq([KubeYAMLNode], Int, Int) }
            var stack: [Frame] = []
            var root: KubeYAMLNode?
            func add(_ n: KubeYAMLNode) throws(ParseError) {
                guard let top = stack.popLast() else { if root == nil { root = n }; return }
                switch top {
                case .seq(var a, let l, let c): a.append(n); stack.append(.seq(a, l, c))
                case .map(var pairs, let key, let l, let c):
                    if let k = key { pairs.append((k, n)); stack.append(.map(pairs, nil, l, c)) }
                    else {
                        guard case .scalar(let s, _, _) = n else { throw ParseError(line: n.line, column: n.column, message: "mapping keys must be scalars") }
                        stack.append(.map(pairs, s, l, c))
                    }
                }
            }
            while true {
                var ev = yaml_event_t()
                guard yaml_parser_parse(&parser, &ev) != 0 else {
                    let m = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
                    throw ParseError(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1, message: m)
                }
                defer { yaml_event_delete(&ev) }
                let line = Int(ev.start_mark.line) + 1, col = Int(ev.start_mark.column) + 1
                switch ev.type {
                case YAML_STREAM_END_EVENT, YAML_DOCUMENT_END_EVENT:
                    if stack.isEmpty { return root ?? .null(line: line, column: col) }
                case YAML_SCALAR_EVENT:
                    let s = String(decoding: UnsafeBufferPointer(start: ev.data.scalar.value, count: ev.data.scalar.length), as: UTF8.self)
                    let plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                    if plain && (s == "~" || s == "null" || s.isEmpty) { try add(.null(line: line, column: col)) }
                    else { try add(.scalar(s, line: line, column: col)) }
                case YAML_ALIAS_EVENT: try add(.null(line: line, column: col))
                case YAML_MAPPING_START_EVENT: stack.append(.map([], nil, line, col))
                case YAML_SEQUENCE_START_EVENT: stack.append(.seq([], line, col))
                case YAML_MAPPING_END_EVENT:
                    if case .map(let pairs, _, let l, let c) = stack.popLast()! { try add(.mapping(pairs, line: l, column: c)) }
                case YAML_SEQUENCE_END_EVENT:
                    if case .seq(let a, let l, let c) = stack.popLast()! { try add(.sequence(a, line: l, column: c)) }
                default: break
                }
            }
        }
    }
}
