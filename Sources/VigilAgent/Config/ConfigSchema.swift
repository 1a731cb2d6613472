import VigilCore
import VigilAlerts

/// One key of a configuration mapping: how to read it into `Root` and how to print it.
struct FieldSpec<Root> {
    let key: String
    let decode: (inout Root, ConfigNode, String) throws(ConfigError) -> Void
    let encode: (Root) -> ConfigNode
    /// Whether `vigil config check` prints the key (false for accepted falco.yaml keys without effect).
    var printed = true

    static func path(_ parent: String, _ key: String) -> String { parent.isEmpty ? key : parent + "." + key }

    private static var out: ConfigSource { ConfigSource(origin: "effective") }
    static func scalar(_ s: String) -> ConfigNode { ConfigNode(.scalar(s, plain: true), source: out) }
    static func quoted(_ s: String) -> ConfigNode { ConfigNode(.scalar(s, plain: false), source: out) }

    static func bool(_ key: String, _ kp: WritableKeyPath<Root, Bool>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in r[keyPath: kp] = try ConfigValue.bool(n, p) },
                  encode: { scalar($0[keyPath: kp] ? "true" : "false") })
    }
    static func int(_ key: String, _ kp: WritableKeyPath<Root, Int>, min: Int = .min, max: Int = .max) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in r[keyPath: kp] = try ConfigValue.int(n, p, min: min, max: max) },
                  encode: { scalar(String($0[keyPath: kp])) })
    }
    /// A byte size: an integer, optionally with a K/M/G (or Ki/Mi/Gi) suffix.
    static func size(_ key: String, _ kp: WritableKeyPath<Root, Int>, min: Int = 0, max: Int = .max) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in r[keyPath: kp] = try ConfigValue.size(n, p, min: min, max: max) },
                  encode: { scalar(String($0[keyPath: kp])) })
    }
    static func double(_ key: String, _ kp: WritableKeyPath<Root, Double>, min: Double = -.infinity, max: Double = .infinity) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in r[keyPath: kp] = try ConfigValue.double(n, p, min: min, max: max) },
                  encode: { scalar(ConfigValue.format($0[keyPath: kp])) })
    }
    static func string(_ key: String, _ kp: WritableKeyPath<Root, String>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in r[keyPath: kp] = try ConfigValue.string(n, p) },
                  encode: { quoted($0[keyPath: kp]) })
    }
    static func strings(_ key: String, _ kp: WritableKeyPath<Root, [String]>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in r[keyPath: kp] = try ConfigValue.strings(n, p) },
                  encode: { ConfigNode(.sequence($0[keyPath: kp].map { quoted($0) }), source: out) })
    }
    /// A list of file-system paths: as ``strings(_:_:)``, but an empty path is an error (it
    /// would name the configuration file's directory, loading it a second time).
    static func paths(_ key: String, _ kp: WritableKeyPath<Root, [String]>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in r[keyPath: kp] = try ConfigValue.paths(n, p) },
                  encode: { ConfigNode(.sequence($0[keyPath: kp].map { quoted($0) }), source: out) })
    }
    static func stringMap(_ key: String, _ kp: WritableKeyPath<Root, [ConfigPair]>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in r[keyPath: kp] = try ConfigValue.stringMap(n, p) },
                  encode: { ConfigNode(.mapping($0[keyPath: kp].map { ($0.name, out, quoted($0.value)) }), source: out) })
    }
    /// A mapping of strings kept as ordered (name, value) tuples (HTTP headers).
    static func pairs(_ key: String, _ kp: WritableKeyPath<Root, [(String, String)]>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            r[keyPath: kp] = try ConfigValue.stringMap(n, p).map { ($0.name, $0.value) }
        }, encode: { ConfigNode(.mapping($0[keyPath: kp].map { ($0.0, out, quoted($0.1)) }), source: out) })
    }
    /// Per-rule token buckets: `{rule name: {rate: R, burst: B}}`.
    static func rateLimits(_ key: String, _ kp: WritableKeyPath<Root, [String: RateLimit]>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            if n.isNull { r[keyPath: kp] = [:]; return }
            guard case .mapping(let rules) = n.kind else {
                throw ConfigError(key: p, source: n.source, message: "expected a mapping of rule name to {rate, burst}, got \(n.shapeName)")
            }
            var out: [String: RateLimit] = [:]
            for rule in rules {
                var limit = RateLimit(rate: 10, burst: 50)
                let rp = path(p, rule.key)
                try ConfigValue.decodeMapping(&limit, rule.value, rp, [
                    FieldSpec<RateLimit>.double("rate", \.rate, min: 0, max: 1e9),
                    FieldSpec<RateLimit>.double("burst", \.burst, min: 1, max: 1e9),
                ])
                out[rule.key] = limit
            }
            r[keyPath: kp] = out
        }, encode: { root in
            let fields: [FieldSpec<RateLimit>] = [.double("rate", \.rate), .double("burst", \.burst)]
            return ConfigNode(.mapping(root[keyPath: kp].sorted { $0.key < $1.key }.map {
                ($0.key, out, ConfigValue.encodeMapping($0.value, fields))
            }), source: out)
        })
    }
    /// One of a fixed set of names.
    static func choice<T>(_ key: String, _ kp: WritableKeyPath<Root, T>, _ names: [(String, T)], name: @escaping (T) -> String) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            let s = try ConfigValue.string(n, p)
            guard let v = names.first(where: { $0.0 == s.lowercased() })?.1 else {
                throw ConfigError(key: p, source: n.source,
                                  message: "expected one of \(names.map(\.0).joined(separator: ", ")), got '\(s)'")
            }
            r[keyPath: kp] = v
        }, encode: { scalar(name($0[keyPath: kp])) })
    }
    /// A nested mapping with its own fields.
    static func section<S>(_ key: String, _ kp: WritableKeyPath<Root, S>, _ fields: [FieldSpec<S>]) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            try ConfigValue.decodeMapping(&r[keyPath: kp], n, p, fields)
        }, encode: { root in ConfigValue.encodeMapping(root[keyPath: kp], fields) })
    }
}

/// A name/value pair of a string mapping (HTTP headers, labels), order kept.
package struct ConfigPair: Sendable, Equatable {
    package var name: String
    package var value: String
    package init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

/// Conversions from YAML nodes to typed values, with errors naming the key.
enum ConfigValue {
    static func scalarText(_ n: ConfigNode, _ p: String, expected: String) throws(ConfigError) -> (String, Bool) {
        guard case .scalar(let s, let plain) = n.kind else {
            throw ConfigError(key: p, source: n.source, message: "expected \(expected), got \(n.shapeName)")
        }
        return (s, plain)
    }

    static func bool(_ n: ConfigNode, _ p: String) throws(ConfigError) -> Bool {
        let (s, plain) = try scalarText(n, p, expected: "a boolean (true or false)")
        if plain {
            switch s {
            case "true", "True", "TRUE", "yes", "Yes", "on", "On": return true
            case "false", "False", "FALSE", "no", "No", "off", "Off": return false
            default: break
            }
        }
        throw ConfigError(key: p, source: n.source, message: "expected a boolean (true or false), got '\(s)'")
    }

    static func int(_ n: ConfigNode, _ p: String, min: Int, max: Int) throws(ConfigError) -> Int {
        let (s, plain) = try scalarText(n, p, expected: "an integer")
        guard plain, let v = parseInt(s) else {
            throw ConfigError(key: p, source: n.source, message: "expected an integer, got '\(s)'")
        }
        guard v >= min && v <= max else {
            throw ConfigError(key: p, source: n.source, message: "\(v) is out of range (\(min)...\(max))")
        }
        return v
    }

    static func parseInt(_ s: String) -> Int? {
        let t = s.replacingOccurrences(of: "_", with: "")
        if t.hasPrefix("0x") || t.hasPrefix("0X") { return Int(t.dropFirst(2), radix: 16) }
        return Int(t)
    }

    static func size(_ n: ConfigNode, _ p: String, min: Int, max: Int) throws(ConfigError) -> Int {
        let (s, plain) = try scalarText(n, p, expected: "a size in bytes")
        var t = Substring(s.trimmingCharacters(in: " "))
        var mult = 1
        let suffixes: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("Ki", 1 << 10), ("Mi", 1 << 20),
                                         ("Gi", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000),
                                         ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)]
        for (suf, m) in suffixes where t.hasSuffix(suf) {
            t = t.dropLast(suf.count); mult = m; break
        }
        guard plain || mult != 1, let v = parseInt(String(t).trimmingCharacters(in: " ")), v.multipliedReportingOverflow(by: mult).overflow == false else {
            throw ConfigError(key: p, source: n.source, message: "expected a size in bytes (e.g. 8388608 or 8Mi), got '\(s)'")
        }
        let bytes = v * mult
        guard bytes >= min && bytes <= max else {
            throw ConfigError(key: p, source: n.source, message: "\(bytes) bytes is out of range (\(min)...\(max))")
        }
        return bytes
    }

    static func double(_ n: ConfigNode, _ p: String, min: Double, max: Double) throws(ConfigError) -> Double {
        let (s, plain) = try scalarText(n, p, expected: "a number")
        guard plain, let v = Double(s), v.isFinite else {
            throw ConfigError(key: p, source: n.source, message: "expected a number, got '\(s)'")
        }
        guard v >= min && v <= max else {
            throw ConfigError(key: p, source: n.source, message: "\(format(v)) is out of range (\(format(min))...\(format(max)))")
        }
        return v
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    static func string(_ n: ConfigNode, _ p: String) throws(ConfigError) -> String {
        if n.isNull { return "" }
        return try scalarText(n, p, expected: "a string").0
    }

    /// A list of non-empty paths; a single scalar counts as a one-element list.
    static func paths(_ n: ConfigNode, _ p: String) throws(ConfigError) -> [String] {
        let list = try strings(n, p)
        if let i = list.firstIndex(where: \.isEmpty) {
            if case .sequence(let items) = n.kind {
                throw ConfigError(key: "\(p)[\(i)]", source: items[i].source, message: "empty path")
            }
            throw ConfigError(key: p, source: n.source, message: "empty path")
        }
        return list
    }

    /// A list of strings; a single scalar counts as a one-element list.
    static func strings(_ n: ConfigNode, _ p: String) throws(ConfigError) -> [String] {
        if n.isNull { return [] }
        switch n.kind {
        case .scalar(let s, _): return [s]
        case .sequence(let items):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .scalar(let s, _) = item.kind else {
                    throw ConfigError(key: "\(p)[\(i)]", source: item.source, message: "expected a string, got \(item.shapeName)")
                }
                out.append(s)
            }
            return out
        case .mapping:
            throw ConfigError(key: p, source: n.source, message: "expected a list of strings, got a mapping")
        }
    }

    static func stringMap(_ n: ConfigNode, _ p: String) throws(ConfigError) -> [ConfigPair] {
        if n.isNull { return [] }
        guard case .mapping(let pairs) = n.kind else {
            throw ConfigError(key: p, source: n.source, message: "expected a mapping of strings, got \(n.shapeName)")
        }
        var out: [ConfigPair] = []
        for pair in pairs {
            let v = try string(pair.value, FieldSpec<Int>.path(p, pair.key))
            out.append(ConfigPair(pair.key, v))
        }
        return out
    }

    static func decodeMapping<S>(_ target: inout S, _ n: ConfigNode, _ p: String, _ fields: [FieldSpec<S>]) throws(ConfigError) {
        if n.isNull { return }
        guard case .mapping(let pairs) = n.kind else {
            throw ConfigError(key: p, source: n.source, message: "expected a mapping, got \(n.shapeName)")
        }
        for pair in pairs {
            let keyPath = FieldSpec<S>.path(p, pair.key)
            guard let f = fields.first(where: { $0.key == pair.key }) else {
                var msg = "unknown key"
                if let near = closest(pair.key, fields.map(\.key)) { msg += " (did you mean '\(FieldSpec<S>.path(p, near))'?)" }
                msg += "; known keys\(p.isEmpty ? "" : " of '\(p)'"): " + fields.map(\.key).joined(separator: ", ")
                throw ConfigError(key: keyPath, source: pair.keySource, message: msg)
            }
            try f.decode(&target, pair.value, keyPath)
        }
    }

    static func encodeMapping<S>(_ value: S, _ fields: [FieldSpec<S>]) -> ConfigNode {
        let src = ConfigSource(origin: "effective")
        return ConfigNode(.mapping(fields.filter(\.printed).map { ($0.key, src, $0.encode(value)) }), source: src)
    }

    /// The known key nearest to `key` by edit distance, if close enough.
    static func closest(_ key: String, _ known: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            if a.isEmpty { return b.count }
            if b.isEmpty { return a.count }
            var prev = Array(0...b.count)
            for i in 1...a.count {
                var cur = [i] + Array(repeating: 0, count: b.count)
                for j in 1...b.count {
                    cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                prev = cur
            }
            return prev[b.count]
        }
        let k = Array(key)
        let best = known.map { ($0, distance(k, Array($0))) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= Swift.max(2, key.count / 3) else { return nil }
        return best.0
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }

    func replacingOccurrences(of a: String, with b: String) -> String {
        guard !a.isEmpty else { return self }
        return self.split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
