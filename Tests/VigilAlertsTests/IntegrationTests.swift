import Foundation
import Synchronization
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

@Suite(.serialized, .enabled(if: rsyslogUsable && httpUsable, "rsyslogd or python3 missing"))
struct AllSinksIntegrationTests {
    /// stdout, file, syslog (rsyslog over TCP) and HTTP at once from one config, with hostile data
    /// and folding: every sink gets every alert (and the summary) as valid output.
    @Test func everySinkAtOnce() throws {
        let rs = try RsyslogReceiver()
        let http = try HTTPReceiver()
        let dir = TempDir(); defer { dir.cleanup() }
        var fds: [Int32] = [0, 0]
        #expect(cloexecPipe(&fds))
        defer { close(fds[0]) }
        // Drain the pipe concurrently: the 100 KB alert does not fit its buffer.
        let stdoutData = Mutex<Data>(Data())
        let readFD = fds[0]
        let reader = Thread { stdoutData.withLock { $0 = FileHandle(fileDescriptor: readFD, closeOnDealloc: false).readDataToEndOfFile() } }
        reader.start()

        var c = AlertOutputConfig()
        c.minimumPriority = .notice
        c.stdoutOutput = StdoutOutputConfig(enabled: true, format: .config)
        c.fileOutput = FileOutputConfig(enabled: true, filename: dir.file("alerts.json"))
        c.syslogOutput = SyslogOutputConfig(enabled: true, address: "127.0.0.1:\(rs.tcpPort)", transport: .tcp, facility: "local0")
        c.httpOutput.enabled = true
        c.httpOutput.url = http.url
        c.floodControl.fold = FoldConfig(enabled: true, windowMs: 60_000)
        let d = try AlertDispatcher.make(config: c, hostname: "node-x", stdoutFD: fds[1])
        #expect(d.sinks.map(\.name) == ["stdout", "file", "syslog", "http"])

        let big = String(repeating: "Q", count: 100 * 1024)
        d.submit(makeAlert(rule: "Hostile", priority: .critical, message: hostileMessage, container: "c1",
                           fields: [("proc.cmdline", .string(big + hostileMessage)), ("proc.cmdline", .string("dup"))]))
        for _ in 0..<5 { d.submit(makeAlert(priority: .warning, message: "same", container: "c1")) }
        d.submit(makeAlert(priority: .debug, message: "too low"))
        #expect(d.flush(timeout: .seconds(20)))
        d.stop()
        close(fds[1])

        // Expected per sink: the hostile alert, the first "same", and one folded summary (4 folded).
        #expect(waitUntil(10) { reader.isFinished })
        let stdoutLines = stdoutData.withLock { $0 }.split(separator: 0x0A).map { Array($0) }
        let fileLines = readLines(dir.file("alerts.json")).map { Array($0.utf8) }
        let syslogRecs = rs.records(atLeast: 3)
        let httpRecs = http.accepted
        #expect(http.rejected.isEmpty, "rejected: \(http.rejected)")
        for (name, lines) in [("stdout", stdoutLines), ("file", fileLines)] {
            #expect(lines.count == 3, "\(name) got \(lines.count)")
            let objs = try lines.map(parseJSON)
            #expect(objs.map { $0["rule"] as? String } == ["Hostile", "Test rule", "Test rule"])
            #expect(((objs[0]["output_fields"] as? [String: Any])?["proc.cmdline"] as? String) == big + hostileMessage)
            #expect(((objs[2]["vigil"] as? [String: Any])?["count"] as? NSNumber)?.intValue == 4)
        }
        #expect(syslogRecs.count == 3)
        #expect(syslogRecs.map { $0["severity"] as? String } == ["2", "4", "4"])
        for r in syslogRecs { _ = try parseJSON(Array(((r["msg"] as? String) ?? "").utf8)); _ = try Syslog5424Frame(r["raw"] as? String ?? "") }
        #expect(httpRecs.count == 3)
        #expect((httpRecs.last?["output_fields"] as? [String: Any])?["vigil.folded_count"] as? Int == 4)
        for s in d.sinks { #expect(s.stats.sent.value == 3 && s.stats.errors.value == 0 && s.stats.dropped.value == 0, "\(s.name)") }
        #expect(d.filtered.value == 1)
    }
}

@Suite struct ConfigTests {
    @Test func defaultsAreValidAndFalcoLike() throws {
        let c = AlertOutputConfig()
        try c.validate()
        #expect(c.stdoutOutput.enabled && !c.fileOutput.enabled && !c.syslogOutput.enabled && !c.httpOutput.enabled)
        #expect(c.minimumPriority == .debug && c.jsonIncludeOutputProperty && c.jsonIncludeTagsProperty)
        #expect(!c.httpOutput.insecure)
        #expect(c.outputsQueue.capacity > 0)
    }

    @Test func errorsNameTheKey() {
        func key(_ tweak: (inout AlertOutputConfig) -> Void) -> String? {
            var c = AlertOutputConfig()
            tweak(&c)
            do { try c.validate(); return nil } catch { return error.key }
        }
        #expect(key { $0.outputsQueue.capacity = 0 } == "outputs_queue.capacity")
        #expect(key { $0.fileOutput.enabled = true; $0.fileOutput.filename = "" } == "file_output.filename")
        #expect(key { $0.syslogOutput.enabled = true; $0.syslogOutput.transport = .tcp; $0.syslogOutput.address = "nohost" } == "syslog_output.address")
        #expect(key { $0.httpOutput.enabled = true; $0.httpOutput.url = "ftp://x" } == "http_output.url")
        #expect(key { $0.httpOutput.enabled = true; $0.httpOutput.url = "http://x"; $0.httpOutput.mtls = true } == "http_output.mtls")
        #expect(key { $0.httpOutput.enabled = true; $0.httpOutput.url = "http://x"; $0.httpOutput.headers = [("X-A", "b\r\nInjected: 1")] } == "http_output.headers.X-A")
        #expect(key { $0.floodControl.rateLimit = RateLimitConfig(enabled: true, burst: 0) } == "flood_control.rate_limit.burst")
        #expect(key { $0.floodControl.rateLimit = RateLimitConfig(enabled: true, rules: ["R": RateLimit(rate: -1, burst: 1)]) } == "flood_control.rate_limit.rules.R.rate")
        #expect(key { $0.floodControl.fold.windowMs = 0 } == "flood_control.fold.window_ms")
    }

    @Test func makeRejectsBadSinkSettings() {
        var c = AlertOutputConfig()
        c.stdoutOutput.enabled = false
        c.syslogOutput = SyslogOutputConfig(enabled: true, address: "h:0", transport: .udp)
        #expect(throws: AlertConfigError.self) { try AlertDispatcher.make(config: c) }
    }
}
