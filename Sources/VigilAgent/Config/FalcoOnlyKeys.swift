import VigilCore

/// falco.yaml keys with no meaning in Vigil. A falco.yaml copied as a starting point loads: each
/// such key is accepted, recorded in ``VigilConfig/ignoredFalcoKeys`` with why, and logged as a
/// warning. Keys whose setting would silently lose alerts (`program_output` or `grpc_output`
/// enabled) are errors instead.
enum FalcoOnlyKeys {
    /// Key, why it has no effect.
    static let keys: [(String, String)] = [
        ("config_files", "Vigil reads one configuration file; put the settings in it or pass -o"),
        ("load_plugins", "Vigil has no plugins (container and Kubernetes metadata are built in)"),
        ("plugins", "Vigil has no plugins (container and Kubernetes metadata are built in)"),
        ("plugins_hostinfo", "Vigil has no plugins"),
        ("log_syslog", "Vigil's own log goes to stderr (log_stderr)"),
        ("libs_logger", "Vigil has no libs logger; log_level applies"),
        ("buffered_outputs", "every sink has its own bounded queue (outputs_queue) and flushes per batch"),
        ("output_timeout", "slow sinks are isolated by their own queues (outputs_queue)"),
        ("syscall_event_timeouts", "Vigil has no event timeouts"),
        ("syscall_event_drops", "drops are counted in metrics and raise the internal alert (drop_alert_threshold)"),
        ("metrics", "metrics are always served at /metrics by the webserver (webserver.prometheus_metrics_enabled)"),
        ("base_syscalls", "the kernel selection follows the loaded rules plus the events the state needs"),
        ("falco_libs", "Vigil has no libs tables (its process table is bounded itself)"),
        ("time_format_iso_8601", "alert times are always RFC 3339 (ISO 8601) in UTC"),
        ("buffer_format_base64", "I/O buffers are not captured (evt.buffer is unsupported)"),
        ("grpc", "Vigil has no gRPC server; use http_output"),
        ("program_output", "Vigil does not pipe alerts to programs; use http_output or file_output"),
        ("grpc_output", "Vigil has no gRPC output; use http_output"),
    ]

    /// Outputs whose `enabled: true` must not be dropped quietly.
    static let outputs: Set<String> = ["program_output", "grpc_output"]

    /// Keys inside Vigil's sections that only falco.yaml has: section, key, why, and whether `true`
    /// is refused (a setting whose absence would weaken the deployment).
    static let sectionKeys: [String: [(String, String, Bool)]] = [
        "webserver": [("ssl_enabled", "Vigil's webserver serves plain HTTP (health and metrics only); terminate TLS in front of it", true),
                      ("ssl_certificate", "Vigil's webserver serves plain HTTP", false)],
        "http_output": [("compress_uploads", "alerts are sent uncompressed", false),
                        ("keep_alive", "the HTTP sink keeps its connection between requests", false),
                        ("max_consecutive_timeouts", "the HTTP sink retries with back-off (max_retries, retry_backoff_ms)", false)],
    ]

    /// A section of Vigil's whose falco.yaml-only keys are accepted (recorded with why) or refused.
    static func section<S>(_ key: String, _ kp: WritableKeyPath<VigilConfig, S>, _ fields: [FieldSpec<S>]) -> FieldSpec<VigilConfig> {
        let falco = sectionKeys[key] ?? []
        let inner = FieldSpec<VigilConfig>.section(key, kp, fields)
        return FieldSpec<VigilConfig>(key: key, decode: { (c, n, p) throws(ConfigError) in
            var node = n
            if case .mapping(let pairs) = n.kind {
                var kept = pairs
                kept.removeAll { pair in falco.contains { $0.0 == pair.key } }
                for pair in pairs {
                    guard let (_, why, refuseTrue) = falco.first(where: { $0.0 == pair.key }) else { continue }
                    let kpath = p + "." + pair.key
                    if refuseTrue, (try? ConfigValue.bool(pair.value, kpath)) == true {
                        throw ConfigError(key: kpath, source: pair.value.source, message: "true is not supported: \(why)")
                    }
                    c.ignoredFalcoKeys.append(ConfigPair(kpath, why))
                }
                node = ConfigNode(.mapping(kept), source: n.source)
            }
            try inner.decode(&c, node, p)
        }, encode: inner.encode)
    }

    static var fields: [FieldSpec<VigilConfig>] {
        keys.map { key, why in
            var f = FieldSpec<VigilConfig>(key: key, decode: { (c, n, p) throws(ConfigError) in
                if outputs.contains(key), case .mapping(let pairs) = n.kind,
                   let e = pairs.first(where: { $0.key == "enabled" }), (try? ConfigValue.bool(e.value, p + ".enabled")) == true {
                    throw ConfigError(key: p + ".enabled", source: e.value.source, message: "true is not supported: \(why)")
                }
                c.ignoredFalcoKeys.append(ConfigPair(key, why))
            }, encode: { _ in ConfigNode.emptyMapping(ConfigSource(origin: "effective")) })
            f.printed = false
            return f
        }
    }
}
