/// Alert delivery: formatting, sinks and flood control.
///
/// ## Flow
/// `AlertDispatcher.submit(_:)` (called by the pipeline; never blocks) → dispatcher queue →
/// dispatcher thread: minimum priority, ``FloodControl`` (folding, token buckets), rendering once
/// (``AlertFormatter``) → every ``AlertSink``'s own bounded queue (alerts and bytes) → the sink's
/// worker thread → stdout / file / syslog / HTTP. A full queue drops and counts
/// (`vigil_alerts_queue_dropped_total`, `vigil_alert_sink_dropped_total{sink}`); drops at the
/// dispatcher queue are also reported in a "Vigil alerts dropped" alert.
///
/// ## Alert JSON (Falco's shape)
/// ```json
/// {"hostname":"node-1","output":"2026-11-24T05:56:55.123456789Z: Warning Sensitive file opened (…)",
///  "output_fields":{"evt.time":1764…,"proc.name":"cat","container.id":"3f9a…"},"priority":"Warning",
///  "rule":"Read sensitive file untrusted","source":"syscall","tags":["filesystem"],
///  "time":"2026-11-24T05:56:55.123456789Z"}
/// ```
/// `output_fields` keeps numbers as numbers, writes each key once and is never empty (`evt.time`).
/// Summary alerts add `"vigil":{"summary":"folded"|"rate_limited"|"dropped","count":N,
/// "window_start":"…","window_end":"…"}` and the matching `vigil.*` output fields (see
/// ``FoldConfig`` and ``RateLimitConfig``). The text form is the `output` string with control
/// characters escaped, one line per alert.
///
/// ## Syslog (RFC 5424)
/// `<PRI>1 TIMESTAMP HOSTNAME vigil PID alert|summary [vigil@32473 rule="…" priority="…" source="…"] MSG`
/// with PRI = facility × 8 + severity (Emergency 0 … Debug 7), MSG the JSON (or text) line. Stream
/// transports use octet counting (RFC 6587).
///
/// ## Operations
/// `AlertDispatcher.reopen()` on SIGUSR1 (file sinks reopen after logrotate), `flush(timeout:)`,
/// `stop(timeout:)` (emits pending summaries), `registerMetrics(in:)`.
package enum VigilAlertsModule {}
