import Foundation
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

/// Tests/Fixtures/alerts/http_receiver.py, started for one test: falcosidekick's acceptance rules.
final class HTTPReceiver {
    static let python: String? = {
        let candidates = ["/usr/bin/python3"] + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
    static let script = repoRoot + "/Tests/Fixtures/alerts/http_receiver.py"

    let dir: TempDir
    var process: Process?
    private(set) var port: UInt16 = 0
    var extraArgs: [String]
    var outPath: String { dir.file("accepted.jsonl") }
    var rejectedPath: String { dir.file("rejected.jsonl") }

    init(_ extraArgs: [String] = [], dir: TempDir = TempDir("vigil-http")) throws {
        self.dir = dir
        self.extraArgs = extraArgs
        try start()
    }

    /// Starts (or restarts, on the same port) the receiver.
    func start() throws {
        let py = try #require(Self.python, "python3 not found")
        let portFile = dir.file("port")
        try? FileManager.default.removeItem(atPath: portFile)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: py)
        p.arguments = [Self.script, "--port", String(port), "--port-file", portFile, "--out", outPath, "--rejected", rejectedPath] + extraArgs
        _ = FileManager.default.createFile(atPath: dir.file("stderr"), contents: nil)
        p.standardError = FileHandle(forWritingAtPath: dir.file("stderr"))
        try p.run()
        process = p
        var got: UInt16 = 0
        let ok = waitUntil(10) {
            got = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { UInt16($0) } ?? 0
            return got != 0
        }
        let err = (try? String(contentsOfFile: dir.file("stderr"), encoding: .utf8)) ?? ""
        try #require(ok, "receiver did not start: \(err)")
        port = got
    }

    func stop() {
        // SIGKILL: children of the test runner inherit a signal mask that blocks SIGTERM.
        if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        process = nil
    }

    var url: String { "http://127.0.0.1:\(port)/" }
    var accepted: [[String: Any]] { readLines(outPath).compactMap { try? parseJSON(Array($0.utf8)) } }
    var rejected: [String] { readLines(rejectedPath) }

    deinit { stop(); dir.cleanup() }
}

let httpUsable = HTTPReceiver.python != nil || ProcessInfo.processInfo.environment["VIGIL_CI"] == "1"

@Suite(.enabled(if: httpUsable, "python3 not found"))
struct HTTPSinkTests {
    func config(_ url: String) -> HTTPOutputConfig {
        var c = HTTPOutputConfig()
        c.enabled = true
        c.url = url
        c.timeoutMs = 2000
        c.maxRetries = 2
        c.retryBackoffMs = 20
        c.maxBackoffMs = 100
        return c
    }

    @Test func oneAlertPerRequestWithHeaders() throws {
        let r = try HTTPReceiver()
        var c = config(r.url)
        c.userAgent = "vigil-test/1.0"
        c.headers = [("X-Vigil-Token", "s3cret"), ("X-Env", "ci")]
        let sink = try AlertSink.http(c, formatOptions: AlertFormatOptions(), capacity: 100)
        for i in 0..<5 { sink.submit(FormattedAlert(makeAlert(priority: Priority(rawValue: i)!, message: "msg \(i)"))) }
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        sink.stop(timeoutNs: 1_000_000_000)
        #expect(sink.stats.sent.value == 5 && sink.stats.errors.value == 0 && sink.stats.retries.value == 0)
        #expect(r.rejected.isEmpty, "rejected: \(r.rejected)")
        let got = r.accepted
        #expect(got.count == 5)
        for (i, a) in got.enumerated() {
            #expect((a["output"] as? String)?.hasSuffix("msg \(i)") == true)
            #expect(a["_batch"] as? Int == 1)
            let h = try #require(a["_headers"] as? [String: String])
            #expect(h["content-type"] == "application/json")
            #expect(h["user-agent"] == "vigil-test/1.0")
            #expect(h["x-vigil-token"] == "s3cret" && h["x-env"] == "ci")
        }
    }

    @Test func batchedJSONLines() throws {
        let r = try HTTPReceiver()
        var c = config(r.url)
        c.batch = 50
        let sink = try AlertSink.http(c, formatOptions: AlertFormatOptions(), capacity: 1000)
        // Rendered up front so they queue faster than one request takes, and go in batches.
        let alerts = (0..<200).map { FormattedAlert(makeAlert(message: "m\($0)")) }
        for a in alerts { sink.submit(a) }
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        sink.stop(timeoutNs: 1_000_000_000)
        let got = r.accepted
        #expect(got.count == 200)
        #expect(r.rejected.isEmpty)
        #expect(got.contains { ($0["_batch"] as? Int ?? 0) > 1 })
        #expect(got.allSatisfy { ($0["_batch"] as? Int ?? 0) <= 50 })
        #expect((got.first?["_headers"] as? [String: String])?["content-type"] == "application/x-ndjson")
        #expect(Set(got.compactMap { $0["output"] as? String }).count == 200)
    }

    @Test func hostileAndHugeAlertsAreAccepted() throws {
        let r = try HTTPReceiver()
        let sink = try AlertSink.http(config(r.url), formatOptions: AlertFormatOptions(), capacity: 10)
        let big = String(repeating: "Z", count: 100 * 1024) + hostileMessage
        sink.submit(FormattedAlert(makeAlert(rule: "r \"\n", message: hostileMessage + invalidUTF8Text,
                                             fields: [("proc.cmdline", .string(big)), ("proc.args", .strings([hostileMessage]))])))
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        sink.stop(timeoutNs: 1_000_000_000)
        #expect(r.rejected.isEmpty, "rejected: \(r.rejected)")
        let a = try #require(r.accepted.first)
        #expect(a["rule"] as? String == "r \"\n")
        #expect((a["output_fields"] as? [String: Any])?["proc.cmdline"] as? String == big)
    }

    @Test func clientErrorsAreNotRetriedServerErrorsAre() throws {
        let bad = try HTTPReceiver(["--status", "400"])
        let s1 = try AlertSink.http(config(bad.url), formatOptions: AlertFormatOptions(), capacity: 10)
        s1.submit(FormattedAlert(makeAlert()))
        #expect(s1.flush(timeoutNs: 10_000_000_000))
        s1.stop(timeoutNs: 0)
        #expect(s1.stats.errors.value == 1 && s1.stats.retries.value == 0 && s1.stats.sent.value == 0)

        let down = try HTTPReceiver(["--status", "503"])
        let s2 = try AlertSink.http(config(down.url), formatOptions: AlertFormatOptions(), capacity: 10)
        s2.submit(FormattedAlert(makeAlert()))
        #expect(s2.flush(timeoutNs: 10_000_000_000))
        s2.stop(timeoutNs: 0)
        #expect(s2.stats.errors.value == 1 && s2.stats.retries.value == 2 && s2.stats.sent.value == 0)
    }

    /// The receiver goes down for a while and comes back: submitting keeps working without
    /// blocking, the queue stays at its capacity, drops, retries and errors are counted, and
    /// delivery resumes.
    @Test func receiverOutageAndRecovery() throws {
        let r = try HTTPReceiver()
        let capacity = 50
        var c = config(r.url)
        c.timeoutMs = 500
        let sink = try AlertSink.http(c, formatOptions: AlertFormatOptions(), capacity: capacity)
        let d = AlertDispatcher(sinks: [sink], floodControl: FloodControlConfig(fold: FoldConfig(enabled: false)), capacity: 10_000)
        for i in 0..<10 { d.submit(makeAlert(message: "before \(i)")) }
        #expect(d.flush(timeout: .seconds(10)))
        #expect(r.accepted.count == 10)

        r.stop()
        let total = 3000
        let start = Date()
        var maxDepth = 0
        for i in 0..<total {
            #expect(d.submit(makeAlert(message: "during \(i)")), "submit must accept while the sink is down")
            if i % 100 == 0 { maxDepth = max(maxDepth, sink.queueDepth) }
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 2.0, "submitting \(total) alerts took \(elapsed)s")
        #expect(waitUntil(5) { sink.stats.dropped.value > 0 && sink.stats.retries.value > 0 && sink.stats.errors.value > 0 })
        #expect(maxDepth <= capacity && sink.queueDepth <= capacity)

        try r.start()  // same port
        #expect(d.flush(timeout: .seconds(30)))     // the backlog drains (delivered or counted)
        for i in 0..<10 { d.submit(makeAlert(message: "after \(i)")) }
        #expect(d.flush(timeout: .seconds(10)))
        d.stop()
        let after = r.accepted.compactMap { $0["output"] as? String }.filter { $0.contains(" after ") }
        #expect(after.count == 10, "delivery resumed")
        #expect(r.rejected.isEmpty)
        let st = sink.stats
        #expect(st.sent.value + st.errors.value + st.dropped.value == UInt64(10 + total + 10),
                "sent \(st.sent.value) errors \(st.errors.value) dropped \(st.dropped.value)")
        // Delivery is at least once: an attempt that got no answer (a receiver slower than the
        // timeout on a loaded machine) may have been taken and is then retried. The receiver holds
        // every alert counted as sent, plus at most those of unanswered attempts.
        let accepted = UInt64(r.accepted.count)
        #expect(accepted >= st.sent.value && accepted <= st.sent.value + st.unconfirmed.value,
                "accepted \(accepted) sent \(st.sent.value) unconfirmed \(st.unconfirmed.value)")
        let reg = MetricsRegistry()
        d.registerMetrics(in: reg)
        let m = reg.render()
        #expect(m.contains("vigil_alert_sink_dropped_total{sink=\"http\"} \(st.dropped.value)"))
        #expect(m.contains("vigil_alert_sink_retries_total{sink=\"http\"} \(st.retries.value)"))
        #expect(m.contains("vigil_alert_sink_unconfirmed_total{sink=\"http\"} \(st.unconfirmed.value)"))
        #expect(m.contains("vigil_alert_sink_queue_capacity{sink=\"http\"} \(capacity)"))
    }

    /// A receiver slower than the timeout takes every attempt while the sink sees none answered:
    /// the alerts count as failed and as unconfirmed (the receiver may have them, each attempt
    /// once), never as sent. A refused connection is not unconfirmed (nothing went out).
    @Test func unansweredAttemptsAreUnconfirmed() throws {
        let r = try HTTPReceiver(["--delay-ms", "700"])
        var c = config(r.url)
        c.timeoutMs = 200
        c.maxRetries = 1
        let sink = try AlertSink.http(c, formatOptions: AlertFormatOptions(), capacity: 10)
        sink.submit(FormattedAlert(makeAlert(message: "slow")))
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        sink.stop(timeoutNs: 0)
        let st = sink.stats
        #expect(st.sent.value == 0 && st.errors.value == 1 && st.retries.value == 1)
        #expect(st.unconfirmed.value == 2, "unconfirmed \(st.unconfirmed.value)")
        // Both attempts reach the receiver, which takes them after its delay.
        #expect(waitUntil(10) { r.accepted.count == 2 }, "accepted \(r.accepted.count)")
        #expect(r.accepted.allSatisfy { ($0["output"] as? String)?.hasSuffix("slow") == true })

        var refused = config("http://127.0.0.1:\(freePort())/")
        refused.maxRetries = 1
        let s2 = try AlertSink.http(refused, formatOptions: AlertFormatOptions(), capacity: 10)
        s2.submit(FormattedAlert(makeAlert()))
        #expect(s2.flush(timeoutNs: 10_000_000_000))
        s2.stop(timeoutNs: 0)
        #expect(s2.stats.errors.value == 1 && s2.stats.retries.value == 1 && s2.stats.unconfirmed.value == 0)
    }

    @Test func stopAbandonsAfterDeadline() throws {
        // A black-hole URL (nothing listens): stop must not hang on retries.
        var c = config("http://127.0.0.1:\(freePort())/")
        c.maxRetries = 100
        c.retryBackoffMs = 200
        c.maxBackoffMs = 1000
        let sink = try AlertSink.http(c, formatOptions: AlertFormatOptions(), capacity: 100)
        for _ in 0..<20 { sink.submit(FormattedAlert(makeAlert())) }
        let start = Date()
        sink.stop(timeoutNs: 300_000_000)
        #expect(Date().timeIntervalSince(start) < 3)
        #expect(sink.stats.sent.value == 0)
        #expect(sink.stats.errors.value + sink.stats.dropped.value == 20)
    }
}

/// TLS: a CA, a server certificate for 127.0.0.1 and a client certificate made with openssl.
@Suite(.enabled(if: httpUsable && FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "python3 or openssl missing"))
struct HTTPSinkTLSTests {
    struct PKI {
        let dir: TempDir
        var ca: String { dir.file("ca.pem") }
        var serverCert: String { dir.file("server.pem") }
        var serverKey: String { dir.file("server.key") }
        var clientCert: String { dir.file("client.pem") }
        var clientKey: String { dir.file("client.key") }

        init() throws {
            dir = TempDir("vigil-pki")
            try run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file("ca.key"), "-out", ca,
                     "-days", "2", "-subj", "/CN=Vigil Test CA"])
            for (name, ext) in [("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                                ("client", "extendedKeyUsage=clientAuth")] {
                try ext.write(toFile: dir.file("\(name).ext"), atomically: true, encoding: .utf8)
                try run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file("\(name).key"), "-out", dir.file("\(name).csr"),
                         "-subj", "/CN=vigil-\(name)"])
                try run(["x509", "-req", "-in", dir.file("\(name).csr"), "-CA", ca, "-CAkey", dir.file("ca.key"), "-CAcreateserial",
                         "-out", dir.file("\(name).pem"), "-days", "2", "-extfile", dir.file("\(name).ext")])
            }
        }

        func run(_ args: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            p.arguments = args
            p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            p.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try p.run()
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "openssl \(args.joined(separator: " ")) failed")
        }
    }

    @Test func mutualTLS() throws {
        let pki = try PKI()
        defer { pki.dir.cleanup() }
        let r = try HTTPReceiver(["--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--client-ca", pki.ca])
        let url = "https://127.0.0.1:\(r.port)/"
        func attempt(_ tweak: (inout HTTPOutputConfig) -> Void) throws -> SinkStats {
            var c = HTTPOutputConfig()
            c.enabled = true; c.url = url; c.maxRetries = 0; c.timeoutMs = 3000
            tweak(&c)
            let sink = try AlertSink.http(c, formatOptions: AlertFormatOptions(), capacity: 10)
            sink.submit(FormattedAlert(makeAlert()))
            #expect(sink.flush(timeoutNs: 10_000_000_000))
            sink.stop(timeoutNs: 0)
            return sink.stats
        }
        // CA file and client certificate: delivered.
        let ok = try attempt { $0.caCert = pki.ca; $0.mtls = true; $0.clientCert = pki.clientCert; $0.clientKey = pki.clientKey }
        #expect(ok.sent.value == 1 && ok.errors.value == 0)
        // Without our CA the server certificate is not trusted (verification is on by default).
        let untrusted = try attempt { $0.clientCert = pki.clientCert; $0.clientKey = pki.clientKey }
        #expect(untrusted.sent.value == 0 && untrusted.errors.value == 1)
        // Without a client certificate the server refuses the handshake.
        let noClient = try attempt { $0.caCert = pki.ca }
        #expect(noClient.sent.value == 0 && noClient.errors.value == 1)
        // insecure skips server verification.
        let insecure = try attempt { $0.insecure = true; $0.clientCert = pki.clientCert; $0.clientKey = pki.clientKey }
        #expect(insecure.sent.value == 1)
        #expect(r.accepted.count == 2)
    }
}
