import CCurl
import Synchronization
import VigilCore
#if canImport(Glibc)
import Glibc
#endif

/// A failed API request. Messages name the server and path; they never contain the token.
package enum KubeHTTPError: Error, CustomStringConvertible, Sendable {
    /// Could not connect, TLS failed, timed out, or the connection broke.
    case transport(url: String, code: Int, message: String)
    /// The server answered with a non-2xx status (`body` is the start of its answer).
    case status(url: String, status: Int, body: String)
    /// The answer was not what the API sends.
    case garbage(url: String, message: String)
    /// A credential could not be read.
    case credentials(String)
    /// Stopped on request.
    case cancelled

    package var description: String {
        switch self {
        case .transport(let u, let c, let m): "\(u): \(m) (curl error \(c))"
        case .status(let u, let s, let b): "\(u): HTTP \(s)\(b.isEmpty ? "" : ": " + b)"
        case .garbage(let u, let m): "\(u): unexpected answer: \(m)"
        case .credentials(let m): m
        case .cancelled: "cancelled"
        }
    }
}

private let curlGlobalInit: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

/// GET requests to the API server over libcurl, TLS-verified against the configured CA.
/// One instance per thread (it keeps the bearer token it last read).
final class KubeHTTPClient {
    let config: KubeClientConfiguration
    private var cachedToken: String?
    private var tokenMtime: (Int, Int) = (-1, -1)
    /// Asked during every transfer (from curl's progress callback, on the transfer's thread)
    /// whether to abort it. The client owns it and each transfer holds the client's copy: no
    /// reference a running transfer uses can go away under it.
    let shouldCancel: @Sendable () -> Bool

    /// A client whose transfers abort with ``KubeHTTPError/cancelled`` once `shouldCancel` says so.
    init(config: KubeClientConfiguration, shouldCancel: @escaping @Sendable () -> Bool = { false }) {
        self.config = config
        self.shouldCancel = shouldCancel
        _ = curlGlobalInit
    }

    /// The bearer token: the configured value, or the token file re-read when its mtime changes.
    func bearerToken() throws(KubeHTTPError) -> String? {
        if let t = config.token { return t }
        guard let file = config.tokenFile else { return nil }
        var st = stat()
        guard stat(file, &st) == 0 else {
            throw .credentials("token file \(file): cannot read (\(String(cString: strerror(errno))))")
        }
        let m = (Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec))
        if m != tokenMtime || cachedToken == nil {
            let bytes: [UInt8]
            do { bytes = try FileReader.read(file, limit: 1 << 20) } catch {
                throw .credentials("token file \(file): cannot read (\(error.message))")
            }
            let t = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
            guard !t.isEmpty else { throw .credentials("token file \(file): empty") }
            cachedToken = t
            tokenMtime = m
        }
        return cachedToken
    }

    final class Transfer {
        var status = 0
        var body: [UInt8] = []
        var bodyLimit: Int
        var onData: ((UnsafeRawBufferPointer) -> Bool)?
        var onStatus: ((Int) -> Void)?
        var handle: UnsafeMutableRawPointer?
        var cancel: () -> Bool
        var abortedByCallback = false
        var lastDataNs: UInt64
        var idleLimitNs: UInt64
        var idleTimedOut = false
        init(bodyLimit: Int, cancel: @escaping () -> Bool, idleLimitNs: UInt64) {
            self.bodyLimit = bodyLimit; self.cancel = cancel; self.idleLimitNs = idleLimitNs; self.lastDataNs = Timestamp.monotonicNanoseconds()
        }
    }

    /// GETs `path` (with query) and returns the status and body (at most `limit` bytes).
    func get(_ path: String, timeout: Double, limit: Int = 256 << 20) throws(KubeHTTPError) -> (Int, [UInt8]) {
        let t = Transfer(bodyLimit: limit, cancel: shouldCancel, idleLimitNs: 0)
        try perform(path, timeout: timeout, transfer: t)
        return (t.status, t.body)
    }

    /// GETs `path` as a stream: `onData` gets each chunk of a 2xx answer as it arrives and returns
    /// false to stop. A non-2xx answer is collected and returned with its status.
    /// `onStatus` is called once the response headers are in (before any body).
    func stream(_ path: String, timeout: Double, idleTimeout: Double, onStatus: @escaping (Int) -> Void = { _ in },
                onData: @escaping (UnsafeRawBufferPointer) -> Bool) throws(KubeHTTPError) -> (Int, [UInt8]) {
        let t = Transfer(bodyLimit: 1 << 20, cancel: shouldCancel, idleLimitNs: UInt64(max(0, idleTimeout) * 1e9))
        t.onData = onData
        t.onStatus = onStatus
        try perform(path, timeout: timeout, transfer: t)
        return (t.status, t.body)
    }

    private func perform(_ path: String, timeout: Double, transfer t: Transfer) throws(KubeHTTPError) {
        let url = config.server + path
        let token = try bearerToken()
        guard let h = curl_easy_init() else { throw .transport(url: url, code: -1, message: "curl_easy_init failed") }
        defer { curl_easy_cleanup(h) }
        t.handle = h
        var headers: UnsafeMutablePointer<curl_slist>?
        headers = curl_slist_append(headers, "Accept: application/json")
        if let token { headers = curl_slist_append(headers, "Authorization: Bearer " + token) }
        defer { curl_slist_free_all(headers) }
        var errbuf = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let box = Unmanaged.passRetained(t)
        defer { box.release() }

        let writeCB: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { ptr, size, n, ud in
            let t = Unmanaged<Transfer>.fromOpaque(ud!).takeUnretainedValue()
            let count = size * n
            t.lastDataNs = Timestamp.monotonicNanoseconds()
            if t.status == 0 {
                var code = 0
                _ = vigil_curl_getinfo_long(t.handle, CURLINFO_RESPONSE_CODE, &code)
                t.status = code
            }
            let buf = UnsafeRawBufferPointer(start: ptr, count: count)
            if let f = t.onData, (200..<300).contains(t.status) {
                if !f(buf) { t.abortedByCallback = true; return 0 }
                return count
            }
            if t.body.count + count > t.bodyLimit { t.abortedByCallback = true; return 0 }
            t.body.append(contentsOf: buf)
            return count
        }
        let progressCB: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = { ud, _, _, _, _ in
            let t = Unmanaged<Transfer>.fromOpaque(ud!).takeUnretainedValue()
            if t.cancel() { return 1 }
            if t.idleLimitNs > 0, Timestamp.monotonicNanoseconds() &- t.lastDataNs > t.idleLimitNs { t.idleTimedOut = true; return 1 }
            return 0
        }
        let headerCB: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { ptr, size, n, ud in
            let t = Unmanaged<Transfer>.fromOpaque(ud!).takeUnretainedValue()
            let count = size * n
            // The blank line that ends a header block: the status is final unless it was 1xx.
            if count <= 2, let p = ptr, p[0] == 0x0D || p[0] == 0x0A {
                var code = 0
                _ = vigil_curl_getinfo_long(t.handle, CURLINFO_RESPONSE_CODE, &code)
                if code >= 200 { t.status = code; t.lastDataNs = Timestamp.monotonicNanoseconds(); t.onStatus?(code) }
            }
            return count
        }
        let rc: CURLcode = errbuf.withUnsafeMutableBufferPointer { eb in
            _ = vigil_curl_setopt_ptr(h, CURLOPT_URL, url)
            _ = vigil_curl_setopt_ptr(h, CURLOPT_HTTPHEADER, headers)
            _ = vigil_curl_setopt_ptr(h, CURLOPT_ERRORBUFFER, eb.baseAddress)
            _ = vigil_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
            _ = vigil_curl_setopt_ptr(h, CURLOPT_PROTOCOLS_STR, "https,http")
            _ = vigil_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
            _ = vigil_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(config.connectTimeout * 1000))
            _ = vigil_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
            _ = vigil_curl_setopt_ptr(h, CURLOPT_ACCEPT_ENCODING, "") // gzip if the server offers it
            _ = vigil_curl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
            _ = vigil_curl_setopt_ptr(h, CURLOPT_WRITEFUNCTION, unsafeBitCast(writeCB, to: UnsafeRawPointer.self))
            _ = vigil_curl_setopt_ptr(h, CURLOPT_WRITEDATA, box.toOpaque())
            _ = vigil_curl_setopt_ptr(h, CURLOPT_HEADERFUNCTION, unsafeBitCast(headerCB, to: UnsafeRawPointer.self))
            _ = vigil_curl_setopt_ptr(h, CURLOPT_HEADERDATA, box.toOpaque())
            _ = vigil_curl_setopt_long(h, CURLOPT_NOPROGRESS, 0)
            _ = vigil_curl_setopt_ptr(h, CURLOPT_XFERINFOFUNCTION, unsafeBitCast(progressCB, to: UnsafeRawPointer.self))
            _ = vigil_curl_setopt_ptr(h, CURLOPT_XFERINFODATA, box.toOpaque())
            // TLS: always verify, unless the kubeconfig explicitly says insecure-skip-tls-verify.
            _ = vigil_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, config.insecureSkipTLSVerify ? 0 : 1)
            _ = vigil_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, config.insecureSkipTLSVerify ? 0 : 2)
            if let f = config.caFile { _ = vigil_curl_setopt_ptr(h, CURLOPT_CAINFO, f) }
            if let f = config.clientCertFile { _ = vigil_curl_setopt_ptr(h, CURLOPT_SSLCERT, f) }
            if let f = config.clientKeyFile { _ = vigil_curl_setopt_ptr(h, CURLOPT_SSLKEY, f) }
            return withBlob(config.caData, CURLOPT_CAINFO_BLOB, h) {
                withBlob(config.clientCertData, CURLOPT_SSLCERT_BLOB, h) {
                    withBlob(config.clientKeyData, CURLOPT_SSLKEY_BLOB, h) {
                        if config.clientCertData != nil { _ = vigil_curl_setopt_ptr(h, CURLOPT_SSLCERTTYPE, "PEM") }
                        return curl_easy_perform(h)
                    }
                }
            }
        }
        if t.status == 0 {
            var code = 0
            _ = vigil_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &code)
            t.status = code
        }
        if rc == CURLE_OK { return }
        if rc == CURLE_WRITE_ERROR && t.abortedByCallback && t.onData != nil && (200..<300).contains(t.status) { return }
        if rc == CURLE_ABORTED_BY_CALLBACK {
            if t.idleTimedOut { throw .transport(url: url, code: Int(rc.rawValue), message: "no data for \(Double(t.idleLimitNs / 1_000_000) / 1000) s") }
            throw .cancelled
        }
        let detail = String(decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let base = detail.isEmpty ? String(cString: curl_easy_strerror(rc)) : detail
        var msg = base
        switch rc {
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CONNECT_ERROR:
            let ca = config.caFile.map { "CA file \($0)" } ?? (config.caData != nil ? "certificate-authority-data" : "the system CA store")
            msg = "TLS verification against \(ca) failed: \(base)"
        case CURLE_SSL_CERTPROBLEM:
            msg = "client certificate problem: \(base)"
        case CURLE_OPERATION_TIMEDOUT:
            msg = "timed out: \(base)"
        default: break
        }
        throw .transport(url: url, code: Int(rc.rawValue), message: msg)
    }
}

private func withBlob<R>(_ data: [UInt8]?, _ opt: CURLoption, _ h: UnsafeMutableRawPointer, _ body: () -> R) -> R {
    guard let data else { return body() }
    return data.withUnsafeBytes { raw in
        var blob = curl_blob(data: UnsafeMutableRawPointer(mutating: raw.baseAddress), len: raw.count, flags: UInt32(CURL_BLOB_COPY))
        _ = vigil_curl_setopt_ptr(h, opt, &blob)
        return body()
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
