import CCurl
import VigilRules

/// Everything about where alerts go and how they look. Key names follow falco.yaml where they
/// overlap; Vigil's own keys are marked "(Vigil)". The `agent` parses `vigil.yaml` into this.
///
/// ```yaml
/// priority: debug                       # minimum priority that is emitted
/// json_output: true                     # JSON lines (Falco's shape) instead of text
/// json_include_output_property: true    # include "output" in JSON
/// json_include_tags_property: true      # include "tags" in JSON
/// json_include_message_property: false  # include "message" (output without time/priority)
/// outputs_queue: {capacity: 10000, max_bytes: 67108864}
/// stdout_output: {enabled: true, format: auto}
/// file_output: {enabled: false, filename: /var/log/vigil/alerts.json, keep_alive: true,
///               max_size_mb: 100, max_files: 5}
/// syslog_output: {enabled: false, address: /dev/log, transport: unix, facility: user}
/// http_output: {enabled: false, url: http://falcosidekick:2801/, user_agent: vigil,
///               insecure: false, ca_cert: "", ca_bundle: "", ca_path: "", mtls: false,
///               client_cert: "", client_key: "", echo: false, headers: {}, batch: false,
///               timeout_ms: 5000, max_retries: 3}
/// flood_control: {fold: {enabled: true, window_ms: 10000, key: []},
///                 rate_limit: {enabled: false, rate: 10, burst: 50, rules: {}}}
/// ```
package struct AlertOutputConfig: Sendable, Equatable {
    /// `priority`: alerts less severe than this are not emitted (Falco default `debug`).
    package var minimumPriority: Priority = .debug
    /// `json_output`: alerts as JSON lines in Falco's shape; false writes the readable text line.
    /// Default true (Vigil feeds log pipelines); HTTP always sends JSON.
    package var jsonOutput: Bool = true
    /// `json_include_output_property`: write the `output` key in JSON alerts.
    package var jsonIncludeOutputProperty: Bool = true
    /// `json_include_tags_property`: write the `tags` key in JSON alerts.
    package var jsonIncludeTagsProperty: Bool = true
    /// `json_include_message_property`: also write `message` (output without time and priority).
    package var jsonIncludeMessageProperty: Bool = false
    /// `json_include_output_fields_property` (Falco 0.41+): write `output_fields` in JSON alerts.
    package var jsonIncludeOutputFieldsProperty: Bool = true
    /// `outputs_queue`: per-sink queue sizing.
    package var outputsQueue = OutputsQueueConfig()
    /// `stdout_output`.
    package var stdoutOutput = StdoutOutputConfig()
    /// `file_output`.
    package var fileOutput = FileOutputConfig()
    /// `syslog_output`.
    package var syslogOutput = SyslogOutputConfig()
    /// `http_output`.
    package var httpOutput = HTTPOutputConfig()
    /// `flood_control` (Vigil): folding of repeated alerts and per-rule rate limits.
    package var floodControl = FloodControlConfig()

    package init() {}

    /// The formatting options these settings select.
    package var formatOptions: AlertFormatOptions {
        var o = AlertFormatOptions(includeOutput: jsonIncludeOutputProperty, includeTags: jsonIncludeTagsProperty,
                                   includeMessage: jsonIncludeMessageProperty)
        o.includeOutputFields = jsonIncludeOutputFieldsProperty
        return o
    }

    /// Checks values that the types alone do not constrain. The error names the key.
    /// Why libcurl's URL parser rejects `url` (bad IPv6 literal, bad port, no host...), or nil.
    static func urlProblem(_ url: String) -> String? {
        guard let h = curl_url() else { return "cannot parse" }
        defer { curl_url_cleanup(h) }
        let rc = curl_url_set(h, CURLUPART_URL, url, 0)
        if rc != CURLUE_OK { return String(cString: curl_url_strerror(rc)) }
        var host: UnsafeMutablePointer<CChar>?
        guard curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK, let host else { return "no host" }
        defer { curl_free(host) }
        return host.pointee == 0 ? "no host" : nil
    }

    package func validate() throws(AlertConfigError) {
        if outputsQueue.capacity < 1 { throw AlertConfigError(key: "outputs_queue.capacity", message: "must be at least 1") }
        if outputsQueue.maxBytes < 1024 { throw AlertConfigError(key: "outputs_queue.max_bytes", message: "must be at least 1024") }
        if fileOutput.enabled {
            if fileOutput.filename.isEmpty { throw AlertConfigError(key: "file_output.filename", message: "must be set when file_output is enabled") }
            if fileOutput.maxSizeMB < 0 { throw AlertConfigError(key: "file_output.max_size_mb", message: "must be >= 0 (0 disables rotation)") }
            if fileOutput.maxFiles < 0 { throw AlertConfigError(key: "file_output.max_files", message: "must be >= 0") }
        }
        if syslogOutput.enabled {
            if SyslogFacility(name: syslogOutput.facility) == nil {
                throw AlertConfigError(key: "syslog_output.facility", message: "unknown facility '\(syslogOutput.facility)' (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0..local7)")
            }
            do { _ = try SyslogEndpoint(address: syslogOutput.address, transport: syslogOutput.transport) } catch {
                throw AlertConfigError(key: "syslog_output.address", message: error.message)
            }
        }
        if httpOutput.enabled {
            let u = httpOutput.url.lowercased()
            if !(u.hasPrefix("http://") || u.hasPrefix("https://")) {
                throw AlertConfigError(key: "http_output.url", message: "must be an http:// or https:// URL, got '\(httpOutput.url)'")
            }
            if let why = Self.urlProblem(httpOutput.url) {
                throw AlertConfigError(key: "http_output.url", message: "invalid URL '\(httpOutput.url)': \(why)")
            }
            if httpOutput.timeoutMs < 1 { throw AlertConfigError(key: "http_output.timeout_ms", message: "must be at least 1") }
            if httpOutput.maxRetries < 0 { throw AlertConfigError(key: "http_output.max_retries", message: "must be >= 0") }
            if httpOutput.mtls && (httpOutput.clientCert.isEmpty || httpOutput.clientKey.isEmpty) {
                throw AlertConfigError(key: "http_output.mtls", message: "needs http_output.client_cert and http_output.client_key")
            }
            for (name, _) in httpOutput.headers where name.isEmpty || name.unicodeScalars.contains(where: { $0 == ":" || $0.value < 0x21 || $0.value == 0x7F }) {
                throw AlertConfigError(key: "http_output.headers", message: "invalid header name '\(name)'")
            }
            for (name, value) in httpOutput.headers where value.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) {
                throw AlertConfigError(key: "http_output.headers.\(name)", message: "header value must not contain line breaks")
            }
        }
        let fold = floodControl.fold
        if fold.enabled && fold.windowMs < 1 { throw AlertConfigError(key: "flood_control.fold.window_ms", message: "must be at least 1") }
        if fold.maxKeys < 1 { throw AlertConfigError(key: "flood_control.fold.max_keys", message: "must be at least 1") }
        let rl = floodControl.rateLimit
        if rl.enabled {
            if !(rl.rate >= 0) { throw AlertConfigError(key: "flood_control.rate_limit.rate", message: "must be >= 0") }
            if !(rl.burst >= 1) { throw AlertConfigError(key: "flood_control.rate_limit.burst", message: "must be >= 1") }
            for (rule, l) in rl.rules {
                if !(l.rate >= 0) { throw AlertConfigError(key: "flood_control.rate_limit.rules.\(rule).rate", message: "must be >= 0") }
                if !(l.burst >= 1) { throw AlertConfigError(key: "flood_control.rate_limit.rules.\(rule).burst", message: "must be >= 1") }
            }
            if rl.summaryIntervalMs < 1 { throw AlertConfigError(key: "flood_control.rate_limit.summary_interval_ms", message: "must be at least 1") }
        }
    }
}

/// A configuration value that is out of range; `key` is the dotted key path.
package struct AlertConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    package var key: String
    package var message: String
    package init(key: String, message: String) { self.key = key; self.message = message }
    package var description: String { "\(key): \(message)" }
}

/// `outputs_queue`: every sink has its own bounded queue (in alerts and in bytes).
package struct OutputsQueueConfig: Sendable, Equatable {
    /// The default byte budget of one sink queue (64 MiB).
    package static let defaultMaxBytes = 64 << 20
    /// `outputs_queue.capacity`: alerts each sink may hold before new ones are dropped (and counted).
    /// Falco's 0 ("unbounded") is not accepted: memory must stay bounded. Default 10000.
    package var capacity: Int = 10_000
    /// `outputs_queue.max_bytes` (Vigil): bytes of rendered alerts each sink may hold (default 64 MiB),
    /// so a backlog of 100 KB alerts cannot grow to capacity x 100 KB. One alert is always accepted.
    package var maxBytes: Int = OutputsQueueConfig.defaultMaxBytes
    package init(capacity: Int = 10_000, maxBytes: Int = OutputsQueueConfig.defaultMaxBytes) {
        self.capacity = capacity; self.maxBytes = maxBytes
    }
}

/// How the stdout sink writes alerts.
package enum StdoutFormat: String, Sendable, Equatable {
    /// Text when stdout is a terminal, else as `json_output` says.
    case auto
    /// As `json_output` says.
    case config
    /// Always JSON.
    case json
    /// Always the readable text line.
    case text
}

/// `stdout_output`.
package struct StdoutOutputConfig: Sendable, Equatable {
    /// `stdout_output.enabled` (default true).
    package var enabled: Bool = true
    /// `stdout_output.format` (Vigil): `auto` (default: readable text on a terminal, else JSON per
    /// `json_output`), `config`, `json`, `text`.
    package var format: StdoutFormat = .auto
    package init(enabled: Bool = true, format: StdoutFormat = .auto) { self.enabled = enabled; self.format = format }
}

/// `file_output`.
package struct FileOutputConfig: Sendable, Equatable {
    /// `file_output.enabled` (default false).
    package var enabled: Bool = false
    /// `file_output.filename`: the file alerts are appended to (created with mode 0640).
    package var filename: String = "/var/log/vigil/alerts.json"
    /// `file_output.keep_alive`: keep the file open between writes (default true). When false the file
    /// is opened and closed for every batch, which also follows external renames at once.
    package var keepAlive: Bool = true
    /// `file_output.max_size_mb` (Vigil): rotate when the file would exceed this many MiB; 0 never rotates.
    /// Fractions are allowed (used by tests).
    package var maxSizeMB: Double = 100
    /// `file_output.max_files` (Vigil): rotated files kept (`alerts.json.1` newest ... `.N`); 0 keeps none.
    package var maxFiles: Int = 5
    package init(enabled: Bool = false, filename: String = "/var/log/vigil/alerts.json", keepAlive: Bool = true,
                maxSizeMB: Double = 100, maxFiles: Int = 5) {
        self.enabled = enabled; self.filename = filename; self.keepAlive = keepAlive
        self.maxSizeMB = maxSizeMB; self.maxFiles = maxFiles
    }
    /// The rotation threshold in bytes (0 = never).
    package var maxSizeBytes: Int { maxSizeMB <= 0 ? 0 : max(1, Int(maxSizeMB * 1024 * 1024)) }
}

/// Transport of the syslog sink.
package enum SyslogTransport: String, Sendable, Equatable, CaseIterable {
    /// Unix datagram socket (like /dev/log); falls back to `unix-stream` when the socket is a stream one.
    case unix
    /// Unix datagram socket.
    case unixDgram = "unix-dgram"
    /// Unix stream socket with octet-counted framing (RFC 6587).
    case unixStream = "unix-stream"
    /// UDP (RFC 5426), one message per datagram.
    case udp
    /// TCP with octet-counted framing (RFC 6587).
    case tcp
}

/// `syslog_output`.
package struct SyslogOutputConfig: Sendable, Equatable {
    /// `syslog_output.enabled` (default false).
    package var enabled: Bool = false
    /// `syslog_output.address` (Vigil): a socket path for unix transports, `host:port` for udp/tcp
    /// (IPv6 as `[::1]:514`). Default `/dev/log`.
    package var address: String = "/dev/log"
    /// `syslog_output.transport` (Vigil): `unix` (default), `unix-dgram`, `unix-stream`, `udp`, `tcp`.
    package var transport: SyslogTransport = .unix
    /// `syslog_output.facility` (Vigil): facility name, default `user` (as Falco logs).
    package var facility: String = "user"
    /// `syslog_output.app_name` (Vigil): RFC 5424 APP-NAME, default `vigil`.
    package var appName: String = "vigil"
    /// `syslog_output.max_message_size` (Vigil): frames larger than this have their long string values
    /// shortened (never cut mid-JSON). Default 65000 bytes (fits a UDP datagram).
    package var maxMessageSize: Int = 65_000
    package init(enabled: Bool = false, address: String = "/dev/log", transport: SyslogTransport = .unix,
                facility: String = "user", appName: String = "vigil", maxMessageSize: Int = 65_000) {
        self.enabled = enabled; self.address = address; self.transport = transport; self.facility = facility
        self.appName = appName; self.maxMessageSize = maxMessageSize
    }
}

/// `http_output`.
package struct HTTPOutputConfig: Sendable, Equatable {
    /// `http_output.enabled` (default false).
    package var enabled: Bool = false
    /// `http_output.url`: where alerts are POSTed (falcosidekick listens on `http://…:2801/`).
    package var url: String = ""
    /// `http_output.user_agent`: the User-Agent header.
    package var userAgent: String = "vigil"
    /// `http_output.insecure`: skip TLS certificate and host name verification (default false).
    package var insecure: Bool = false
    /// `http_output.ca_cert`: a CA certificate file (PEM) to verify the server with.
    package var caCert: String = ""
    /// `http_output.ca_bundle`: a CA bundle file (PEM); used when `ca_cert` is empty.
    package var caBundle: String = ""
    /// `http_output.ca_path`: a directory of hashed CA certificates.
    package var caPath: String = ""
    /// `http_output.mtls`: present `client_cert`/`client_key` to the server.
    package var mtls: Bool = false
    /// `http_output.client_cert`: client certificate (PEM). Used when set, even without `mtls`.
    package var clientCert: String = ""
    /// `http_output.client_key`: client private key (PEM).
    package var clientKey: String = ""
    /// `http_output.echo`: write the server's response bodies to the agent log (debug aid).
    package var echo: Bool = false
    /// `http_output.headers` (Vigil): extra request headers, in order.
    package var headers: [(String, String)] = []
    /// `http_output.batch` (Vigil): 0 or 1 sends one alert per request as Falco does; N > 1 sends up to
    /// N queued alerts per request as JSON lines (`application/x-ndjson`).
    package var batch: Int = 0
    /// `http_output.timeout_ms` (Vigil): whole-request timeout (connect timeout is the same, capped).
    package var timeoutMs: Int = 5000
    /// `http_output.max_retries` (Vigil): retries after a failed attempt (connection error, timeout,
    /// HTTP 408, 429, 5xx), with exponential backoff from `retry_backoff_ms`, doubling, capped at 5 s.
    package var maxRetries: Int = 3
    /// `http_output.retry_backoff_ms` (Vigil): first backoff delay.
    package var retryBackoffMs: Int = 100
    /// `http_output.max_backoff_ms` (Vigil): backoff cap.
    package var maxBackoffMs: Int = 5000

    package init() {}

    package static func == (a: HTTPOutputConfig, b: HTTPOutputConfig) -> Bool {
        a.enabled == b.enabled && a.url == b.url && a.userAgent == b.userAgent && a.insecure == b.insecure
            && a.caCert == b.caCert && a.caBundle == b.caBundle && a.caPath == b.caPath && a.mtls == b.mtls
            && a.clientCert == b.clientCert && a.clientKey == b.clientKey && a.echo == b.echo
            && a.headers.map { $0.0 } == b.headers.map { $0.0 } && a.headers.map { $0.1 } == b.headers.map { $0.1 }
            && a.batch == b.batch && a.timeoutMs == b.timeoutMs && a.maxRetries == b.maxRetries
            && a.retryBackoffMs == b.retryBackoffMs && a.maxBackoffMs == b.maxBackoffMs
    }
}

/// `flood_control` (Vigil).
package struct FloodControlConfig: Sendable, Equatable {
    /// `flood_control.fold`.
    package var fold = FoldConfig()
    /// `flood_control.rate_limit`.
    package var rateLimit = RateLimitConfig()
    package init(fold: FoldConfig = FoldConfig(), rateLimit: RateLimitConfig = RateLimitConfig()) {
        self.fold = fold; self.rateLimit = rateLimit
    }
}

/// `flood_control.fold`: repeated identical alerts within a window are folded.
///
/// Alerts are identical when they have the same rule, the same container (`container.id`, host
/// when absent) and the same key: the rendered output text by default, or the values of the
/// output fields named in `key`. The first alert of a window goes out at once; the rest are
/// counted, and when the window ends (or on flush/stop) one summary alert follows: the same rule,
/// priority, tags and source, the output fields of the last folded alert plus
/// `vigil.folded_count`, `vigil.folded_window_start`, `vigil.folded_window_end` (RFC 3339 event
/// times of the first and last folded alert), and in JSON a top-level
/// `"vigil": {"summary":"folded","folded_count":N,"window_start":…,"window_end":…}`.
/// Its output text ends with `(N identical alerts folded between START and END)`.
package struct FoldConfig: Sendable, Equatable {
    /// `flood_control.fold.enabled` (default true).
    package var enabled: Bool = true
    /// `flood_control.fold.window_ms`: folding window (default 10000).
    package var windowMs: Int = 10_000
    /// `flood_control.fold.key`: output field names forming the identity; empty = output text.
    package var key: [String] = []
    /// `flood_control.fold.max_keys`: distinct keys tracked at once; beyond it alerts pass unfolded
    /// (counted as `fold_table_full`). Default 10000.
    package var maxKeys: Int = 10_000
    package init(enabled: Bool = true, windowMs: Int = 10_000, key: [String] = [], maxKeys: Int = 10_000) {
        self.enabled = enabled; self.windowMs = windowMs; self.key = key; self.maxKeys = maxKeys
    }
}

/// One token bucket: `rate` alerts per second refill, up to `burst` at once.
package struct RateLimit: Sendable, Equatable {
    package var rate: Double
    package var burst: Double
    package init(rate: Double, burst: Double) { self.rate = rate; self.burst = burst }
}

/// `flood_control.rate_limit`: token bucket per rule. Alerts over the limit are held back and
/// counted; every `summary_interval_ms` (and on flush/stop) a summary alert per rule reports them:
/// the same rule with `vigil.rate_limited_count`, `vigil.rate_limited_window_start/end` in its
/// output fields and `"vigil": {"summary":"rate_limited",…}`.
package struct RateLimitConfig: Sendable, Equatable {
    /// `flood_control.rate_limit.enabled` (default false).
    package var enabled: Bool = false
    /// `flood_control.rate_limit.rate`: alerts per second per rule (default 10).
    package var rate: Double = 10
    /// `flood_control.rate_limit.burst`: bucket size (default 50).
    package var burst: Double = 50
    /// `flood_control.rate_limit.rules`: per-rule overrides, `{rule name: {rate, burst}}`.
    package var rules: [String: RateLimit] = [:]
    /// `flood_control.rate_limit.summary_interval_ms`: how often held-back counts are reported (default 10000).
    package var summaryIntervalMs: Int = 10_000
    package init(enabled: Bool = false, rate: Double = 10, burst: Double = 50, rules: [String: RateLimit] = [:],
                summaryIntervalMs: Int = 10_000) {
        self.enabled = enabled; self.rate = rate; self.burst = burst; self.rules = rules
        self.summaryIntervalMs = summaryIntervalMs
    }
    /// The limit for `rule`.
    package func limit(for rule: String) -> RateLimit { rules[rule] ?? RateLimit(rate: rate, burst: burst) }
}
