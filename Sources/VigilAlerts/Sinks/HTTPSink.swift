import CCurl
import VigilCore

/// libcurl's global initialisation, done once.
enum CurlGlobal {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// POSTs alerts to an HTTP(S) endpoint such as falcosidekick, with libcurl.
///
/// One alert per request (`Content-Type: application/json`, as Falco does) or, with
/// `http_output.batch` N > 1, up to N alerts per request as JSON lines
/// (`application/x-ndjson`). A failed attempt (connection error, timeout, HTTP 408, 429 or 5xx)
/// is retried up to `max_retries` times with exponential backoff; other 4xx answers are final
/// errors. Delivery is at least once: a request that timed out or lost its connection after
/// going out may have been taken by the receiver, so its retry can deliver the alerts twice
/// (counted in ``SinkStats/unconfirmed``). TLS verifies the server by default (CA file/bundle/path configurable); `insecure`
/// turns verification off; a client certificate and key may be presented.
package final class HTTPBackend: AlertSinkBackend, @unchecked Sendable {
    private let config: HTTPOutputConfig
    private let formatOptions: AlertFormatOptions
    private var handle: UnsafeMutableRawPointer?
    private var headers: UnsafeMutablePointer<curl_slist>?
    private var body: [UInt8] = []
    private var response: ResponseBuffer
    private var lastErrorLogNs: UInt64 = 0
    private let batchSize: Int

    /// Collects (a bounded prefix of) the response body.
    final class ResponseBuffer {
        var bytes: [UInt8] = []
        let limit = 4096
    }

    package init(config: HTTPOutputConfig, formatOptions: AlertFormatOptions) {
        self.config = config
        self.formatOptions = formatOptions
        batchSize = max(1, config.batch)
        response = ResponseBuffer()
        _ = CurlGlobal.initialized
    }

    deinit { close() }

    package var maxBatch: Int { max(batchSize, 16) }

    private func setup() -> Bool {
        if handle != nil { return true }
        guard let h = curl_easy_init() else { return false }
        handle = h
        _ = vigil_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = vigil_curl_setopt_long(h, CURLOPT_POST, 1)
        _ = vigil_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, config.timeoutMs)
        _ = vigil_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, min(config.timeoutMs, 5000))
        _ = vigil_curl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        // Strings are copied by libcurl (since 7.17), so temporaries are fine.
        _ = vigil_curl_setopt_ptr(h, CURLOPT_URL, config.url)
        _ = vigil_curl_setopt_ptr(h, CURLOPT_USERAGENT, config.userAgent)
        if !config.caCert.isEmpty { _ = vigil_curl_setopt_ptr(h, CURLOPT_CAINFO, config.caCert) }
        else if !config.caBundle.isEmpty { _ = vigil_curl_setopt_ptr(h, CURLOPT_CAINFO, config.caBundle) }
        if !config.caPath.isEmpty { _ = vigil_curl_setopt_ptr(h, CURLOPT_CAPATH, config.caPath) }
        if !config.clientCert.isEmpty { _ = vigil_curl_setopt_ptr(h, CURLOPT_SSLCERT, config.clientCert) }
        if !config.clientKey.isEmpty { _ = vigil_curl_setopt_ptr(h, CURLOPT_SSLKEY, config.clientKey) }
        if config.insecure {
            _ = vigil_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0)
            _ = vigil_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0)
        } else {
            _ = vigil_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1)
            _ = vigil_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2)
        }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        list = curl_slist_append(list, batchSize > 1 ? "Content-Type: application/x-ndjson" : "Content-Type: application/json")
        list = curl_slist_append(list, "Expect:")
        for (k, v) in config.headers { list = curl_slist_append(list, "\(k): \(v)") }
        headers = list
        _ = vigil_curl_setopt_ptr(h, CURLOPT_HTTPHEADER, UnsafeRawPointer(list))
        let write: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { ptr, size, n, ctx in
            let total = size * n
            if let ctx, let ptr {
                let buf = Unmanaged<ResponseBuffer>.fromOpaque(ctx).takeUnretainedValue()
                let room = buf.limit - buf.bytes.count
                if room > 0 {
                    ptr.withMemoryRebound(to: UInt8.self, capacity: total) {
                        buf.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(room, total)))
                    }
                }
            }
            return total
        }
        _ = vigil_curl_setopt_ptr(h, CURLOPT_WRITEFUNCTION, unsafeBitCast(write, to: UnsafeRawPointer.self))
        _ = vigil_curl_setopt_ptr(h, CURLOPT_WRITEDATA, Unmanaged.passUnretained(response).toOpaque())
        return true
    }

    /// `unconfirmed`: the request went out and no answer came back (timeout, connection lost),
    /// so the receiver may have taken the alerts.
    private enum Outcome { case ok, retry(String, unconfirmed: Bool), fail(String) }

    private func post() -> Outcome {
        guard let h = handle else { return .retry("no curl handle", unconfirmed: false) }
        response.bytes.removeAll(keepingCapacity: true)
        let rc: CURLcode = body.withUnsafeBytes { p in
            _ = vigil_curl_setopt_ptr(h, CURLOPT_POSTFIELDS, p.baseAddress)
            _ = vigil_curl_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(p.count))
            return curl_easy_perform(h)
        }
        _ = vigil_curl_setopt_ptr(h, CURLOPT_POSTFIELDS, nil)
        if rc != CURLE_OK {
            // Bytes of request headers written for this transfer (reset by each perform): none
            // means it never left (refused, resolve or connect failure), so it cannot have arrived.
            var requestBytes = 0
            _ = vigil_curl_getinfo_long(h, CURLINFO_REQUEST_SIZE, &requestBytes)
            return .retry(String(cString: curl_easy_strerror(rc)), unconfirmed: requestBytes > 0)
        }
        var code = 0
        _ = vigil_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &code)
        if config.echo {
            Log.info("alerts", "http output response", [("sink", "http"), ("status", String(code)),
                                                         ("body", String(decoding: response.bytes, as: UTF8.self))])
        }
        switch code {
        case 200..<300: return .ok
        case 408, 429, 500...: return .retry("HTTP \(code)", unconfirmed: false)
        default: return .fail("HTTP \(code)")
        }
    }

    private func logError(_ msg: String, _ detail: String) {
        let now = Timestamp.monotonicNanoseconds()
        guard now &- lastErrorLogNs > 10_000_000_000 else { return }
        lastErrorLogNs = now
        Log.error("alerts", msg, [("sink", "http"), ("url", config.url), ("error", detail)])
    }

    /// Sends `count` alerts already in `body`, with retries.
    private func send(_ count: Int, stats: SinkStats, control: SinkControl) {
        var backoff = UInt64(max(1, config.retryBackoffMs)) * 1_000_000
        let cap = UInt64(max(config.retryBackoffMs, config.maxBackoffMs)) * 1_000_000
        var attempt = 0
        while true {
            let outcome = setup() ? post() : .retry("curl_easy_init failed", unconfirmed: false)
            switch outcome {
            case .ok:
                stats.sent.add(UInt64(count)); return
            case .fail(let why):
                logError("http output rejected alerts", why)
                stats.errors.add(UInt64(count)); return
            case .retry(let why, let unconfirmed):
                if unconfirmed { stats.unconfirmed.add(UInt64(count)) }
                if attempt >= config.maxRetries || control.shouldAbandon {
                    logError("http output failed", why)
                    stats.errors.add(UInt64(count)); return
                }
                attempt += 1
                stats.retries.add()
                if !control.sleep(ns: backoff) { stats.errors.add(UInt64(count)); return }
                backoff = min(backoff * 2, cap)
            }
        }
    }

    package func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl) {
        var i = 0
        while i < batch.count {
            let n = min(batchSize, batch.count - i)
            body.removeAll(keepingCapacity: true)
            for a in batch[i..<(i + n)] {
                if a.json.isEmpty {
                    body.append(contentsOf: AlertFormatter.json(a.alert, summary: a.summary, options: formatOptions))
                } else {
                    body.append(contentsOf: a.json)
                }
                if batchSize > 1 { body.append(0x0A) }
            }
            send(n, stats: stats, control: control)
            i += n
        }
        if body.capacity > 4 << 20 { body = [] }
    }

    package func close() {
        if let h = handle { curl_easy_cleanup(h); handle = nil }
        if let l = headers { curl_slist_free_all(l); headers = nil }
    }
}

extension AlertSink {
    /// The HTTP sink for `config` (always JSON).
    package static func http(_ config: HTTPOutputConfig, formatOptions: AlertFormatOptions, capacity: Int,
                            maxBytes: Int = OutputsQueueConfig.defaultMaxBytes) throws(AlertConfigError) -> AlertSink {
        let u = config.url.lowercased()
        guard u.hasPrefix("http://") || u.hasPrefix("https://") else {
            throw AlertConfigError(key: "http_output.url", message: "must be an http:// or https:// URL, got '\(config.url)'")
        }
        return AlertSink(name: "http", format: .json, capacity: capacity, maxBytes: maxBytes, backend: HTTPBackend(config: config, formatOptions: formatOptions))
    }
}
