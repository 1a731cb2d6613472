#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import VigilAgent
import VigilCapture
import VigilCore
import VigilDecode
import VigilRules

/// A source for tests: delivers what is pushed, batch by batch, until stopped
/// (like the live reader: a quiet poll calls idle()).
final class PushSource: RecordSource, @unchecked Sendable {
    private let pending = Mutex<[[UInt8]]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let counts = Mutex<CaptureStats>(CaptureStats())
    let bootToWallOffsetNs = Timestamp.bootToWallOffset()

    func push(_ records: [[UInt8]]) { pending.withLock { $0 += records } }
    var backlog: Int { pending.withLock { $0.count } }

    func run<C: RecordConsumer>(_ consumer: C) throws {
        while true {
            let batch = pending.withLock { p -> [[UInt8]] in let b = p; p.removeAll(); return b }
            for r in batch {
                r.withUnsafeBytes { raw in
                    if case .success(let e) = Event.decode(raw) {
                        counts.withLock { $0.recordsByType[Int(e.type.rawValue)] += 1; $0.recordsByKind[Int(e.recordKind)] += 1 }
                        consumer.consume(e)
                    }
                }
            }
            if batch.isEmpty { consumer.idle() } else { consumer.endOfBatch() }
            if stopFlag.load(ordering: .acquiring) && pending.withLock({ $0.isEmpty }) { break }
            usleep(2000)
        }
        consumer.finish()
    }
    func stop() { stopFlag.store(true, ordering: .releasing) }
    /// Kernel drops the source reports (as the live capture's per-CPU counters would).
    let kernelDrops = Atomic<UInt64>(0)
    func stats() -> CaptureStats {
        var s = counts.withLock { $0 }
        s.kernel.ringFull = kernelDrops.load(ordering: .relaxed)
        return s
    }
}

func waitFor(_ seconds: Double, _ cond: () -> Bool) -> Bool {
    let end = Timestamp.monotonicNanoseconds() + UInt64(seconds * 1e9)
    while Timestamp.monotonicNanoseconds() < end {
        if cond() { return true }
        Timestamp.sleep(milliseconds: 10)
    }
    return cond()
}

func readLines(_ path: String) -> [String] {
    (FilePaths.readText(path) ?? "").split(separator: "\n").map(String.init)
}

@Suite(.serialized) struct AgentTests {
    static func fixture() -> Fixture {
        let fx = Fixture(rules: shadowRule)
        // Alerts to a file (stdout stays the test runner's), metrics on an ephemeral port.
        writeFile(fx.dir + "/vigil.yaml", """
            rules_files: [rules.yaml]
            stdout_output: {enabled: false}
            file_output: {enabled: true, filename: \(fx.dir)/alerts.json}
            webserver: {enabled: true, listen_address: 127.0.0.1, listen_port: 0}
            log_level: warning
            """)
        return fx
    }

    @Test func syntheticStreamEndToEndWithMetricsAndReadiness() throws {
        let fx = Self.fixture()
        defer { fx.cleanup() }
        let agent = try Agent(options: fx.options, loaded: try fx.options.loadConfig())
        let source = PushSource()
        try agent.start(source: source)
        let port = try #require(agent.server?.port)
        #expect(waitFor(15) { httpGet(port: port, path: "/readyz")?.status == 200 }, "readyz never became ready")
        #expect(httpGet(port: port, path: "/healthz")?.status == 200)

        source.push([
            Synth.exec(pid: 7000, ppid: 1, exe: "/bin/sh", argv: ["sh", "-c", "cat /etc/shadow"], ts: 1_000),
            Synth.exec(pid: 7001, ppid: 7000, exe: "/usr/bin/cat", argv: ["cat", "/etc/shadow"], ts: 2_000),
            Synth.open(pid: 7001, path: "/etc/shadow", fd: 3, ts: 3_000),
            Synth.open(pid: 7001, path: "/etc/hostname", fd: 4, ts: 4_000),
        ])
        #expect(waitFor(15) { source.backlog == 0 && agent.metrics.alerts.value == 1 })
        let scraped = try #require(httpGet(port: port, path: "/metrics"))
        #expect(scraped.status == 200)
        let m = parsePrometheus(scraped.body)
        #expect(m["vigil_events_received_total{type=\"openat\"}"] == 2)
        #expect(m["vigil_events_received_total{type=\"execve\"}"] == 2)
        #expect(m["vigil_rule_matches_total{rule=\"Test shadow read\",priority=\"Warning\"}"] == 1)
        #expect(m["vigil_rules_loaded"] == 1)
        #expect(m["vigil_reload_failures_total"] == 0)
        #expect(m["vigil_ready"] == 1)
        #expect(m["vigil_rule_evaluation_samples_total"] != nil && m["vigil_rule_evaluation_sampled_seconds_total"] != nil)
        #expect(m["vigil_alerts_held"] == 0)
        #expect(m["vigil_process_table_entries"] != nil && m["vigil_enrich_cache_hits_total"] != nil)
        #expect(m.keys.contains { $0.hasPrefix("vigil_alert_sink_dropped_total{sink=\"file\"}") })

        let stats = agent.shutdown()
        #expect(httpGet(port: port, path: "/readyz") == nil || httpGet(port: port, path: "/readyz")?.status == 503)
        #expect(stats.hasPrefix("{\"stats\":{\"events_received\":{"))
        #expect(stats.contains("\"execve\":2") && stats.contains("\"openat\":2") && stats.contains("\"kernel_drops\":0")
                && stats.contains("\"decode_errors\":0") && stats.contains("\"alerts\":1"))
        let lines = readLines(fx.dir + "/alerts.json")
        try #require(lines.count == 1)
        #expect(lines[0].contains("\"rule\":\"Test shadow read\"") && lines[0].contains("\"proc.cmdline\":\"cat /etc/shadow\""))
    }

    @Test func fileChangeReloadsRunningAgent() throws {
        let fx = Self.fixture()
        defer { fx.cleanup() }
        let agent = try Agent(options: fx.options, loaded: try fx.options.loadConfig())
        let source = PushSource()
        try agent.start(source: source)
        source.push([Synth.exec(pid: 7100, ppid: 1, exe: "/usr/bin/cat", argv: ["cat"], ts: 1)])
        Timestamp.sleep(milliseconds: 300)  // let the watcher settle

        // A broken edit is rejected and the old rules keep alerting.
        writeFile(fx.dir + "/rules.yaml", "- rule: Broken\n  desc: x\n  condition: evt.type = openat and\n  output: o\n  priority: WARNING\n")
        #expect(waitFor(15) { agent.metrics.reloadFailures.value == 1 })
        source.push([Synth.open(pid: 7100, path: "/etc/shadow", fd: 3, ts: 2)])
        #expect(waitFor(15) { agent.metrics.alerts.value == 1 })

        // A good edit is picked up.
        writeFile(fx.dir + "/rules.yaml", shadowRule.replacingOccurrences(of: "Test shadow read", with: "Reloaded shadow read"))
        #expect(waitFor(15) { agent.metrics.reloads.value == 1 })
        source.push([Synth.open(pid: 7100, path: "/etc/shadow", fd: 4, ts: 3)])
        #expect(waitFor(15) { agent.metrics.alerts.value == 2 })
        _ = agent.shutdown()
        let lines = readLines(fx.dir + "/alerts.json")
        // The rejected edit raised the internal alert (issue 11); the rule alerts came from the old, then the new set.
        let internalAlerts = lines.filter { $0.contains("\"source\":\"internal\"") }
        #expect(internalAlerts.count == 1 && internalAlerts[0].contains("\"rule\":\"Vigil rules reload failed\""))
        let rules = lines.filter { !$0.contains("\"source\":\"internal\"") }.map { $0.contains("Reloaded shadow read") ? "new" : "old" }
        #expect(rules == ["old", "new"])
    }

    @Test func reloadFollowsNewRulesFiles() throws {
        let fx = Self.fixture()
        defer { fx.cleanup() }
        let agent = try Agent(options: fx.options, loaded: try fx.options.loadConfig())
        let source = PushSource()
        try agent.start(source: source)
        Timestamp.sleep(milliseconds: 300)
        writeFile(fx.dir + "/other.yaml", shadowRule.replacingOccurrences(of: "Test shadow read", with: "Other shadow read"))
        let config = FilePaths.readText(fx.dir + "/vigil.yaml")!.replacingOccurrences(of: "rules_files: [rules.yaml]", with: "rules_files: [other.yaml]")
        writeFile(fx.dir + "/vigil.yaml", config)
        #expect(waitFor(15) { agent.metrics.reloads.value == 1 })
        #expect(agent.rules.rules.map(\.name) == ["Other shadow read"])
        // The new file is watched now.
        writeFile(fx.dir + "/other.yaml", shadowRule.replacingOccurrences(of: "Test shadow read", with: "Other shadow read v2"))
        #expect(waitFor(15) { agent.metrics.reloads.value == 2 })
        #expect(agent.rules.rules.map(\.name) == ["Other shadow read v2"])
        _ = agent.shutdown()
    }

    /// A quiet source still ticks the pipeline: the agent becomes ready without a first event,
    /// and a reload on an idle node returns with the pipeline already on the new rules (it does
    /// not wait out its 2 s bound).
    @Test func idleAgentBecomesReadyAndAdoptsReloadedRules() throws {
        let fx = Self.fixture()
        defer { fx.cleanup() }
        let agent = try Agent(options: fx.options, loaded: try fx.options.loadConfig())
        let source = PushSource()
        try agent.start(source: source)
        #expect(waitFor(15) { agent.health.isReady })
        #expect(source.stats().records == 0)
        let before = agent.pipeline.activeGeneration.value
        #expect(agent.reload(reason: "idle test") == .reloaded(rules: agent.rules.summary.enabled))
        #expect(agent.pipeline.activeGeneration.value > before)
        _ = agent.shutdown()
    }

    @Test func kernelDropsRaiseInternalAlert() throws {
        let fx = Self.fixture()
        defer { fx.cleanup() }
        let agent = try Agent(options: fx.options, loaded: try fx.options.loadConfig())
        let source = PushSource()
        try agent.start(source: source)
        source.push((0..<50).map { Synth.exec(pid: 7200, ppid: 1, exe: "/bin/true", argv: ["true"], ts: UInt64($0)) })
        // No drops yet: once the monitor has checked the 50 events, there is no internal alert.
        #expect(waitFor(15) { agent.metrics.monitoredRecords.value >= 50 })
        #expect(agent.metrics.internalAlerts.value == 0)
        source.kernelDrops.store(500, ordering: .relaxed)
        #expect(waitFor(15) { agent.metrics.internalAlerts.value == 1 })
        let stats = agent.shutdown()
        #expect(stats.contains("\"kernel_drops\":500") && stats.contains("\"internal_alerts\":1"))
        let line = try #require(readLines(fx.dir + "/alerts.json").first { $0.contains("Vigil dropped events") })
        #expect(line.contains("\"priority\":\"Critical\"") && line.contains("\"vigil.dropped_events\":500")
                && line.contains("\"source\":\"internal\""))
    }

    @Test func badKubeconfigDegradesButRuns() throws {
        let fx = Self.fixture()
        defer { fx.cleanup() }
        var opts = fx.options
        opts.kubeconfig = fx.dir + "/missing-kubeconfig"
        opts.nodeName = "node-1"
        let loaded = try opts.loadConfig()
        #expect(loaded.config.k8s.enabled && loaded.config.k8s.nodeName == "node-1")
        let agent = try Agent(options: opts, loaded: loaded)
        #expect(agent.hostname == "node-1" || getenv("VIGIL_HOSTNAME") != nil)
        let source = PushSource()
        try agent.start(source: source)
        source.push([Synth.exec(pid: 7300, ppid: 1, exe: "/usr/bin/cat", argv: ["cat"], ts: 1),
                     Synth.open(pid: 7300, path: "/etc/shadow", fd: 3, ts: 2)])
        #expect(waitFor(15) { agent.metrics.alerts.value == 1 })
        _ = agent.shutdown()
        #expect(readLines(fx.dir + "/alerts.json").count == 1)
    }

    @Test func brokenRulesStopStartupWithTheFileNamed() throws {
        let fx = Fixture(rules: "- rule: R\n  desc: d\n  condition: evt.type = openat and proc.nme = x\n  output: o\n  priority: WARNING\n")
        defer { fx.cleanup() }
        do {
            _ = try Agent(options: fx.options, loaded: try fx.options.loadConfig())
            Issue.record("started with a broken rule")
        } catch {
            #expect("\(error)".contains("rules.yaml:3"), "\(error)")
        }
    }
}
