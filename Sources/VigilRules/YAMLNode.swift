#if canImport(Glibc)
import Glibc
#endif
import CYAML

/// A position in a source file (1-based line and column).
public struct SourceMark: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) { self.file = file; self.line = line; self.column = column }
    public var description: String { "\(file):\(line):\(column)" }
    /// The mark `offset` characters further on the same line (for positions inside a scalar).
    func advanced(line dl: Int = 0, column dc: Int) -> SourceMark {
        SourceMark(file: file, line: line + dl, column: dl == 0 ? column + dc : dc + 1)
    }
}

/// A YAML node with the position it started at. Built from libyaml's event API.
public final class YAMLNode: @unchecked Sendable {
    public enum Kind {
        /// A scalar and whether it was quoted (quoted scalars are never null/bool).
        case scalar(String, quoted: Bool, block: Bool)
        case sequence([YAMLNode])
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }
    public let kind: Kind
    public let mark: SourceMark

    init(_ kind: Kind, _ mark: SourceMark) { self.kind = kind; self.mark = mark }

    /// The scalar's text, or nil for collections.
    public var scalar: String? { if case .scalar(let s, _, _) = kind { return s }; return nil }
    /// Whether this is a plain `null`, `~` or empty scalar.
    public var isNull: Bool {
        if case .scalar(let s, let q, _) = kind, !q { return s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" }
        return false
    }
    public var sequence: [YAMLNode]? { if case .sequence(let a) = kind { return a }; return nil }
    public var mapping: [(key: YAMLNode, value: YAMLNode)]? { if case .mapping(let m) = kind { return m }; return nil }
    /// The value for scalar key `key` in a mapping.
    public subscript(key: String) -> YAMLNode? {
        mapping?.first(where: { $0.key.scalar == key })?.value
    }
    /// A YAML 1.1/1.2 boolean, when this is a plain scalar spelling one.
    public var bool: Bool? {
        guard case .scalar(let s, let q, _) = kind, !q else { return nil }
        switch s {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }
    /// A short description of the node's kind for error messages.
    public var kindName: String {
        switch kind {
        case .scalar: "a scalar"
        case .sequence: "a sequence"
        case .mapping: "a mapping"
        }
    }
}

/// A YAML syntax error with its position.
public struct YAMLError: Error, CustomStringConvertible {
    public var mark: SourceMark
    public var message: String
    public var description: String { "\(mark): \(message)" }
}

/// Parses YAML text into documents of ``YAMLNode``s using libyaml's event parser.
public enum YAMLParser {
    /// Parses every document in `text`; `file` names the source in marks.
    public static func parse(_ text: [UInt8], file: String) throws(YAMLError) -> [YAMLNode] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else {
            throw YAMLError(mark: SourceMark(file: file, line: 1, column: 1), message: "cannot initialise the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }
        var docs: [YAMLNode] = []
        var failure: YAMLError?
        text.withUnsafeBufferPointer { buf in
            yaml_parser_set_input_string(&parser, buf.baseAddress ?? UnsafePointer(bitPattern: 1)!, buf.count)
            // Stack of open collections.
            enum Open { case seq([YAMLNode], SourceMark, String?); case map([(YAMLNode, YAMLNode)], YAMLNode?, SourceMark, String?) }
            var stack: [Open] = []
            var anchors: [String: YAMLNode] = [:]
            var root: YAMLNode?
            func mark(_ m: yaml_mark_t) -> SourceMark { SourceMark(file: file, line: Int(m.line) + 1, column: Int(m.column) + 1) }
            func str(_ p: UnsafeMutablePointer<yaml_char_t>?, _ n: Int) -> String {
                guard let p else { return "" }
                return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
            }
            func cstr(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                guard let p else { return nil }
                return String(cString: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
            }
            func add(_ node: YAMLNode) {
                guard let top = stack.popLast() else { root = node; return }
                switch top {
                case .seq(var items, let m, let a): items.append(node); stack.append(.seq(items, m, a))
                case .map(var pairs, let key, let m, let a):
                    if let key { pairs.append((key, node)); stack.append(.map(pairs, nil, m, a)) }
                    else { stack.append(.map(pairs, node, m, a)) }
                }
            }
            while true {
                var event = yaml_event_t()
                if yaml_parser_parse(&parser, &event) == 0 {
                    let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
                    let ctx = parser.context.map { String(cString: $0) + ": " } ?? ""
                    failure = YAMLError(mark: mark(parser.problem_mark), message: "invalid YAML: \(ctx)\(problem)")
                    return
                }
                defer { yaml_event_delete(&event) }
                let m = mark(event.start_mark)
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_DOCUMENT_START_EVENT:
                    root = nil; anchors = [:]
                case YAML_DOCUMENT_END_EVENT:
                    if let r = root { docs.append(r) }
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let style = s.style
                    let node = YAMLNode(.scalar(str(s.value, Int(s.length)),
                                                quoted: style == YAML_SINGLE_QUOTED_SCALAR_STYLE || style == YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                    || style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE,
                                                block: style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE), m)
                    if let a = cstr(s.anchor) { anchors[a] = node }
                    add(node)
                case YAML_ALIAS_EVENT:
                    let name = cstr(event.data.alias.anchor) ?? ""
                    guard let n = anchors[name] else {
                        failure = YAMLError(mark: m, message: "unknown YAML alias '*\(name)'"); return
                    }
                    add(n)
                case YAML_SEQUENCE_START_EVENT:
                    stack.append(.seq([], m, cstr(event.data.sequence_start.anchor)))
                case YAML_SEQUENCE_END_EVENT:
                    if case .seq(let items, let sm, let a)? = stack.popLast() {
                        let n = YAMLNode(.sequence(items), sm)
                        if let a { anchors[a] = n }
                        add(n)
                    }
                case YAML_MAPPING_START_EVENT:
                    stack.append(.map([], nil, m, cstr(event.data.mapping_start.anchor)))
                case YAML_MAPPING_END_EVENT:
                    if case .map(let pairs, _, let sm, let a)? = stack.popLast() {
                        // Merge keys (`<<: *anchor`).
                        var out: [(key: YAMLNode, value: YAMLNode)] = []
                        for (k, v) in pairs {
                            if k.scalar == "<<", let merged = v.mapping {
                                for p in merged where !pairs.contains(where: { $0.0.scalar == p.key.scalar && $0.0.scalar != "<<" }) { out.append(p) }
                            } else { out.append((k, v)) }
                        }
                        let n = YAMLNode(.mapping(out), sm)
                        if let a { anchors[a] = n }
                        add(n)
                    }
                default:
                    break
                }
            }
        }
        if let failure { throw failure }
        return docs
    }
}
