import VigilCore
import VigilRules

/// The agent's configuration: one YAML file whose keys follow falco.yaml where they
/// overlap, plus Vigil's own. Every key can be overridden with `-o key.path=value`.
///
/// Defaults are those of the shipped `rules/vigil.yaml`, so an absent file and the
/// shipped file give the same agent.
public struct VigilConfig: Sendable, Equatable {
    /// How many rules may fire for one event (Falco's `rule_matching`).
    public enum RuleMatching: String, Sendable, Equatable { case first, all }

    /// Rules files or directories (relative paths resolve against the config file's directory).
    public var rulesFiles: [String] = ["."]
    /// Alerts as JSON lines (Falco's shape); otherwise readable text lines.
    public var jsonOutput = true
    public var jsonIncludeOutputProperty = true
    public var jsonIncludeTagsProperty = true
    /// Minimum rule priority that is loaded and alerted on.
    public var priority: Priority = .debug
    public var ruleMatching: RuleMatching = .first
    /// Reload when a rules or config file changes (Falco's `watch_config_files`).
    public var watchConfigFiles = true

    /// Per-sink queue size (alerts held for a slow sink before dropping, counted).
    public struct OutputsQueue: Sendable, Equatable {
        public var capacity = 10_000
    }
    public var outputsQueue = OutputsQueue()

    public struct StdoutOutput: Sendable, Equatable {
        public var enabled = true
    }
    public var stdoutOutput = StdoutOutput()

    public struct FileOutput: Sendable, Equatable {
        public var enabled = false
        /// Kept for falco.yaml compatibility: the file is always kept open (reopened on SIGUSR1).
        public var keepAlive = true
        public var filename = "/var/log/vigil/events.log"
        /// Rotate when the file exceeds this many bytes (0: never).
        public var maxSizeBytes = 100 << 20
        /// Rotated files kept (`events.log.1` ... `.N`).
        public var keepFiles = 5
    }
    public var fileOutput = FileOutput()

    public struct SyslogOutput: Sendable, Equatable {
        public var enabled = false
        /// `unix:///dev/log`, `udp://host:514` or `tcp://host:601` (octet-counted framing).
        public var address = "unix:///dev/log"
        /// Syslog facility name (`local0`...`local7`, `daemon`, `user`, ...).
        public var facility = "local0"
        public var appName = "vigil"
    }
    public var syslogOutput = SyslogOutput()

    public struct HTTPOutput: Sendable, Equatable {
        public var enabled = false
        /// falcosidekick's input, e.g. `http://falcosidekick:2801/`.
        public var url = ""
        public var userAgent = "vigil"
        /// Skip TLS verification.
        public var insecure = false
        public var caCert = ""
        public var caBundle = ""
        public var caPath = ""
        /// Send a client certificate.
        public var mtls = false
        public var clientCert = ""
        public var clientKey = ""
        public var headers: [ConfigPair] = []
        /// Alerts per request: 1 (one alert per POST, as Falco) or more (JSON lines).
        public var batchSize = 1
        public var timeoutMs = 5_000
        public var maxRetries = 5
        public var retryBackoffMs = 500
        public var echo = false
        public var compressUploads = false
        public var keepAlive = true
    }
    public var httpOutput = HTTPOutput()

    /// The metrics and health server.
    public struct Webserver: Sendable, Equatable {
        public var enabled = true
        public var listenAddress = "0.0.0.0"
        public var listenPort = 8765
        public var k8sHealthzEndpoint = "/healthz"
        public var readinessEndpoint = "/readyz"
        public var prometheusMetricsEnabled = true
        public var threadiness = 0
    }
    public var webserver = Webserver()

    /// The agent's own log level (`debug`, `info`, `warning`, `error`).
    public var logLevel: LogLevel = .info
    public var logStderr = true

    /// Kernel capture.
    public struct Capture: Sendable, Equatable {
        public var ringBufferBytes = 16 << 20
        public var maxArgsBytes = 4096
        /// Bytes of pending data before the reader is woken (0: every record).
        public var wakeupBytes = 256 << 10
        /// Longest a record waits in the ring before the reader polls, in milliseconds.
        public var pollIntervalMs = 10
        /// Drop the agent's own events in the kernel.
        public var ignoreSelf = true
    }
    public var capture = Capture()

    /// Kubernetes API enrichment (off: host mode, nothing needs a cluster).
    public struct K8s: Sendable, Equatable {
        public var enabled = false
        public var kubeconfig = ""
        public var nodeName = ""
        public var apiServer = ""
        public var caFile = ""
        public var tokenFile = ""
        public var resyncSeconds = 600
    }
    public var k8s = K8s()

    /// Node-local container runtime state.
    public struct Runtime: Sendable, Equatable {
        public var enabled = true
        public var stateRoot: String
    }
    public var containerd = Runtime(stateRoot: "/run/containerd")
    public var crio = Runtime(stateRoot: "/var/lib/containers/storage")

    /// Folding of repeated alerts and per-rule token buckets (nothing dropped silently).
    public struct FloodControl: Sendable, Equatable {
        public var enabled = true
        /// Identical alerts (rule, container, output) within this window are folded.
        public var windowSeconds = 60.0
        /// Token bucket per rule: sustained alerts per second, and burst.
        public var rate = 20.0
        public var maxBurst = 100
    }
    public var floodControl = FloodControl()

    /// How long an event may wait for container metadata before it is evaluated without it.
    public var metadataWaitMs = 100
    /// Fraction of events dropped (kernel + reader) in one second that raises the
    /// internal "Vigil dropped events" alert (0 disables).
    public var dropAlertThreshold = 0.001

    public init() {}

    /// The schema: every key, in the order printed by `vigil config check`.
    static var fields: [FieldSpec<VigilConfig>] {
        typealias F = FieldSpec<VigilConfig>
        return [
            .strings("rules_files", \.rulesFiles),
            .bool("json_output", \.jsonOutput),
            .bool("json_include_output_property", \.jsonIncludeOutputProperty),
            .bool("json_include_tags_property", \.jsonIncludeTagsProperty),
            .choice("priority", \.priority, Priority.allCases.map { ($0.falcoName.lowercased(), $0) } + [("info", .informational)],
                    name: { $0.falcoName.lowercased() }),
            .choice("rule_matching", \.ruleMatching, [("first", .first), ("all", .all)], name: { $0.rawValue }),
            .bool("watch_config_files", \.watchConfigFiles),
            .section("outputs_queue", \.outputsQueue, [
                .int("capacity", \.capacity, min: 1, max: 10_000_000),
            ]),
            .section("stdout_output", \.stdoutOutput, [.bool("enabled", \.enabled)]),
            .section("file_output", \.fileOutput, [
                .bool("enabled", \.enabled), .bool("keep_alive", \.keepAlive), .string("filename", \.filename),
                .size("max_size", \.maxSizeBytes), .int("keep_files", \.keepFiles, min: 0, max: 1000),
            ]),
            .section("syslog_output", \.syslogOutput, [
                .bool("enabled", \.enabled), .string("address", \.address), .string("facility", \.facility),
                .string("app_name", \.appName),
            ]),
            .section("http_output", \.httpOutput, [
                .bool("enabled", \.enabled), .string("url", \.url), .string("user_agent", \.userAgent),
                .bool("insecure", \.insecure), .string("ca_cert", \.caCert), .string("ca_bundle", \.caBundle),
                .string("ca_path", \.caPath), .bool("mtls", \.mtls), .string("client_cert", \.clientCert),
                .string("client_key", \.clientKey), .stringMap("headers", \.headers),
                .int("batch_size", \.batchSize, min: 1, max: 10_000), .int("timeout_ms", \.timeoutMs, min: 1, max: 600_000),
                .int("max_retries", \.maxRetries, min: 0, max: 1000), .int("retry_backoff_ms", \.retryBackoffMs, min: 0, max: 600_000),
                .bool("echo", \.echo), .bool("compress_uploads", \.compressUploads), .bool("keep_alive", \.keepAlive),
            ]),
            .section("webserver", \.webserver, [
                .bool("enabled", \.enabled), .string("listen_address", \.listenAddress),
                .int("listen_port", \.listenPort, min: 0, max: 65535),
                .string("k8s_healthz_endpoint", \.k8sHealthzEndpoint), .string("readiness_endpoint", \.readinessEndpoint),
                .bool("prometheus_metrics_enabled", \.prometheusMetricsEnabled), .int("threadiness", \.threadiness, min: 0, max: 64),
            ]),
            .choice("log_level", \.logLevel, [("debug", .debug), ("info", .info), ("notice", .info), ("warning", .warning),
                                               ("warn", .warning), ("error", .error)], name: { $0.description }),
            .bool("log_stderr", \.logStderr),
            .section("capture", \.capture, [
                .size("ring_buffer_bytes", \.ringBufferBytes, min: 4096, max: 1 << 30),
                .size("max_args_bytes", \.maxArgsBytes, min: 64, max: 65536),
                .size("wakeup_bytes", \.wakeupBytes, min: 0, max: 1 << 30),
                .int("poll_interval_ms", \.pollIntervalMs, min: 1, max: 10_000),
                .bool("ignore_self", \.ignoreSelf),
            ]),
            .section("k8s", \.k8s, [
                .bool("enabled", \.enabled), .string("kubeconfig", \.kubeconfig), .string("node_name", \.nodeName),
                .string("api_server", \.apiServer), .string("ca_file", \.caFile), .string("token_file", \.tokenFile),
                .int("resync_seconds", \.resyncSeconds, min: 0, max: 86_400),
            ]),
            .section("containerd", \.containerd, [.bool("enabled", \.enabled), .string("state_root", \.stateRoot)]),
            .section("crio", \.crio, [.bool("enabled", \.enabled), .string("state_root", \.stateRoot)]),
            .section("flood_control", \.floodControl, [
                .bool("enabled", \.enabled), .double("window_seconds", \.windowSeconds, min: 0, max: 86_400),
                .double("rate", \.rate, min: 0, max: 1e9), .int("max_burst", \.maxBurst, min: 1, max: 1_000_000_000),
            ]),
            .int("metadata_wait_ms", \.metadataWaitMs, min: 0, max: 60_000),
            .double("drop_alert_threshold", \.dropAlertThreshold, min: 0, max: 1),
        ]
    }
}
