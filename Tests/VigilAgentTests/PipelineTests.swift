#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import VigilAgent
import VigilAlerts
import VigilCore
import VigilDecode
import VigilRules
import VigilState

/// A sink backend that keeps every alert it receives.
final class CollectingBackend: AlertSinkBackend, @unchecked Sendable {
    let got = Mutex<[FormattedAlert]>([])
    func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl) {
        got.withLock { $0.append(contentsOf: batch) }
        stats.sent.add(UInt64(batch.count))
    }
    var alerts: [Alert] { got.withLock { $0.map(\.alert) } }
    var json: [String] { got.withLock { $0.map { String(decoding: $0.json, as: UTF8.self) } } }
}

/// A test agent setup: a temp directory with a config and a rules file.
struct Fixture {
    let dir: String
    let options: AgentOptions

    init(rules: String, config: String = "") {
        dir = makeTempDir()
        writeFile(dir + "/rules.yaml", rules)
        writeFile(dir + "/vigil.yaml", "rules_files: [rules.yaml]\nwebserver: {enabled: false}\n" + config)
        var o = AgentOptions()
        o.configPath = dir + "/vigil.yaml"
        options = o
    }

    func cleanup() { removeTree(dir) }
}

enum Synth {
    static func exec(pid: UInt32, ppid: UInt32, exe: String, argv: [String], ts: UInt64) -> [UInt8] {
        RecordEncoder.exec(.init(timestampBootNs: ts, pid: pid, ppid: ppid, comm: String(exe.split(separator: "/").last ?? "")),
                           .init(exePath: exe, argv: argv, cwd: "/root"))
    }
    static func open(pid: UInt32, path: String, fd: Int64, ts: UInt64, comm: String = "cat") -> [UInt8] {
        try! RecordEncoder.syscall(.init(timestampBootNs: ts, pid: pid, comm: comm), type: EventType(name: "openat")!, ret: fd,
                              arguments: ["dirfd": "AT_FDCWD", "name": path, "flags": "O_RDONLY", "mode": "0"])
    }
}

let shadowRule = """
    - rule: Test shadow read
      desc: reading /etc/shadow
      condition: evt.type in (open, openat) and fd.name = /etc/shadow and evt.rawres >= 0
      output: shadow read by %proc.name (file=%fd.name cmdline=%proc.cmdline parent=%proc.pname)
      priority: WARNING
      tags: [test]
    """

func makePipeline(_ rules: RuleSet, backend: CollectingBackend, metrics: AgentMetrics = AgentMetrics()) -> (Pipeline, AlertDispatcher, SwapSlot<RuleSet>) {
    let sink = AlertSink(name: "test", format: .json, capacity: 200_000, backend: backend)
    let dispatcher = AlertDispatcher(sinks: [sink], floodControl: FloodControlConfig(fold: FoldConfig(enabled: false)),
                                     capacity: 200_000, hostname: "test-node")
    let slot = SwapSlot(rules)
    let table = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
    let p = Pipeline(processes: table, enricher: nil, dispatcher: dispatcher, ruleSlot: slot, metrics: metrics,
                     metadataWaitNs: 100_000_000, hostname: "test-node")
    return (p, dispatcher, slot)
}

@Suite struct PipelineTests {
    @Test func recordsBecomeAlerts() throws {
        let fx = Fixture(rules: shadowRule)
        defer { fx.cleanup() }
        let loaded = try fx.options.loadConfig()
        let rules = try RuleLoading.load(loaded).get()
        let backend = CollectingBackend()
        let metrics = AgentMetrics()
        let (pipeline, dispatcher, _) = makePipeline(rules, backend: backend, metrics: metrics)
        let records = [
            Synth.exec(pid: 4000, ppid: 1, exe: "/bin/bash", argv: ["bash"], ts: 1_000),
            Synth.exec(pid: 4001, ppid: 4000, exe: "/usr/bin/cat", argv: ["cat", "/etc/shadow"], ts: 2_000),
            Synth.open(pid: 4001, path: "/etc/passwd", fd: 3, ts: 3_000),
            Synth.open(pid: 4001, path: "/etc/shadow", fd: 4, ts: 4_000),
            Synth.open(pid: 4001, path: "/etc/shadow", fd: -13, ts: 5_000),   // EACCES: no alert
            [1, 2, 3],                                                         // garbage: a decode error
        ]
        for r in records { r.withUnsafeBytes { pipeline.process($0) } }
        pipeline.tick()
        #expect(dispatcher.flush(timeout: .seconds(5)))
        dispatcher.stop()
        let alerts = backend.alerts
        try #require(alerts.count == 1)
        #expect(alerts[0].rule == "Test shadow read")
        #expect(alerts[0].priority == .warning)
        #expect(alerts[0].message.contains("shadow read by cat (file=/etc/shadow cmdline=cat /etc/shadow parent=bash)"))
        let json = backend.json[0]
        #expect(json.contains("\"rule\":\"Test shadow read\"") && json.contains("\"priority\":\"Warning\"")
                && json.contains("\"output_fields\":{") && json.contains("\"hostname\":\"test-node\""))
        #expect(metrics.decodeErrors.value == 1)
        #expect(metrics.alerts.value == 1)
        #expect(metrics.rulesEvaluated.value == 3)
        #expect(metrics.processTableSize.value >= 2)
    }

    @Test func heldAlertGetsContainerFields() {
        let a = Alert(timeNs: 1, rule: "r", priority: .notice, hostname: "h", message: "m", tags: [],
                      outputFields: [("proc.name", .string("sh")), ("container.id", .string("")), ("k8s.pod.name", .none)])
        let c = ContainerInfo(id: "3f9a2b7c1d4e", fullID: "3f9a2b7c1d4e5f", runtime: "containerd", name: "web",
                              pod: PodInfo(name: "web-1", namespace: "shop", uid: "u1"))
        let b = Pipeline.withContainer(a, c)
        #expect(b.outputFields[0].1 == .string("sh"))
        #expect(b.outputFields[1].1 == .string("3f9a2b7c1d4e"))
        #expect(b.outputFields[2].1 == .string("web-1"))
    }
}

@Suite(.serialized) struct ReloadTests {
    @Test func validReloadSwapsRulesAndBrokenReloadKeepsOld() throws {
        let fx = Fixture(rules: shadowRule)
        defer { fx.cleanup() }
        let loaded = try fx.options.loadConfig()
        let backend = CollectingBackend()
        let metrics = AgentMetrics()
        let (pipeline, dispatcher, slot) = makePipeline(try RuleLoading.load(loaded).get(), backend: backend, metrics: metrics)
        let interest = Mutex<[KernelInterest]>([])
        let reloader = Reloader(options: fx.options, current: loaded, slot: slot, metrics: metrics,
                                setInterest: { t in interest.withLock { $0.append(t) } },
                                pipelineGeneration: { [pipeline] in UInt64(pipeline.activeGeneration.value) })
        // Keep the pipeline ticking on its own thread, as the reader does.
        let stop = Atomic<Bool>(false)
        let ticker = try NamedThread.start(name: "test-tick") { [pipeline] in
            while !stop.load(ordering: .relaxed) { pipeline.tick(); Timestamp.sleep(milliseconds: 1) }
        }

        // A valid new set: a second rule that also needs connect events.
        writeFile(fx.dir + "/rules.yaml", shadowRule.replacingOccurrences(of: "Test shadow read", with: "Renamed shadow read") + """

            - rule: Test connect
              desc: any connect
              condition: evt.type = connect
              output: connect by %proc.name
              priority: NOTICE
            """)
        #expect(reloader.reload(reason: "test") == .reloaded(rules: 2))
        #expect(metrics.reloads.value == 1)
        let sets = interest.withLock { $0 }
        #expect(sets.count == 2 && sets[1].contains(EventType(name: "connect")!))
        #expect(sets[0].types.isSuperset(of: sets[1].types))

        // A broken set is rejected; the running one stays.
        writeFile(fx.dir + "/rules.yaml", "- rule: Broken\n  desc: x\n  condition: evt.type = openat and (\n  output: o\n  priority: WARNING\n")
        if case .rejected(let why) = reloader.reload(reason: "test") { #expect(why.contains("rules.yaml")) } else { Issue.record("broken set accepted") }
        #expect(metrics.reloadFailures.value == 1)
        // A broken config is rejected too.
        writeFile(fx.dir + "/vigil.yaml", "rules_files: [rules.yaml]\nwebserver: {enabled: nope}\n")
        if case .rejected(let why) = reloader.reload(reason: "test") { #expect(why.contains("webserver.enabled")) } else { Issue.record("broken config accepted") }
        #expect(metrics.reloadFailures.value == 2)

        stop.store(true, ordering: .relaxed)
        ticker.join()
        Synth.exec(pid: 5000, ppid: 1, exe: "/usr/bin/cat", argv: ["cat"], ts: 1).withUnsafeBytes { pipeline.process($0) }
        Synth.open(pid: 5000, path: "/etc/shadow", fd: 3, ts: 2).withUnsafeBytes { pipeline.process($0) }
        #expect(dispatcher.flush(timeout: .seconds(5)))
        dispatcher.stop()
        #expect(backend.alerts.map(\.rule) == ["Renamed shadow read"])
    }

    @Test func noEventLostAcrossSwaps() throws {
        // Two sets that both alert on every matching event, under different rule names.
        let fx = Fixture(rules: shadowRule)
        defer { fx.cleanup() }
        let loaded = try fx.options.loadConfig()
        let setA = try RuleLoading.load(loaded).get()
        writeFile(fx.dir + "/rules.yaml", shadowRule.replacingOccurrences(of: "Test shadow read", with: "Set B shadow read"))
        let setB = try RuleLoading.load(loaded).get()
        writeFile(fx.dir + "/rules.yaml", shadowRule)
        let backend = CollectingBackend()
        let metrics = AgentMetrics()
        let (pipeline, dispatcher, slot) = makePipeline(setA, backend: backend, metrics: metrics)
        let reloader = Reloader(options: fx.options, current: loaded, slot: slot, metrics: metrics, setInterest: { _ in },
                                pipelineGeneration: { [pipeline] in UInt64(pipeline.activeGeneration.value) })

        let n = 30_000
        let done = Atomic<Bool>(false)
        let exec = Synth.exec(pid: 6000, ppid: 1, exe: "/usr/bin/cat", argv: ["cat"], ts: 1)
        exec.withUnsafeBytes { pipeline.process($0) }
        // The feeder and the swapper meet twice, so the outcome does not depend on scheduling:
        // at n/3 the feeder waits for the first swap (to set B) and the swapper waits for 100
        // events under it; at 2n/3 the feeder waits for a second swap. Waiting, the feeder ticks
        // like an idle pipeline thread.
        let swapsDone = Atomic<Int>(0), fed = Atomic<Int>(0)
        let feeder = try NamedThread.start(name: "test-feed") { [pipeline] in
            for i in 0..<n {
                for (at, swaps) in [(n / 3, 1), (2 * n / 3, 2)] where i == at {
                    let end = Timestamp.monotonicNanoseconds() + 20_000_000_000
                    while swapsDone.load(ordering: .acquiring) < swaps && Timestamp.monotonicNanoseconds() < end {
                        pipeline.tick(); Timestamp.sleep(milliseconds: 1)
                    }
                }
                Synth.open(pid: 6000, path: "/etc/shadow", fd: 3, ts: UInt64(10 + i)).withUnsafeBytes { pipeline.process($0) }
                fed.store(i + 1, ordering: .releasing)
                if i % 512 == 0 { pipeline.tick() }
            }
            done.store(true, ordering: .releasing)
        }
        // Reload back and forth while the stream runs: file-based reloads and direct swaps.
        var swaps = 0
        while !done.load(ordering: .acquiring) {
            if swaps % 2 == 0 {
                writeFile(fx.dir + "/rules.yaml", shadowRule.replacingOccurrences(of: "Test shadow read", with: "Set B shadow read"))
            } else {
                writeFile(fx.dir + "/rules.yaml", shadowRule)
            }
            _ = reloader.reload(reason: "stream test")
            slot.store(swaps % 2 == 0 ? setB : setA)
            swaps += 1
            swapsDone.store(swaps, ordering: .releasing)
            if swaps == 1 {
                let end = Timestamp.monotonicNanoseconds() + 20_000_000_000
                while fed.load(ordering: .acquiring) < n / 3 + 100 && Timestamp.monotonicNanoseconds() < end { Timestamp.sleep(milliseconds: 1) }
            }
        }
        feeder.join()
        #expect(dispatcher.flush(timeout: .seconds(10)))
        dispatcher.stop()
        let alerts = backend.alerts
        #expect(swaps >= 2)
        #expect(alerts.count == n, "every event evaluated by exactly one set: \(alerts.count) of \(n)")
        let a = alerts.filter { $0.rule == "Test shadow read" }.count
        let b = alerts.filter { $0.rule == "Set B shadow read" }.count
        #expect(a + b == n)
        #expect(b >= 100)
        // The per-rule match counts (the pipeline keeps the last rule's counter) follow the swaps.
        let counted = Dictionary(uniqueKeysWithValues: metrics.alertsByRule.map { ($0.rule, $0.count) })
        #expect(counted == ["Test shadow read": UInt64(a), "Set B shadow read": UInt64(b)])
        #expect(metrics.alerts.value == UInt64(n))
        #expect(metrics.reloadFailures.value == 0)
    }
}
