import VigilCore
import VigilRules

extension FieldSpec {
    /// Falco's `append_output` list (see ``AppendOutput``), with errors naming the item
    /// (`append_output[1].match.tags`) and its position.
    static func appendOutput(_ key: String, _ kp: WritableKeyPath<Root, [AppendOutput]>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            r[keyPath: kp] = try ConfigValue.appendOutput(n, p)
        }, encode: { root in
            let out = ConfigSource(origin: "effective")
            func q(_ s: String) -> ConfigNode { ConfigNode(.scalar(s, plain: false), source: out) }
            return ConfigNode(.sequence(root[keyPath: kp].map { e in
                var pairs: [(key: String, keySource: ConfigSource, value: ConfigNode)] = []
                var match: [(key: String, keySource: ConfigSource, value: ConfigNode)] = []
                if let s = e.source { match.append(("source", out, q(s))) }
                if !e.tags.isEmpty { match.append(("tags", out, ConfigNode(.sequence(e.tags.map(q)), source: out))) }
                if let rule = e.rule { match.append(("rule", out, q(rule))) }
                if !match.isEmpty { pairs.append(("match", out, ConfigNode(.mapping(match), source: out))) }
                if !e.extraOutput.isEmpty { pairs.append(("extra_output", out, q(e.extraOutput))) }
                if !e.extraFields.isEmpty {
                    pairs.append(("extra_fields", out, ConfigNode(.sequence(e.extraFields.map { f in
                        f.format.map { ConfigNode(.mapping([(f.name, out, q($0))]), source: out) } ?? q(f.name)
                    }), source: out)))
                }
                if e.suggestedOutput { pairs.append(("suggested_output", out, ConfigNode(.scalar("true", plain: true), source: out))) }
                return ConfigNode(.mapping(pairs), source: out)
            }), source: out)
        })
    }

    /// Falco's `static_fields` map of name to string value.
    static func staticFields(_ key: String, _ kp: WritableKeyPath<Root, [StaticField]>) -> FieldSpec {
        FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            r[keyPath: kp] = try ConfigValue.staticFields(n, p)
        }, encode: { root in
            let out = ConfigSource(origin: "effective")
            return ConfigNode(.mapping(root[keyPath: kp].map { ($0.name, out, ConfigNode(.scalar($0.value, plain: false), source: out)) }), source: out)
        })
    }
}

extension ConfigValue {
    static func appendOutput(_ n: ConfigNode, _ p: String) throws(ConfigError) -> [AppendOutput] {
        if n.isNull { return [] }
        guard case .sequence(let items) = n.kind else {
            throw ConfigError(key: p, source: n.source, message: "expected a list of entries (- match: ..., extra_output: ..., extra_fields: [...]), got \(n.shapeName)")
        }
        var out: [AppendOutput] = []
        for (i, item) in items.enumerated() {
            let ip = "\(p)[\(i)]"
            guard case .mapping(let pairs) = item.kind else {
                throw ConfigError(key: ip, source: item.source, message: "expected a mapping with match, extra_output, extra_fields or suggested_output, got \(item.shapeName)")
            }
            var e = AppendOutput(mark: SourceMark(item.source))
            let known = ["match", "extra_output", "extra_fields", "suggested_output"]
            for pair in pairs {
                let kp = FieldSpec<Int>.path(ip, pair.key)
                switch pair.key {
                case "match": try appendMatch(pair.value, kp, into: &e)
                case "extra_output": e.extraOutput = try string(pair.value, kp)
                case "extra_fields": e.extraFields = try extraFields(pair.value, kp)
                case "suggested_output": e.suggestedOutput = try bool(pair.value, kp)
                default:
                    var msg = "unknown key"
                    if let near = closest(pair.key, known) { msg += " (did you mean '\(FieldSpec<Int>.path(ip, near))'?)" }
                    throw ConfigError(key: kp, source: pair.keySource, message: msg + "; known keys: " + known.joined(separator: ", "))
                }
            }
            out.append(e)
        }
        return out
    }

    static func appendMatch(_ n: ConfigNode, _ p: String, into e: inout AppendOutput) throws(ConfigError) {
        if n.isNull { return }
        guard case .mapping(let pairs) = n.kind else {
            throw ConfigError(key: p, source: n.source, message: "expected a mapping with source, tags or rule, got \(n.shapeName)")
        }
        for pair in pairs {
            let kp = FieldSpec<Int>.path(p, pair.key)
            switch pair.key {
            case "source": e.source = try string(pair.value, kp)
            case "rule": e.rule = try string(pair.value, kp)
            case "tags":
                guard case .sequence = pair.value.kind else {
                    throw ConfigError(key: kp, source: pair.value.source, message: "expected a list of tags (the rule must have all of them), got \(pair.value.shapeName)")
                }
                e.tags = try strings(pair.value, kp)
            default:
                let known = ["source", "tags", "rule"]
                var msg = "unknown key"
                if let near = closest(pair.key, known) { msg += " (did you mean '\(FieldSpec<Int>.path(p, near))'?)" }
                throw ConfigError(key: kp, source: pair.keySource, message: msg + "; known keys: " + known.joined(separator: ", "))
            }
        }
    }

    static func extraFields(_ n: ConfigNode, _ p: String) throws(ConfigError) -> [AppendOutput.ExtraField] {
        if n.isNull { return [] }
        guard case .sequence(let items) = n.kind else {
            throw ConfigError(key: p, source: n.source, message: "expected a list of field names or {name: format} items, got \(n.shapeName)")
        }
        var out: [AppendOutput.ExtraField] = []
        for (i, item) in items.enumerated() {
            let ip = "\(p)[\(i)]"
            let field: AppendOutput.ExtraField
            switch item.kind {
            case .scalar(let s, _) where !item.isNull && !s.isEmpty:
                field = AppendOutput.ExtraField(name: s, format: nil, mark: SourceMark(item.source))
            case .mapping(let pairs) where pairs.count == 1:
                let name = pairs[0].key
                guard !name.isEmpty else { throw ConfigError(key: ip, source: pairs[0].keySource, message: "the field name must not be empty") }
                field = AppendOutput.ExtraField(name: name, format: try string(pairs[0].value, FieldSpec<Int>.path(ip, name)),
                                                mark: SourceMark(pairs[0].keySource))
            default:
                throw ConfigError(key: ip, source: item.source, message: "expected a field name or one {name: format} pair, got \(item.shapeName)")
            }
            // Falco: redefining a key in the same entry is an error.
            if out.contains(where: { $0.name == field.name }) {
                throw ConfigError(key: ip, source: item.source, message: "'\(field.name)' is defined twice in this entry")
            }
            out.append(field)
        }
        return out
    }

    static func staticFields(_ n: ConfigNode, _ p: String) throws(ConfigError) -> [StaticField] {
        if n.isNull { return [] }
        guard case .mapping(let pairs) = n.kind else {
            throw ConfigError(key: p, source: n.source, message: "expected a mapping of name: value (used as %static.NAME), got \(n.shapeName)")
        }
        var out: [StaticField] = []
        for pair in pairs {
            let kp = FieldSpec<Int>.path(p, pair.key)
            let okName = !pair.key.isEmpty && pair.key.unicodeScalars.allSatisfy {
                ($0.value >= 0x30 && $0.value <= 0x39) || ($0.value >= 0x41 && $0.value <= 0x5A) || ($0.value >= 0x61 && $0.value <= 0x7A)
                    || $0 == "_"
            }
            guard okName else {
                throw ConfigError(key: kp, source: pair.keySource, message: "a static field name is letters, digits and '_' (it is used as static.NAME)")
            }
            guard case .scalar(let v, _) = pair.value.kind else {
                throw ConfigError(key: kp, source: pair.value.source, message: "expected a string value, got \(pair.value.shapeName)")
            }
            out.append(StaticField(name: pair.key, value: pair.value.isNull ? "" : v))
        }
        return out
    }
}
