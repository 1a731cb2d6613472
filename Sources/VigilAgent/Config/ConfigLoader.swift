#if canImport(Glibc)
import Glibc
#endif
import VigilCapture
import VigilCore
import VigilAlerts
import VigilRules

/// A configuration as loaded: the typed values and where they came from.
package struct LoadedConfig: Sendable, Equatable {
    /// The typed configuration after overrides.
    package var config: VigilConfig
    /// The file read (absolute), or nil when none was found and defaults apply.
    package var path: String?
    /// The `-o` overrides applied, in order.
    package var overrides: [String]

    /// The directory relative `rules_files` entries resolve against.
    package var baseDirectory: String {
        guard let path else { return FilePaths.currentDirectory() }
        return FilePaths.directory(of: path)
    }

    /// `rules_files` as absolute paths.
    package var resolvedRulesFiles: [String] {
        config.rulesFiles.map { FilePaths.absolute($0, relativeTo: baseDirectory) }
    }
}

/// Reads the configuration file and applies `-o key.path=value` overrides.
package enum ConfigLoader {
    /// Largest configuration file read (bytes).
    package static let maxFileBytes = 4 << 20

    /// Loads `path` (or defaults when nil) and applies `overrides`.
    package static func load(path: String?, overrides: [String] = []) throws(ConfigError) -> LoadedConfig {
        var root: ConfigNode
        var absPath: String?
        if let path {
            let abs = FilePaths.absolute(path, relativeTo: FilePaths.currentDirectory())
            let text: String
            do { text = try FileReader.readText(abs, limit: maxFileBytes) } catch {
                throw ConfigError(key: "", source: ConfigSource(origin: path),
                                  message: "cannot read the configuration file: \(error.message)")
            }
            root = try ConfigYAML.parse(text, origin: path)
            absPath = abs
        } else {
            root = .emptyMapping(ConfigSource(origin: "default"))
        }
        for o in overrides { try applyOverride(o, to: &root) }
        let config = try decode(root)
        return LoadedConfig(config: config, path: absPath, overrides: overrides)
    }

    /// Parses text (tests and `config check` of a string).
    package static func load(text: String, origin: String, overrides: [String] = []) throws(ConfigError) -> VigilConfig {
        var root = try ConfigYAML.parse(text, origin: origin)
        for o in overrides { try applyOverride(o, to: &root) }
        return try decode(root)
    }

    /// Typed values from the merged tree, then the cross-key checks of each stage.
    static func decode(_ root: ConfigNode) throws(ConfigError) -> VigilConfig {
        var config = VigilConfig()
        try ConfigValue.decodeMapping(&config, root, "", VigilConfig.fields)
        let ring = config.engine.ringBufferBytes
        let wakeKey = "engine.modern_ebpf.wakeup_bytes"
        if root.find(wakeKey) == nil {
            // Not set: the capture's default for this ring (at most a quarter of a small ring).
            config.engine.modernEBPF.wakeupBytes = BPFCaptureOptions.defaultWakeupBytes(ringBytes: ring)
        }
        if config.engine.modernEBPF.wakeupBytes > ring {
            let key = wakeKey
            throw ConfigError(key: key, source: root.find(key)?.source ?? root.source,
                              message: "must not exceed the ring size (\(ring) bytes, engine.modern_ebpf.buf_size_preset \(config.engine.modernEBPF.bufSizePreset))")
        }
        if let d = RuleSet.checkAppendOutput(config.appendOutput, staticFields: config.staticFields).first(where: { $0.severity == .error }) {
            throw ConfigError(key: d.item ?? "append_output", source: ConfigSource(d.mark), message: d.message)
        }
        do { try config.alerts.validate() } catch {
            let src = root.find(error.key)?.source ?? root.source
            throw ConfigError(key: error.key, source: src, message: error.message)
        }
        return config
    }

    /// Applies one `key.path=value` override. The value is read as YAML, so
    /// `-o rules_files=[a,b]` and `-o http_output.headers={X-A: b}` work;
    /// `key[]=value` appends to a list (Falco's syntax).
    static func applyOverride(_ spec: String, to root: inout ConfigNode) throws(ConfigError) {
        let origin = "-o \(spec)"
        guard let eq = spec.firstIndex(of: "=") else {
            throw ConfigError(key: "", source: ConfigSource(origin: origin), message: "expected key.path=value")
        }
        var keyText = String(spec[..<eq])
        let valueText = String(spec[spec.index(after: eq)...])
        var append = false
        if keyText.hasSuffix("[]") { append = true; keyText.removeLast(2) }
        let keys = keyText.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !keys.isEmpty, !keys.contains(where: \.isEmpty) else {
            throw ConfigError(key: keyText, source: ConfigSource(origin: origin), message: "invalid key path")
        }
        let src = ConfigSource(origin: origin)
        var value: ConfigNode
        if valueText.isEmpty {
            value = ConfigNode(.scalar("", plain: false), source: src)
        } else {
            do { value = try ConfigYAML.parse(valueText, origin: origin) } catch {
                throw ConfigError(key: keyText, source: src, message: "invalid value: \(error.message)")
            }
        }
        relabel(&value, src)
        try set(&root, keys[...], value, append: append, path: "", source: src)
    }

    static func relabel(_ n: inout ConfigNode, _ src: ConfigSource) {
        n.source = src
        switch n.kind {
        case .scalar: break
        case .sequence(var items):
            for i in items.indices { relabel(&items[i], src) }
            n.kind = .sequence(items)
        case .mapping(var pairs):
            for i in pairs.indices { pairs[i].keySource = src; relabel(&pairs[i].value, src) }
            n.kind = .mapping(pairs)
        }
    }

    static func set(_ node: inout ConfigNode, _ keys: ArraySlice<String>, _ value: ConfigNode, append: Bool,
                    path: String, source: ConfigSource) throws(ConfigError) {
        guard let k = keys.first else {
            if append {
                var items: [ConfigNode] = []
                switch node.kind {
                case .sequence(let existing): items = existing
                case .scalar where node.isNull: break
                default: throw ConfigError(key: path, source: source, message: "cannot append: the value is not a list")
                }
                items.append(value)
                node = ConfigNode(.sequence(items), source: source)
            } else {
                node = value
            }
            return
        }
        let childPath = path.isEmpty ? k : path + "." + k
        var pairs: [(key: String, keySource: ConfigSource, value: ConfigNode)] = []
        switch node.kind {
        case .mapping(let p): pairs = p
        case .scalar where node.isNull: break
        default: throw ConfigError(key: path, source: source, message: "cannot set '\(childPath)': '\(path)' is not a mapping")
        }
        if let i = pairs.firstIndex(where: { $0.key == k }) {
            try set(&pairs[i].value, keys.dropFirst(), value, append: append, path: childPath, source: source)
            pairs[i].keySource = source
        } else {
            var child = keys.count > 1 ? ConfigNode.emptyMapping(source) : ConfigNode(.scalar("", plain: true), source: source)
            try set(&child, keys.dropFirst(), value, append: append, path: childPath, source: source)
            pairs.append((k, source, child))
        }
        node = ConfigNode(.mapping(pairs), source: node.source)
    }

    /// The configuration file used when none is given: `vigil.yaml` beside the
    /// rules (the first `-r` path), else `rules/vigil.yaml` in the working
    /// directory, else beside the binary's repository or `/etc/vigil/vigil.yaml`.
    package static func defaultPath(rulesPaths: [String]) -> String? {
        var candidates: [String] = []
        if let r = rulesPaths.first {
            candidates.append(FilePaths.isDirectory(r) ? r + "/vigil.yaml" : FilePaths.directory(of: r) + "/vigil.yaml")
        }
        candidates.append("rules/vigil.yaml")
        if let exe = FilePaths.executablePath() {
            // .build/<config>/vigil -> <repo>/rules/vigil.yaml; /usr/bin/vigil -> /etc/vigil/vigil.yaml
            let dir = FilePaths.directory(of: exe)
            candidates.append(dir + "/../../rules/vigil.yaml")
            candidates.append(dir + "/../etc/vigil/vigil.yaml")
        }
        candidates.append("/etc/vigil/vigil.yaml")
        return candidates.first { FilePaths.isRegularFile($0) }
    }
}

/// The effective configuration as YAML text (what `vigil config check` prints).
package enum ConfigPrinter {
    package static func yaml(_ config: VigilConfig) -> String {
        var out = ""
        emit(ConfigValue.encodeMapping(config, VigilConfig.fields), indent: 0, into: &out)
        return out
    }

    static func emit(_ n: ConfigNode, indent: Int, into out: inout String) {
        guard case .mapping(let pairs) = n.kind else { return }
        let pad = String(repeating: " ", count: indent)
        for p in pairs {
            switch p.value.kind {
            case .mapping(let inner) where !inner.isEmpty:
                out += pad + quote(p.key) + ":\n"
                emit(p.value, indent: indent + 2, into: &out)
            default:
                out += pad + quote(p.key) + ": " + inline(p.value) + "\n"
            }
        }
    }

    static func inline(_ n: ConfigNode) -> String {
        switch n.kind {
        case .scalar(let s, let plain): return plain ? s : quote(s)
        case .sequence(let items): return "[" + items.map(inline).joined(separator: ", ") + "]"
        case .mapping(let pairs): return "{" + pairs.map { quote($0.key) + ": " + inline($0.value) }.joined(separator: ", ") + "}"
        }
    }

    /// Quotes a string only when plain YAML would read it differently.
    static func quote(_ s: String) -> String {
        let specials: Set<Character> = [":", "#", "{", "}", "[", "]", ",", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`", "\\"]
        let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "null", "~", "True", "False", "Yes", "No", "On", "Off",
                                     "Null", "NULL", "TRUE", "FALSE"]
        let needs = s.isEmpty || reserved.contains(s) || Double(s) != nil || ConfigValue.parseInt(s) != nil
            || s.first == " " || s.last == " " || s.first == "-" || s.first == "?"
            || s.contains(where: { specials.contains($0) || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true })
        guard needs else { return s }
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\t": r += "\\t"
            case "\r": r += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let h = String(u.value, radix: 16)
                    r += "\\x" + (h.count < 2 ? "0" + h : h)
                } else {
                    r.unicodeScalars.append(u)
                }
            }
        }
        return r + "\""
    }
}
