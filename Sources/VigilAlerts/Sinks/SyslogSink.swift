#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore
import VigilRules

/// Syslog facilities (RFC 5424 numeric codes).
package enum SyslogFacility: Int, Sendable, CaseIterable {
    case kern = 0, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp
    case local0 = 16, local1, local2, local3, local4, local5, local6, local7

    /// Parses a facility name (`user`, `daemon`, `local0`, ...), case-insensitively.
    package init?(name: String) {
        let n = name.lowercased()
        guard let f = Self.allCases.first(where: { "\($0)" == n }) else { return nil }
        self = f
    }
}

/// A syslog destination parsed from `syslog_output.address` and `.transport`.
package struct SyslogEndpoint: Sendable, Equatable {
    /// Why an address cannot be used.
    package struct AddressError: Error, Sendable { package var message: String }

    package var transport: SyslogTransport
    /// Socket path (unix transports).
    package var path: String
    /// Host and port (udp/tcp).
    package var host: String
    package var port: UInt16

    /// Parses `address` for `transport`: a path for unix transports, `host:port` or `[v6]:port` for udp/tcp.
    package init(address: String, transport: SyslogTransport) throws(AddressError) {
        self.transport = transport
        path = ""; host = ""; port = 0
        switch transport {
        case .unix, .unixDgram, .unixStream:
            guard !address.isEmpty else { throw AddressError(message: "empty socket path") }
            guard address.utf8.count < 108 else { throw AddressError(message: "socket path longer than 107 bytes: '\(address)'") }
            path = address
        case .udp, .tcp:
            var h: Substring
            var p: Substring
            if address.hasPrefix("[") {
                guard let close = address.firstIndex(of: "]") else { throw AddressError(message: "missing ']' in '\(address)'") }
                h = address[address.index(after: address.startIndex)..<close]
                let rest = address[address.index(after: close)...]
                guard rest.hasPrefix(":") else { throw AddressError(message: "expected [host]:port, got '\(address)'") }
                p = rest.dropFirst()
            } else {
                guard let colon = address.lastIndex(of: ":") else { throw AddressError(message: "expected host:port, got '\(address)'") }
                h = address[..<colon]
                p = address[address.index(after: colon)...]
            }
            guard !h.isEmpty else { throw AddressError(message: "empty host in '\(address)'") }
            guard let port = UInt16(p), port > 0 else { throw AddressError(message: "invalid port '\(p)' in '\(address)'") }
            host = String(h)
            self.port = port
        }
    }
}

/// RFC 5424 message rendering, shared by the sink and tests.
package enum SyslogFormatter {
    /// The SD-ID of Vigil's structured data element (32473 is the documentation enterprise number, RFC 5612).
    package static let sdID = "vigil@32473"

    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [vigil@32473 rule=".." priority=".." source=".."] MSG`.
    ///
    /// Header fields are reduced to printable US-ASCII without spaces (RFC 5424 section 6), SD
    /// parameter values have `"`, `\` and `]` escaped and control characters shown as escapes, and
    /// `msg` must already be one line (JSON or sanitised text), so event data cannot forge fields,
    /// elements or extra messages.
    package static func frame(alert: Alert, summary: AlertSummary?, facility: SyslogFacility, appName: String, procID: Int32,
                             msg: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(msg.count + 256)
        let pri = facility.rawValue * 8 + alert.priority.syslogSeverity
        out.append(contentsOf: "<\(pri)>1 ".utf8)
        out.append(contentsOf: timestamp(alert.timeNs).utf8)
        out.append(0x20)
        appendHeaderField(alert.hostname, max: 255, &out)
        out.append(0x20)
        appendHeaderField(appName, max: 48, &out)
        out.append(0x20)
        out.append(contentsOf: String(procID).utf8)
        out.append(0x20)
        out.append(contentsOf: (summary == nil ? "alert" : "summary").utf8)
        out.append(contentsOf: " [\(sdID)".utf8)
        appendParam("rule", alert.rule, &out)
        appendParam("priority", alert.priority.falcoName, &out)
        appendParam("source", alert.source, &out)
        if let s = summary {
            appendParam("summary", s.kind.rawValue, &out)
            appendParam("count", String(s.count), &out)
        }
        out.append(UInt8(ascii: "]"))
        out.append(0x20)
        out.append(contentsOf: msg)
        return out
    }

    /// RFC 5424 TIMESTAMP: RFC 3339 UTC with microseconds (TIME-SECFRAC allows at most 6 digits).
    package static func timestamp(_ ns: UInt64) -> String {
        RFC3339.string(ns, fractionDigits: 6)
    }

    static func appendHeaderField(_ s: String, max: Int, _ out: inout [UInt8]) {
        var n = 0
        for b in s.utf8 where n < max {
            out.append(b >= 33 && b <= 126 ? b : UInt8(ascii: "_"))
            n += 1
        }
        if n == 0 { out.append(UInt8(ascii: "-")) }
    }

    static func appendParam(_ name: String, _ value: String, _ out: inout [UInt8]) {
        out.append(0x20)
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: "=\"".utf8)
        var clean: [UInt8] = []
        // SD-PARAM escaping below doubles backslashes itself (RFC 5424 6.3.3).
        AlertFormatter.appendSanitized(value, to: &clean)
        for b in clean {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b == UInt8(ascii: "]") { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Sends alerts as RFC 5424 messages over a unix socket (datagram or stream), UDP, or TCP.
/// Stream transports use octet-counted framing (RFC 6587: `LEN SP MSG`). Severity is the rule
/// priority; the facility is configurable. Connection failures are retried with backoff.
package final class SyslogBackend: AlertSinkBackend, @unchecked Sendable {
    private let endpoint: SyslogEndpoint
    private let facility: SyslogFacility
    private let appName: String
    private let format: AlertLineFormat
    private let formatOptions: AlertFormatOptions
    private let maxMessage: Int
    private let procID = getpid()
    private var fd: Int32 = -1
    private var isStream = false
    private var buffer: [UInt8] = []
    private var lastErrorLogNs: UInt64 = 0
    /// Attempts per batch before its alerts are counted as errors.
    let maxAttempts = 4

    package init(config: SyslogOutputConfig, format: AlertLineFormat, formatOptions: AlertFormatOptions) throws(AlertConfigError) {
        do { endpoint = try SyslogEndpoint(address: config.address, transport: config.transport) } catch {
            throw AlertConfigError(key: "syslog_output.address", message: error.message)
        }
        guard let f = SyslogFacility(name: config.facility) else {
            throw AlertConfigError(key: "syslog_output.facility", message: "unknown facility '\(config.facility)'")
        }
        facility = f
        appName = config.appName
        self.format = format
        self.formatOptions = formatOptions
        maxMessage = max(1024, config.maxMessageSize)
    }

    package var maxBatch: Int { 128 }

    private func logError(_ what: String, _ err: Int32) {
        let now = Timestamp.monotonicNanoseconds()
        guard now &- lastErrorLogNs > 10_000_000_000 else { return }
        lastErrorLogNs = now
        Log.error("alerts", what, [("sink", "syslog"), ("transport", endpoint.transport.rawValue),
                                   ("address", endpoint.transport == .udp || endpoint.transport == .tcp ? "\(endpoint.host):\(endpoint.port)" : endpoint.path),
                                   ("error", String(cString: strerror(err)))])
    }

    private func setTimeouts(_ s: Int32) {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func connectUnix(_ type: Int32) -> (Int32, Int32) {
        let s = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        if s < 0 { return (-1, errno) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            let bytes = Array(endpoint.path.utf8.prefix(p.count - 1))
            p.copyBytes(from: bytes)
            p[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 { let e = errno; Glibc.close(s); return (-1, e) }
        setTimeouts(s)
        return (s, 0)
    }

    private func connectInet(_ type: Int32) -> (Int32, Int32) {
        var hints = addrinfo()
        hints.ai_socktype = type
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &res)
        if rc != 0 { return (-1, EHOSTUNREACH) }
        defer { freeaddrinfo(res) }
        var lastErr: Int32 = ECONNREFUSED
        var p = res
        while let ai = p {
            let s = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            if s >= 0 {
                if connect(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { setTimeouts(s); return (s, 0) }
                lastErr = errno
                Glibc.close(s)
            } else {
                lastErr = errno
            }
            p = ai.pointee.ai_next
        }
        return (-1, lastErr)
    }

    private func ensureConnected() -> Bool {
        if fd >= 0 { return true }
        var r: (Int32, Int32)
        switch endpoint.transport {
        case .unix:
            r = connectUnix(Int32(SOCK_DGRAM.rawValue)); isStream = false
            if r.0 < 0 && r.1 == EPROTOTYPE { r = connectUnix(Int32(SOCK_STREAM.rawValue)); isStream = true }
        case .unixDgram: r = connectUnix(Int32(SOCK_DGRAM.rawValue)); isStream = false
        case .unixStream: r = connectUnix(Int32(SOCK_STREAM.rawValue)); isStream = true
        case .udp: r = connectInet(Int32(SOCK_DGRAM.rawValue)); isStream = false
        case .tcp: r = connectInet(Int32(SOCK_STREAM.rawValue)); isStream = true
        }
        if r.0 < 0 { logError("cannot connect to syslog", r.1); return false }
        fd = r.0
        return true
    }

    private func disconnect() { if fd >= 0 { Glibc.close(fd); fd = -1 } }

    /// For stream sockets: whether the receiver already closed or reset the connection. Syslog
    /// receivers never send, so a readable socket means EOF or an error; sending on it would
    /// "succeed" into the kernel buffer and be lost.
    private func peerClosed() -> Bool {
        guard fd >= 0, isStream else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN) | 0x2000 /* POLLRDHUP */, revents: 0)
        guard poll(&pfd, 1, 0) > 0 else { return false }
        if pfd.revents & (Int16(POLLERR) | Int16(POLLHUP) | 0x2000) != 0 { return true }
        var b: UInt8 = 0
        let n = recv(fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    }

    /// The MSG part for `a`, shortened (keeping JSON valid) so the frame fits `maxMessage`.
    private func message(_ a: FormattedAlert) -> [UInt8] {
        let full: [UInt8]
        if format == .json {
            full = a.json.isEmpty ? AlertFormatter.json(a.alert, summary: a.summary, options: formatOptions) : a.json
        } else {
            full = a.text.isEmpty ? AlertFormatter.text(a.alert) : a.text
        }
        let budget = maxMessage - 512
        if full.count <= budget { return full }
        if format == .json {
            var opts = formatOptions
            opts.maxStringBytes = max(64, budget / 8)
            while true {
                let j = AlertFormatter.json(a.alert, summary: a.summary, options: opts)
                if j.count <= budget || opts.maxStringBytes <= 64 { return j }
                opts.maxStringBytes = max(64, opts.maxStringBytes / 2)
            }
        }
        var end = budget
        while end > 0 && full[end] & 0xC0 == 0x80 { end -= 1 }
        return Array(full[..<end]) + Array("…[truncated]".utf8)
    }

    private func sendAll(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard var p = bytes.baseAddress else { return 0 }
        var left = bytes.count
        while left > 0 {
            let n = send(fd, p, left, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            p += n
            left -= n
        }
        return 0
    }

    package func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl) {
        var frames: [[UInt8]] = []
        frames.reserveCapacity(batch.count)
        for a in batch {
            frames.append(SyslogFormatter.frame(alert: a.alert, summary: a.summary, facility: facility, appName: appName,
                                                procID: procID, msg: message(a)))
        }
        if peerClosed() { disconnect(); stats.retries.add() }
        var next = 0 // first frame not yet sent
        var attempt = 0
        var backoff: UInt64 = 100_000_000
        while next < frames.count {
            if attempt > 0 {
                stats.retries.add()
                if !control.sleep(ns: backoff) { break }
                backoff = min(backoff * 2, 2_000_000_000)
            }
            attempt += 1
            if ensureConnected() {
                if isStream {
                    buffer.removeAll(keepingCapacity: true)
                    for f in frames[next...] {
                        buffer.append(contentsOf: String(f.count).utf8)
                        buffer.append(0x20)
                        buffer.append(contentsOf: f)
                    }
                    let err = buffer.withUnsafeBytes { sendAll($0) }
                    if err == 0 {
                        stats.sent.add(UInt64(frames.count - next))
                        next = frames.count
                    } else {
                        logError("syslog send failed", err)
                        disconnect()
                    }
                } else {
                    while next < frames.count {
                        let err = frames[next].withUnsafeBytes { sendAll($0) }
                        if err != 0 {
                            if err == EMSGSIZE { stats.errors.add(); next += 1; logError("syslog datagram too large", err); continue }
                            logError("syslog send failed", err)
                            disconnect()
                            break
                        }
                        stats.sent.add()
                        next += 1
                    }
                }
            }
            if attempt >= maxAttempts { break }
        }
        if next < frames.count { stats.errors.add(UInt64(frames.count - next)) }
        if buffer.capacity > 1 << 20 { buffer = [] }
    }

    package func close() { disconnect() }
}

extension AlertSink {
    /// The syslog sink for `config`. Throws when the address or facility is invalid.
    package static func syslog(_ config: SyslogOutputConfig, json: Bool, formatOptions: AlertFormatOptions, capacity: Int,
                              maxBytes: Int = OutputsQueueConfig.defaultMaxBytes) throws(AlertConfigError) -> AlertSink {
        let fmt: AlertLineFormat = json ? .json : .text
        let backend = try SyslogBackend(config: config, format: fmt, formatOptions: formatOptions)
        return AlertSink(name: "syslog", format: fmt, capacity: capacity, maxBytes: maxBytes, backend: backend)
    }
}
