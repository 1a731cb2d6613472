import VigilCore
import VigilRules
import VigilAlerts
import VigilState

/// The agent's configuration: one YAML file whose keys follow falco.yaml where they
/// overlap, plus Vigil's own. Every key can be overridden with `-o key.path=value`.
///
/// Defaults are those of the shipped `rules/vigil.yaml`, so an absent file and the
/// shipped file give the same agent.
package struct VigilConfig: Sendable, Equatable {
    /// How many rules may fire for one event (Falco's `rule_matching`).
    package enum RuleMatching: String, Sendable, Equatable { case first, all }

    /// Rules files or directories (relative paths resolve against the config file's directory).
    package var rulesFiles: [String] = ["."]
    /// Alert formatting, sinks and flood control (the alerts stage's own settings:
    /// `priority`, `json_output`, `json_include_*`, `outputs_queue`, `*_output`, `flood_control`).
    package var alerts = AlertOutputConfig()
    /// Minimum rule priority (Falco's `priority`): rules less severe are not loaded, alerts not emitted.
    package var priority: Priority {
        get { alerts.minimumPriority }
        set { alerts.minimumPriority = newValue }
    }
    /// Falco's `rule_matching`: `first` stops at the first matching rule per event, `all` alerts for each.
    package var ruleMatching: RuleMatching = .first
    /// `rules_unknown_keys`: an unknown key in a rules item is an `error` (default, as Falco
    /// 0.44) or a `warn`ing.
    package var rulesUnknownKeys: UnknownKeyPolicy = .error
    /// Falco's top-level `rules:` list: `- enable: {rule: "pattern*"}`, `- disable: {tag: T}`,
    /// applied in order over the rules files' own `enabled`.
    package var ruleSelectors: [RuleSelector] = []
    /// Reload when a rules or config file changes (Falco's `watch_config_files`).
    package var watchConfigFiles = true

    /// The metrics and health server.
    package struct Webserver: Sendable, Equatable {
        /// Whether this part is on.
        package var enabled = true
        /// `webserver.listen_address`: an IPv4 or IPv6 literal.
        package var listenAddress = "0.0.0.0"
        /// `webserver.listen_port` (0 picks a free port).
        package var listenPort = 8765
        /// Liveness path (Falco's `k8s_healthz_endpoint`).
        package var k8sHealthzEndpoint = "/healthz"
        /// Readiness path.
        package var readinessEndpoint = "/readyz"
        /// Serve `/metrics`.
        package var prometheusMetricsEnabled = true
        /// Accepted for falco.yaml compatibility; the server picks its own threading.
        package var threadiness = 0
    }
    /// `webserver`.
    package var webserver = Webserver()

    /// The agent's own log level (`debug`, `info`, `warning`, `error`).
    package var logLevel: LogLevel = .info
    /// `log_stderr`: false keeps only errors on stderr.
    package var logStderr = true

    /// `engine`: the kernel event source, where falco.yaml keeps its driver settings
    /// (see ``EngineConfig``).
    package var engine = EngineConfig()
    /// `capture`: Falco's capture-on-match section (see ``CaptureOnMatchConfig``). Vigil's kernel
    /// settings that used to live here moved to `engine.modern_ebpf`; an old key is an error naming
    /// its new place.
    package var capture = CaptureOnMatchConfig()

    /// `process_table`: the limits of the process table (applied at start).
    package struct ProcessTableLimits: Sendable, Equatable {
        /// `max_processes`: most processes tracked; beyond it exited, then least recently seen
        /// entries are evicted (vigil_process_table_evictions_total).
        package var maxProcesses = 131_072
        /// `max_fds_per_process`: fds tracked per process; more are not tracked
        /// (vigil_process_table_fd_drops_total).
        package var maxFDsPerProcess = 4096
        /// `exit_grace_ms`: how long an exited process stays resolvable after its exit event was
        /// evaluated (its children's `proc.pname`/`proc.aname[N]`, its session's `proc.sname`),
        /// trimmed of its fd table and, when it never had children, its environment. 0: removed
        /// at once, as Falco's thread table does.
        package var exitGraceMs = Int(ProcessTable.Configuration.defaultExitGracePeriodNs / 1_000_000)
        /// `max_exited`: most exited processes kept in their grace period; beyond it the oldest
        /// exit goes first (vigil_process_table_exited_evictions_total).
        package var maxExited = ProcessTable.Configuration.defaultMaxExited
    }
    /// `process_table`.
    package var processTable = ProcessTableLimits()
    /// `append_output` (Falco 0.39+): text and `output_fields` added to the rules each entry matches.
    package var appendOutput: [AppendOutput] = []
    /// `static_fields` (Falco 0.39+): constant fields, `static.NAME` in conditions and outputs.
    package var staticFields: [StaticField] = []

    /// Kubernetes API enrichment (off: host mode, nothing needs a cluster).
    package struct K8s: Sendable, Equatable {
        /// Whether this part is on.
        package var enabled = false
        /// `k8s.kubeconfig`; empty: in-cluster service account.
        package var kubeconfig = ""
        /// `k8s.node_name`; empty: `NODE_NAME` or the host name.
        package var nodeName = ""
        /// `k8s.api_server`: overrides the kubeconfig's server.
        package var apiServer = ""
        /// `k8s.ca_file`: overrides the kubeconfig's CA.
        package var caFile = ""
        /// `k8s.token_file`: overrides the bearer token file.
        package var tokenFile = ""
        /// `k8s.resync_seconds`.
        package var resyncSeconds = 600
    }
    /// `k8s`.
    package var k8s = K8s()

    /// Node-local container runtime state.
    package struct Runtime: Sendable, Equatable {
        /// Whether this part is on.
        package var enabled = true
        /// Where the runtime keeps its container state.
        package var stateRoot: String
    }
    /// `containerd` state (`state_root`).
    package var containerd = Runtime(stateRoot: "/run/containerd")
    /// `crio` state (`state_root`).
    package var crio = Runtime(stateRoot: "/var/lib/containers/storage")

    /// Budgets of one rules reload (`rules_reload`): the new set compiles on its own thread;
    /// past either budget the reload fails and the running rules stay.
    package struct RulesReload: Sendable, Equatable {
        /// Longest a reload's compilation may take.
        package var timeoutMs = 30_000
        /// Most memory (resident set growth) a reload's compilation may use.
        package var maxMemory = 1 << 30
    }
    /// `rules_reload`.
    package var rulesReload = RulesReload()
    /// `rules_file_max_size`: largest rules file read (a larger one is an error naming it and the limit).
    package var rulesFileMaxSize = FileReader.defaultLimit

    /// How long an event may wait for container metadata before it is evaluated without it.
    package var metadataWaitMs = 100
    /// Fraction of events dropped (kernel + reader) in one second that raises the
    /// internal "Vigil dropped events" alert (0 disables).
    package var dropAlertThreshold = 0.001

    /// `enforcement`: stopping what enforcing rules match (see ``Enforcement``).
    package var enforcement = Enforcement()
    /// falco.yaml keys present in the file that Vigil accepts without effect, each with why
    /// (logged as warnings at start and printed by `vigil config check`).
    package var ignoredFalcoKeys: [ConfigPair] = []

    package init() {}

    /// The schema: every key, in the order printed by `vigil config check`.
    static var fields: [FieldSpec<VigilConfig>] {
        typealias F = FieldSpec<VigilConfig>
        return [
            .paths("rules_files", \.rulesFiles),
            .bool("json_output", \.alerts.jsonOutput),
            .bool("json_include_output_property", \.alerts.jsonIncludeOutputProperty),
            .bool("json_include_tags_property", \.alerts.jsonIncludeTagsProperty),
            .bool("json_include_message_property", \.alerts.jsonIncludeMessageProperty),
            .bool("json_include_output_fields_property", \.alerts.jsonIncludeOutputFieldsProperty),
            .choice("priority", \.alerts.minimumPriority, Priority.allCases.map { ($0.falcoName.lowercased(), $0) } + [("info", .informational)],
                    name: { $0.falcoName.lowercased() }),
            .choice("rule_matching", \.ruleMatching, [("first", .first), ("all", .all)], name: { $0.rawValue }),
            .ruleSelectors("rules", \.ruleSelectors),
            .choice("rules_unknown_keys", \.rulesUnknownKeys, [("error", .error), ("warn", .warn), ("warning", .warn)], name: { $0.rawValue }),
            .bool("watch_config_files", \.watchConfigFiles),
            .size("rules_file_max_size", \.rulesFileMaxSize, min: 1024, max: 1 << 30),
            .section("rules_reload", \.rulesReload, [
                .int("timeout_ms", \.timeoutMs, min: 1, max: 3_600_000),
                .size("max_memory", \.maxMemory, min: 1 << 20, max: 1 << 40),
            ]),
            .section("outputs_queue", \.alerts.outputsQueue, [
                FieldSpec<OutputsQueueConfig>(key: "capacity", decode: { (q, n, p) throws(ConfigError) in
                    if case .scalar("0", true) = n.kind {
                        throw ConfigError(key: p, source: n.source, message: "0 (Falco's unbounded queue) is not accepted: each sink's queue stays bounded; use a capacity such as 10000")
                    }
                    q.capacity = try ConfigValue.int(n, p, min: 1, max: 10_000_000)
                }, encode: { FieldSpec<OutputsQueueConfig>.scalar(String($0.capacity)) }),
                .size("max_bytes", \.maxBytes, min: 1024, max: 1 << 40),
            ]),
            .section("stdout_output", \.alerts.stdoutOutput, [
                .bool("enabled", \.enabled),
                .choice("format", \.format, [("auto", .auto), ("config", .config), ("json", .json), ("text", .text)], name: { $0.rawValue }),
            ]),
            .section("file_output", \.alerts.fileOutput, [
                .bool("enabled", \.enabled), .bool("keep_alive", \.keepAlive), .string("filename", \.filename),
                .double("max_size_mb", \.maxSizeMB, min: 0, max: 1_048_576), .int("max_files", \.maxFiles, min: 0, max: 1000),
            ]),
            .section("syslog_output", \.alerts.syslogOutput, [
                .bool("enabled", \.enabled), .string("address", \.address),
                .choice("transport", \.transport, SyslogTransport.allCases.map { ($0.rawValue, $0) }, name: { $0.rawValue }),
                .string("facility", \.facility), .string("app_name", \.appName),
                .int("max_message_size", \.maxMessageSize, min: 480, max: 1 << 20),
            ]),
            FalcoOnlyKeys.section("http_output", \.alerts.httpOutput, [
                .bool("enabled", \.enabled), .string("url", \.url), .string("user_agent", \.userAgent),
                .bool("insecure", \.insecure), .string("ca_cert", \.caCert), .string("ca_bundle", \.caBundle),
                .string("ca_path", \.caPath), .bool("mtls", \.mtls), .string("client_cert", \.clientCert),
                .string("client_key", \.clientKey), .bool("echo", \.echo), .pairs("headers", \.headers),
                .int("batch", \.batch, min: 0, max: 10_000), .int("timeout_ms", \.timeoutMs, min: 1, max: 600_000),
                .int("max_retries", \.maxRetries, min: 0, max: 1000), .int("retry_backoff_ms", \.retryBackoffMs, min: 0, max: 600_000),
                .int("max_backoff_ms", \.maxBackoffMs, min: 0, max: 3_600_000),
            ]),
            .section("flood_control", \.alerts.floodControl, [
                .section("fold", \.fold, [
                    .bool("enabled", \.enabled), .int("window_ms", \.windowMs, min: 1, max: 86_400_000),
                    .strings("key", \.key), .int("max_keys", \.maxKeys, min: 1, max: 10_000_000),
                ]),
                .section("rate_limit", \.rateLimit, [
                    .bool("enabled", \.enabled), .double("rate", \.rate, min: 0, max: 1e9), .double("burst", \.burst, min: 1, max: 1e9),
                    .rateLimits("rules", \.rules), .int("summary_interval_ms", \.summaryIntervalMs, min: 1, max: 86_400_000),
                ]),
            ]),
            FalcoOnlyKeys.section("webserver", \.webserver, [
                .bool("enabled", \.enabled), .string("listen_address", \.listenAddress),
                .int("listen_port", \.listenPort, min: 0, max: 65535),
                .string("k8s_healthz_endpoint", \.k8sHealthzEndpoint), .string("readiness_endpoint", \.readinessEndpoint),
                .bool("prometheus_metrics_enabled", \.prometheusMetricsEnabled), .int("threadiness", \.threadiness, min: 0, max: 64),
            ]),
            .choice("log_level", \.logLevel, [("debug", .debug), ("info", .info), ("notice", .info), ("warning", .warning),
                                               ("warn", .warning), ("error", .error)], name: { $0.description }),
            .bool("log_stderr", \.logStderr),
            .appendOutput("append_output", \.appendOutput),
            .staticFields("static_fields", \.staticFields),
            .engine("engine", \.engine),
            .captureOnMatch("capture", \.capture),
            .section("process_table", \.processTable, [
                .int("max_processes", \.maxProcesses, min: 16, max: 1 << 24),
                .int("max_fds_per_process", \.maxFDsPerProcess, min: 1, max: 1 << 20),
                .int("exit_grace_ms", \.exitGraceMs, min: 0, max: 3_600_000),
                .int("max_exited", \.maxExited, min: 0, max: 1 << 24),
            ]),
            .section("k8s", \.k8s, [
                .bool("enabled", \.enabled), .string("kubeconfig", \.kubeconfig), .string("node_name", \.nodeName),
                .string("api_server", \.apiServer), .string("ca_file", \.caFile), .string("token_file", \.tokenFile),
                .int("resync_seconds", \.resyncSeconds, min: 0, max: 86_400),
            ]),
            .section("containerd", \.containerd, [.bool("enabled", \.enabled), .string("state_root", \.stateRoot)]),
            .section("crio", \.crio, [.bool("enabled", \.enabled), .string("state_root", \.stateRoot)]),
            .int("metadata_wait_ms", \.metadataWaitMs, min: 0, max: 60_000),
            .double("drop_alert_threshold", \.dropAlertThreshold, min: 0, max: 1),
            .section("enforcement", \.enforcement, [
                .choice("mode", \.mode, Enforcement.Mode.allCases.map { ($0.rawValue, $0) }, name: { $0.rawValue }),
                .choice("action", \.action, Enforcement.Action.allCases.map { ($0.rawValue, $0) }, name: { $0.rawValue }),
                .ruleSelectors("rules", \.rules),
                .strings("never", \.never),
                .bool("kernel", \.kernel),
                .section("rate_limit", \.rateLimit, [
                    .double("rate", \.rate, min: 0, max: 1e6), .double("burst", \.burst, min: 1, max: 1e6),
                ]),
                .int("summary_interval_ms", \.summaryIntervalMs, min: 100, max: 86_400_000),
            ]),
        ] + FalcoOnlyKeys.fields
    }
}
