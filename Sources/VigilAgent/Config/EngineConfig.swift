import VigilCore

/// `engine`: the kernel event source, with falco.yaml's names where they overlap.
///
/// ```yaml
/// engine:
///   kind: modern_ebpf              # Vigil's only engine (CO-RE BPF, one ring buffer)
///   modern_ebpf:
///     buf_size_preset: 4           # ring size index: 1 = 1 MiB, 2 = 2 MiB ... 10 = 512 MiB (4 = 8 MiB)
///     cpus_for_each_buffer: 0      # Vigil has one ring shared by all CPUs (Falco's 0); see below
///     drop_failed_exit: false      # true: drop failed syscalls in the kernel for every type (see below)
///     max_args_bytes: 4096         # (Vigil) argv bytes copied per exec
///     max_env_bytes: 4096          # (Vigil) environment bytes copied per exec while a rule reads proc.env
///     wakeup_bytes: 2Mi            # (Vigil) pending bytes before the reader is woken
///     poll_interval_ms: 10         # (Vigil) longest a record waits in the ring
///     ignore_self: true            # (Vigil) drop the agent's own syscalls in the kernel
/// ```
///
/// The other engines' sections of falco.yaml (`kmod`, `ebpf`, `replay`, `gvisor`, `nodriver`) are
/// accepted and unused, as Falco ignores the sections of the engines it does not run.
package struct EngineConfig: Sendable, Equatable {
    /// `engine.kind`: only `modern_ebpf`.
    package var kind = "modern_ebpf"
    /// `engine.modern_ebpf`.
    package var modernEBPF = ModernEBPF()

    /// `engine.modern_ebpf`.
    package struct ModernEBPF: Sendable, Equatable {
        /// `buf_size_preset` (Falco's ring-size index, 1...10): the ring is `1 MiB << (preset - 1)`.
        /// Vigil's default 4 (8 MiB) is Falco's default buffer. libbpf maps the ring's data twice
        /// (so that records that wrap read in one piece), so it counts twice in the agent's RSS:
        /// 16 MiB of the agent's resident memory at 4 (bench/README.md, "Agent memory").
        package var bufSizePreset = 4
        /// `cpus_for_each_buffer`: Vigil's BPF program writes to one ring buffer for all CPUs, which is
        /// Falco's `0`. Other values (falco.yaml ships 2) are accepted for compatibility and
        /// change nothing; the agent logs a warning.
        package var cpusForEachBuffer = 0
        /// `drop_failed_exit` (Falco's meaning): `true` drops failed syscalls (a negative result) in the
        /// kernel for every event type, except the types whose failures the process table needs
        /// (`close`, `connect`, datagram send/receive: `VIGIL_STATE_FAILED`); the agent warns at start
        /// and on reload naming each enabled rule that can match the failures it will not see.
        /// With `false` (the default) the kernel still drops the failed calls of the types no enabled
        /// rule and no state update can use (``RuleLoading/interest(_:dropFailedExit:)``), which loses
        /// nothing. Either way the dropped calls are counted (`vigil_kernel_filtered_total{reason="failed"}`).
        /// Takes effect at start (a reload that changes it logs a restart-only warning).
        package var dropFailedExit = false
        /// `max_args_bytes` (Vigil): argv bytes copied per exec.
        package var maxArgsBytes = 4096
        /// `max_env_bytes` (Vigil): environment bytes copied per exec, only while a loaded rule reads
        /// `proc.env` (0: never; at most 16384; a longer environment is cut and flagged).
        package var maxEnvBytes = 4096
        /// `wakeup_bytes` (Vigil): bytes of pending data before the reader is woken (0: every record).
        /// When the configuration does not set it: 2 MiB, at most a quarter of the ring
        /// (``ConfigLoader``, `BPFCaptureOptions.defaultWakeupBytes`): a storm the reader keeps up with never reaches it.
        package var wakeupBytes = 2 << 20
        /// `poll_interval_ms` (Vigil): longest a record waits in the ring before the reader polls.
        package var pollIntervalMs = 10
        /// `ignore_self` (Vigil): drop the agent's own events in the kernel.
        package var ignoreSelf = true
        /// `disable_iterators` (Falco 0.42+): Vigil builds its process table from /proc, never with
        /// BPF iterators, so either value gives the same agent (accepted for falco.yaml).
        package var disableIterators = false
    }

    package init() {}

    /// The ring buffer size `buf_size_preset` selects, in bytes.
    package var ringBufferBytes: Int { Self.ringBytes(preset: modernEBPF.bufSizePreset) }

    /// Falco's preset table: index 1 is 1 MiB, each next index doubles, 10 is 512 MiB.
    package static func ringBytes(preset: Int) -> Int { (1 << 20) << (preset - 1) }

    /// The preset of a ring size in bytes, when it is one of the table's sizes.
    package static func preset(ringBytes bytes: Int) -> Int? {
        (1...10).first { Self.ringBytes(preset: $0) == bytes }
    }

    /// Engines of falco.yaml Vigil does not run, and what to use instead.
    static let otherEngines: [String: String] = [
        "kmod": "Vigil has no kernel module",
        "ebpf": "Vigil has no legacy eBPF probe",
        "gvisor": "Vigil does not read gVisor events",
        "nodriver": "Vigil evaluates syscall events only",
        "replay": "replay a Vigil capture file with `vigil run -e FILE`",
    ]
}

/// `capture` (Falco's capture-on-match section, 0.41+). Vigil parses Falco's keys so a falco.yaml
/// loads; capturing on a match is not implemented yet, so `enabled: true` is an error.
package struct CaptureOnMatchConfig: Sendable, Equatable {
    /// `capture.enabled` (only false).
    package var enabled = false
    /// `capture.path_prefix`.
    package var pathPrefix = "/tmp/falco"
    /// `capture.mode`: `rules` or `all_rules`.
    package var mode = "rules"
    /// `capture.default_duration` in milliseconds.
    package var defaultDuration = 5000
    /// `capture.max_file_size_mb` (0: no limit).
    package var maxFileSizeMB = 0
    package init() {}

    /// Vigil's former kernel keys under `capture:` and where each went.
    static let movedKeys: [String: String] = [
        "ring_buffer_bytes": "engine.modern_ebpf.buf_size_preset",
        "max_args_bytes": "engine.modern_ebpf.max_args_bytes",
        "wakeup_bytes": "engine.modern_ebpf.wakeup_bytes",
        "poll_interval_ms": "engine.modern_ebpf.poll_interval_ms",
        "ignore_self": "engine.modern_ebpf.ignore_self",
    ]
}

extension FieldSpec {
    /// Keys of an engine's section that Vigil does not run: accepted, unused.
    static func ignored(_ key: String) -> FieldSpec {
        FieldSpec(key: key, decode: { (_, _, _) throws(ConfigError) in }, encode: { _ in ConfigNode.emptyMapping(ConfigSource(origin: "effective")) })
    }

    /// `engine` (see ``EngineConfig``).
    static func engine(_ key: String, _ kp: WritableKeyPath<Root, EngineConfig>) -> FieldSpec {
        let modern: [FieldSpec<EngineConfig.ModernEBPF>] = [
            .int("buf_size_preset", \.bufSizePreset, min: 1, max: 10),
            .int("cpus_for_each_buffer", \.cpusForEachBuffer, min: 0, max: 65536),
            .bool("drop_failed_exit", \.dropFailedExit),
            .size("max_args_bytes", \.maxArgsBytes, min: 64, max: 65536),
            .size("max_env_bytes", \.maxEnvBytes, min: 0, max: 16384),
            .size("wakeup_bytes", \.wakeupBytes, min: 0, max: 1 << 30),
            .int("poll_interval_ms", \.pollIntervalMs, min: 1, max: 1000),
            .bool("ignore_self", \.ignoreSelf),
            .bool("disable_iterators", \.disableIterators),
        ]
        var fields: [FieldSpec<EngineConfig>] = [
            FieldSpec<EngineConfig>(key: "kind", decode: { (e, n, p) throws(ConfigError) in
                let s = try ConfigValue.string(n, p)
                guard s == "modern_ebpf" else {
                    let why = EngineConfig.otherEngines[s].map { " (\($0))" } ?? ""
                    throw ConfigError(key: p, source: n.source, message: "expected modern_ebpf, Vigil's only engine (CO-RE BPF), got '\(s)'\(why)")
                }
                e.kind = s
            }, encode: { FieldSpec<EngineConfig>.scalar($0.kind) }),
            .section("modern_ebpf", \.modernEBPF, modern),
        ]
        fields += EngineConfig.otherEngines.keys.sorted().map { FieldSpec<EngineConfig>.ignored($0) }
        return FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            try ConfigValue.decodeMapping(&r[keyPath: kp], n, p, fields)
        }, encode: { root in
            ConfigValue.encodeMapping(root[keyPath: kp], [fields[0], fields[1]])
        })
    }

    /// `capture`: Falco's capture-on-match keys; Vigil's former kernel keys are errors naming
    /// their new place under `engine.modern_ebpf`.
    static func captureOnMatch(_ key: String, _ kp: WritableKeyPath<Root, CaptureOnMatchConfig>) -> FieldSpec {
        let fields: [FieldSpec<CaptureOnMatchConfig>] = [
            .bool("enabled", \.enabled), .string("path_prefix", \.pathPrefix),
            .choice("mode", \.mode, [("rules", "rules"), ("all_rules", "all_rules")], name: { $0 }),
            .int("default_duration", \.defaultDuration, min: 0, max: Int(UInt32.max)),
            .int("max_file_size_mb", \.maxFileSizeMB, min: 0, max: 1 << 40),
        ]
        return FieldSpec(key: key, decode: { (r, n, p) throws(ConfigError) in
            if case .mapping(let pairs) = n.kind {
                for pair in pairs {
                    guard let to = CaptureOnMatchConfig.movedKeys[pair.key] else { continue }
                    var msg = "moved to '\(to)': Vigil's kernel settings live under `engine:` as in falco.yaml "
                        + "(`capture:` is Falco's capture-on-match section)"
                    if pair.key == "ring_buffer_bytes" {
                        let bytes = try? ConfigValue.size(pair.value, FieldSpec.path(p, pair.key), min: 0, max: .max)
                        if let bytes, let preset = EngineConfig.preset(ringBytes: bytes) {
                            msg += "; \(pair.value.shapeName) is buf_size_preset: \(preset)"
                        } else {
                            msg += "; buf_size_preset is an index: 1 = 1 MiB, 2 = 2 MiB ... 10 = 512 MiB (4 = 8 MiB)"
                        }
                    }
                    throw ConfigError(key: FieldSpec.path(p, pair.key), source: pair.keySource, message: msg)
                }
            }
            try ConfigValue.decodeMapping(&r[keyPath: kp], n, p, fields)
            if r[keyPath: kp].enabled {
                let at = n.find("enabled")?.source ?? n.source
                throw ConfigError(key: FieldSpec.path(p, "enabled"), source: at,
                                  message: "true is not supported: Vigil does not write captures on rule match yet (record with `vigil trace --write FILE`)")
            }
        }, encode: { root in ConfigValue.encodeMapping(root[keyPath: kp], fields) })
    }
}
