import Foundation
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

/// An rsyslogd started for one test with a generated config: a unix datagram socket (imuxsock),
/// a unix stream socket and TCP (octet-counted framing), and UDP; everything it receives is
/// written as JSON lines with PRI, severity, facility, header fields, structured data, MSG and
/// the raw frame.
final class RsyslogReceiver {
    static let binary = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    let dir: TempDir
    var process: Process?
    var dgramPath: String { dir.file("dgram.sock") }
    var streamPath: String { dir.file("stream.sock") }
    var outPath: String { dir.file("out.json") }
    private(set) var tcpPort: UInt16 = 0
    let udpPort: UInt16

    init() throws {
        dir = TempDir("vigil-rsyslog")
        udpPort = freePort(udp: true)
        let conf = """
        global(workDirectory="\(dir.path)" maxMessageSize="256k")
        module(load="imuxsock" SysSock.Use="off")
        input(type="imuxsock" Socket="\(dgramPath)" UseSpecialParser="off" ParseHostname="on")
        module(load="imptcp")
        input(type="imptcp" path="\(streamPath)")
        module(load="imtcp")
        input(type="imtcp" port="0" address="127.0.0.1" listenPortFileName="\(dir.file("tcp.port"))")
        module(load="imudp")
        input(type="imudp" port="\(udpPort)" address="127.0.0.1")
        template(name="vigiltest" type="list" option.jsonf="on") {
          property(outname="pri" name="pri" format="jsonf")
          property(outname="severity" name="syslogseverity" format="jsonf")
          property(outname="facility" name="syslogfacility" format="jsonf")
          property(outname="hostname" name="hostname" format="jsonf")
          property(outname="app" name="app-name" format="jsonf")
          property(outname="procid" name="procid" format="jsonf")
          property(outname="msgid" name="msgid" format="jsonf")
          property(outname="sd" name="structured-data" format="jsonf")
          property(outname="msg" name="msg" format="jsonf")
          property(outname="raw" name="rawmsg" format="jsonf")
          property(outname="input" name="inputname" format="jsonf")
        }
        *.* action(type="omfile" file="\(outPath)" template="vigiltest")
        """
        try conf.write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try start()
    }

    /// When set, rsyslog's imtcp listens on this port (config already rewritten) instead of port 0.
    var fixedTCPPort: UInt16 = 0

    func start() throws {
        let bin = try #require(Self.binary, "rsyslogd is not installed (make test installs it)")
        for f in ["tcp.port", "rsyslogd.pid", "dgram.sock", "stream.sock"] { try? FileManager.default.removeItem(atPath: dir.file(f)) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")]
        _ = FileManager.default.createFile(atPath: dir.file("rsyslogd.stderr"), contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: dir.file("rsyslogd.stderr"))
        try p.run()
        process = p
        let ready = waitUntil(10) {
            guard FileManager.default.fileExists(atPath: self.dgramPath) && FileManager.default.fileExists(atPath: self.streamPath) else { return false }
            if self.fixedTCPPort != 0 { return canConnect(port: self.fixedTCPPort) }
            return ((try? String(contentsOfFile: self.dir.file("tcp.port"), encoding: .utf8))
                .flatMap { UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0) > 0
        }
        let err = (try? String(contentsOfFile: dir.file("rsyslogd.stderr"), encoding: .utf8)) ?? ""
        try #require(ready, "rsyslogd did not come up: \(err)")
        tcpPort = fixedTCPPort != 0 ? fixedTCPPort
            : UInt16(try String(contentsOfFile: dir.file("tcp.port"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    func stop() {
        // SIGKILL: children of the test runner inherit a signal mask that blocks SIGTERM.
        if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        process = nil
    }

    /// Received records (JSON objects), waiting until at least `count` arrived.
    func records(atLeast count: Int, timeout: Double = 5) -> [[String: Any]] {
        var recs: [[String: Any]] = []
        waitUntil(timeout) {
            recs = readLines(self.outPath).compactMap { try? parseJSON(Array($0.utf8)) }
            return recs.count >= count
        }
        return recs
    }

    deinit { stop(); dir.cleanup() }
}

/// A strict RFC 5424 parse of one frame: header, structured data elements, MSG.
struct Syslog5424Frame {
    var pri: Int, version: Int, timestamp: String, hostname: String, appName: String, procID: String, msgID: String
    var sd: [(id: String, params: [(String, String)])]
    var msg: String

    init(_ raw: String) throws {
        var s = Substring(raw)
        func fail(_ why: String) -> TestFailure { TestFailure("bad RFC 5424 frame (\(why)): \(raw.prefix(300))") }
        guard s.first == "<", let gt = s.firstIndex(of: ">"), let pri = Int(s[s.index(after: s.startIndex)..<gt]), pri >= 0, pri <= 191 else { throw fail("PRI") }
        self.pri = pri
        s = s[s.index(after: gt)...]
        func token(_ max: Int) throws -> String {
            guard let sp = s.firstIndex(of: " ") else { throw fail("missing field") }
            let t = String(s[..<sp])
            guard !t.isEmpty, t.utf8.count <= max, t.utf8.allSatisfy({ $0 >= 33 && $0 <= 126 }) else { throw fail("header field '\(t)'") }
            s = s[s.index(after: sp)...]
            return t
        }
        guard let v = Int(try token(2)) else { throw fail("version") }
        version = v
        timestamp = try token(64)
        guard timestamp.wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})/#) != nil else { throw fail("timestamp") }
        hostname = try token(255); appName = try token(48); procID = try token(128); msgID = try token(32)
        sd = []
        if s.hasPrefix("-") {
            s = s.dropFirst()
        } else {
            while s.first == "[" {
                s = s.dropFirst()
                guard let end = s.firstIndex(where: { $0 == " " || $0 == "]" }) else { throw fail("SD-ID") }
                let id = String(s[..<end])
                s = s[end...]
                var params: [(String, String)] = []
                while s.first == " " {
                    s = s.dropFirst()
                    guard let eq = s.firstIndex(of: "=") else { throw fail("SD-PARAM") }
                    let name = String(s[..<eq])
                    guard !name.isEmpty, name.utf8.allSatisfy({ $0 >= 33 && $0 <= 126 && $0 != 61 && $0 != 93 && $0 != 34 }) else { throw fail("PARAM-NAME") }
                    s = s[s.index(after: eq)...]
                    guard s.first == "\"" else { throw fail("PARAM-VALUE quote") }
                    s = s.dropFirst()
                    var value = ""
                    var closed = false
                    while let c = s.first {
                        s = s.dropFirst()
                        if c == "\\", let n = s.first, n == "\"" || n == "\\" || n == "]" { value.append(n); s = s.dropFirst(); continue }
                        if c == "\"" { closed = true; break }
                        if c == "]" { throw fail("unescaped ] in PARAM-VALUE") }
                        value.append(c)
                    }
                    guard closed else { throw fail("unterminated PARAM-VALUE") }
                    params.append((name, value))
                }
                guard s.first == "]" else { throw fail("SD-ELEMENT end") }
                s = s.dropFirst()
                sd.append((id, params))
            }
        }
        if s.isEmpty { msg = "" } else {
            guard s.first == " " else { throw fail("space before MSG") }
            msg = String(s.dropFirst())
        }
    }

    func param(_ name: String) -> String? { sd.first?.params.first { $0.0 == name }?.1 }
}

let rsyslogUsable = RsyslogReceiver.binary != nil || ProcessInfo.processInfo.environment["VIGIL_CI"] == "1"

@Suite(.serialized, .enabled(if: rsyslogUsable, "rsyslogd not installed (run `make test`, which installs it)"))
struct SyslogRsyslogTests {
    func config(_ r: RsyslogReceiver, _ transport: SyslogTransport) -> SyslogOutputConfig {
        let address: String
        switch transport {
        case .unix, .unixDgram: address = r.dgramPath
        case .unixStream: address = r.streamPath
        case .tcp: address = "127.0.0.1:\(r.tcpPort)"
        case .udp: address = "127.0.0.1:\(r.udpPort)"
        }
        return SyslogOutputConfig(enabled: true, address: address, transport: transport, facility: "local3")
    }

    @Test(arguments: [SyslogTransport.unix, .unixStream, .tcp, .udp])
    func severitiesFromPriorities(_ transport: SyslogTransport) throws {
        let r = try RsyslogReceiver()
        let sink = try AlertSink.syslog(config(r, transport), json: true, formatOptions: AlertFormatOptions(), capacity: 100)
        for p in Priority.allCases { sink.submit(FormattedAlert(makeAlert(rule: "Rule \(p.falcoName)", priority: p, message: "prio \(p.falcoName)"))) }
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        sink.stop(timeoutNs: 1_000_000_000)
        #expect(sink.stats.sent.value == 8 && sink.stats.errors.value == 0)
        let recs = r.records(atLeast: 8)
        try #require(recs.count == 8, "rsyslog got \(recs.count) records")
        for rec in recs {
            let frame = try Syslog5424Frame(try #require(rec["raw"] as? String))
            let alert = try parseJSON(Array(try #require(rec["msg"] as? String).utf8))
            let pname = try #require(alert["priority"] as? String)
            let p = try #require(Priority(name: pname))
            #expect(rec["severity"] as? String == String(p.rawValue))
            #expect(rec["facility"] as? String == "19")
            #expect(rec["pri"] as? String == String(19 * 8 + p.rawValue))
            #expect(frame.pri == 19 * 8 + p.rawValue && frame.version == 1)
            #expect(rec["hostname"] as? String == "node-1" && rec["app"] as? String == "vigil" && rec["msgid"] as? String == "alert")
            #expect(rec["procid"] as? String == String(getpid()))
            #expect(alert["rule"] as? String == "Rule \(p.falcoName)")
            #expect(frame.sd.first?.id == "vigil@32473")
            #expect(frame.param("rule") == "Rule \(p.falcoName)" && frame.param("priority") == p.falcoName)
            #expect(frame.timestamp == "2025-11-24T16:00:00.123456Z")
        }
        let sev = Set(recs.compactMap { $0["severity"] as? String })
        #expect(sev == Set((0...7).map(String.init)))
    }

    @Test(arguments: [SyslogTransport.unix, .tcp])
    func hostileDataCannotInject(_ transport: SyslogTransport) throws {
        let r = try RsyslogReceiver()
        let big = String(repeating: "B", count: 100 * 1024)
        let rule = "Evil] rule \"x\" \\ [vigil@32473 priority=\"Emergency\"]\n<9>1 - - - - - forged"
        let alerts = [
            makeAlert(rule: rule, priority: .notice, message: hostileMessage, fields: [("proc.cmdline", .string(hostileMessage))]),
            makeAlert(priority: .error, message: "big " + invalidUTF8Text, fields: [("proc.cmdline", .string(big))]),
        ]
        for json in [true, false] {
            let sink = try AlertSink.syslog(config(r, transport), json: json, formatOptions: AlertFormatOptions(), capacity: 100)
            for a in alerts { sink.submit(FormattedAlert(a)) }
            #expect(sink.flush(timeoutNs: 10_000_000_000))
            sink.stop(timeoutNs: 1_000_000_000)
            #expect(sink.stats.sent.value == 2)
        }
        // A sentinel sent after both sinks stopped: once it is in, the alerts' records are too.
        let sentinel = try AlertSink.syslog(config(r, transport), json: true, formatOptions: AlertFormatOptions(), capacity: 10)
        sentinel.submit(FormattedAlert(makeAlert(rule: "sentinel", priority: .notice, message: "vigil-test-sentinel")))
        #expect(sentinel.flush(timeoutNs: 10_000_000_000))
        sentinel.stop(timeoutNs: 1_000_000_000)
        let isSentinel = { (rec: [String: Any]) -> Bool in (rec["raw"] as? String)?.contains("vigil-test-sentinel") == true }
        var all: [[String: Any]] = []
        #expect(waitUntil(10) { all = r.records(atLeast: 5, timeout: 0); return all.contains(where: isSentinel) })
        let recs = all.filter { !isSentinel($0) }
        #expect(recs.count == 4, "exactly one record per alert, nothing injected")
        for (i, rec) in recs.prefix(4).enumerated() {
            let frame = try Syslog5424Frame(try #require(rec["raw"] as? String))
            let msg = try #require(rec["msg"] as? String)
            #expect(!msg.contains("\n") && !msg.contains("\u{1b}"))
            let expected = alerts[i % 2]
            #expect(frame.param("rule") == String(decoding: { var b: [UInt8] = []; AlertFormatter.appendSanitized(expected.rule, to: &b); return b }(), as: UTF8.self))
            #expect(frame.param("priority") == expected.priority.falcoName)
            #expect(rec["severity"] as? String == String(expected.priority.rawValue))
            #expect(frame.sd.count == 1)
            if i < 2 {
                let d = try parseJSON(Array(msg.utf8))
                #expect(d["rule"] as? String == expected.rule)
                if i == 0 { #expect((d["output_fields"] as? [String: Any])?["proc.cmdline"] as? String == hostileMessage) }
                if i == 1 {
                    // Shortened to fit max_message_size, still valid JSON.
                    let cmd = try #require((d["output_fields"] as? [String: Any])?["proc.cmdline"] as? String)
                    #expect(cmd.hasPrefix("BBBB") && cmd.contains("…[truncated"))
                    #expect(frame.msg.utf8.count < 65_000)
                }
            } else {
                #expect(msg.hasPrefix("2025-11-24T16:00:00.123456789Z: \(expected.priority.falcoName) "))
            }
        }
    }

    @Test func unixTransportFallsBackToStreamSockets() throws {
        let r = try RsyslogReceiver()
        let sink = try AlertSink.syslog(SyslogOutputConfig(enabled: true, address: r.streamPath, transport: .unix),
                                        json: true, formatOptions: AlertFormatOptions(), capacity: 10)
        sink.submit(FormattedAlert(makeAlert(message: "via stream")))
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        sink.stop(timeoutNs: 0)
        let recs = r.records(atLeast: 1)
        #expect(recs.count == 1 && recs.first?["input"] as? String == "imptcp")
        #expect(recs.first?["facility"] as? String == "1")  // user, the default
    }

    @Test func reconnectsAfterReceiverRestart() throws {
        let r = try RsyslogReceiver()
        let sink = try AlertSink.syslog(config(r, .tcp), json: true, formatOptions: AlertFormatOptions(), capacity: 100)
        sink.submit(FormattedAlert(makeAlert(message: "one")))
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        #expect(r.records(atLeast: 1).count == 1)
        let port = r.tcpPort
        r.stop()
        // While the receiver is down: submitting never blocks; failures are retried and counted.
        for i in 0..<3 { sink.submit(FormattedAlert(makeAlert(message: "down \(i)"))) }
        #expect(sink.flush(timeoutNs: 15_000_000_000))
        #expect(sink.stats.retries.value > 0)
        #expect(sink.stats.errors.value + sink.stats.sent.value == 4)
        // Restart on the same port; delivery resumes.
        let conf = try String(contentsOfFile: r.dir.file("rsyslog.conf"), encoding: .utf8)
            .replacingOccurrences(of: "port=\"0\"", with: "port=\"\(port)\"")
        try conf.write(toFile: r.dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        r.fixedTCPPort = port
        try r.start()
        let before = sink.stats.sent.value
        sink.submit(FormattedAlert(makeAlert(message: "back")))
        #expect(sink.flush(timeoutNs: 15_000_000_000))
        sink.stop(timeoutNs: 1_000_000_000)
        #expect(sink.stats.sent.value == before + 1)
        let recs = r.records(atLeast: 2)
        #expect(recs.contains { ($0["msg"] as? String)?.contains("Warning back") == true })
    }
}

@Suite struct SyslogFormatTests {
    @Test func frameIsStrictRFC5424() throws {
        let a = makeAlert(rule: "r]\"\\", priority: .critical, message: "m")
        let raw = SyslogFormatter.frame(alert: a, summary: AlertSummary(kind: .folded, count: 3, windowStartNs: 0, windowEndNs: 1),
                                        facility: .local7, appName: "vi gil", procID: 7, msg: Array("hello".utf8))
        let f = try Syslog5424Frame(String(decoding: raw, as: UTF8.self))
        #expect(f.pri == 23 * 8 + 2)
        #expect(f.appName == "vi_gil" && f.procID == "7" && f.msgID == "summary")
        #expect(f.param("rule") == "r]\"\\" && f.param("summary") == "folded" && f.param("count") == "3")
        #expect(f.msg == "hello")
    }

    @Test func addressesAndFacilities() throws {
        #expect(try SyslogEndpoint(address: "[::1]:6514", transport: .tcp).host == "::1")
        #expect(try SyslogEndpoint(address: "logs.example:514", transport: .udp).port == 514)
        #expect(throws: SyslogEndpoint.AddressError.self) { try SyslogEndpoint(address: "nohost", transport: .tcp) }
        #expect(throws: SyslogEndpoint.AddressError.self) { try SyslogEndpoint(address: "h:99999", transport: .tcp) }
        #expect(SyslogFacility(name: "LOCAL5") == .local5 && SyslogFacility(name: "user") == .user && SyslogFacility(name: "nope") == nil)
        var c = AlertOutputConfig()
        c.syslogOutput = SyslogOutputConfig(enabled: true, facility: "bogus")
        #expect(throws: AlertConfigError(key: "syslog_output.facility", message: "unknown facility 'bogus' (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0..local7)")) { try c.validate() }
    }
}
