#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilAgent
import VigilCore
import Synchronization

@Suite struct HealthTests {
    /// Releasing a started server without stop() while requests are in flight: its thread only
    /// touches what it owns (the responder), the release stops the daemon, nothing crashes.
    @Test func releasingAStartedServerWithoutStopWhileServing() throws {
        final class Box: @unchecked Sendable { var server: MetricsServer? }  // only this thread touches `server`
        final class Served: Sendable { let ok = Atomic<Int>(0); let done = Atomic<Bool>(false) }
        let registry = MetricsRegistry()
        registry.register("vigil_test_slow", help: "test", type: .gauge) { [MetricSample(value: 1)] }
        let box = Box()
        box.server = MetricsServer(registry: registry, health: HealthState())
        try box.server!.start(address: "127.0.0.1", port: 0)
        let port = box.server!.port
        let served = Served()
        let client = try NamedThread.start(name: "metrics-client") {
            while !served.done.load(ordering: .relaxed) {
                if httpGet(port: port, path: "/metrics")?.status == 200 { served.ok.add(1, ordering: .relaxed) } else { return }
            }
        }
        // Wait (with a deadline) until requests are being served, then let go of the server.
        let deadline = Timestamp.monotonicNanoseconds() + 10_000_000_000
        while served.ok.load(ordering: .relaxed) < 3 && Timestamp.monotonicNanoseconds() < deadline { Timestamp.sleep(milliseconds: 1) }
        #expect(served.ok.load(ordering: .relaxed) >= 3)
        weak let released = box.server
        box.server = nil
        #expect(released == nil)
        #expect(httpGet(port: port, path: "/healthz") == nil)  // the release stopped the daemon
        served.done.store(true, ordering: .relaxed)
        client.join()
    }

    @Test func metricsAndHealthEndpoints() throws {
        let registry = MetricsRegistry()
        let c = Counter()
        c.add(42)
        registry.register("vigil_test_events_total", help: "test", counter: c)
        registry.register("vigil_test_labelled", help: "test", type: .counter) {
            [MetricSample(labels: [("rule", "a \"q\"")], value: 3)]
        }
        let health = HealthState()
        let server = MetricsServer(registry: registry, health: health)
        try server.start(address: "127.0.0.1", port: 0)
        defer { server.stop() }
        #expect(server.port != 0)

        let m = try #require(httpGet(port: server.port, path: "/metrics"))
        #expect(m.status == 200)
        let samples = parsePrometheus(m.body)
        #expect(samples["vigil_test_events_total"] == 42)
        #expect(samples["vigil_test_labelled{rule=\"a \\\"q\\\"\"}"] == 3)

        #expect(httpGet(port: server.port, path: "/healthz")?.status == 200)
        let notReady = try #require(httpGet(port: server.port, path: "/readyz"))
        #expect(notReady.status == 503)
        #expect(notReady.body.contains("rules not loaded"))
        health.setAttached(true); health.setRulesLoaded(true); health.setFirstPollDone()
        #expect(httpGet(port: server.port, path: "/readyz")?.status == 200)
        health.setStopping()
        #expect(httpGet(port: server.port, path: "/readyz")?.status == 503)
        #expect(httpGet(port: server.port, path: "/nope")?.status == 404)
    }

    @Test func badListenAddressIsAnError() {
        let server = MetricsServer(registry: MetricsRegistry(), health: HealthState())
        #expect(throws: MetricsServer.StartError.self) { try server.start(address: "not-an-ip", port: 0) }
    }

    @Test func swapSlotReaderSeesNewValue() {
        final class Box { let v: Int; init(_ v: Int) { self.v = v } }
        let slot = SwapSlot(Box(1))
        var reader = SwapSlot.Reader(slot)
        #expect(reader.value.v == 1)
        #expect(reader.refresh() == false)
        slot.store(Box(2))
        #expect(reader.refresh() == true)
        #expect(reader.value.v == 2)
    }

    @Test func fileWatcherSeesConfigMapStyleSwap() throws {
        // Kubernetes mounts a ConfigMap as: file -> ..data/file, ..data -> ..<timestamp>/
        let dir = makeTempDir()
        defer { removeTree(dir) }
        #expect(mkdir(dir + "/..v1", 0o755) == 0)
        writeFile(dir + "/..v1/rules.yaml", "- rule: a\n")
        #expect(symlink("..v1", dir + "/..data") == 0)
        #expect(symlink("..data/rules.yaml", dir + "/rules.yaml") == 0)

        let fired = Atomic<Int>(0)
        let watcher = FileWatcher(paths: [dir + "/rules.yaml"], debounceMs: 50) { fired.add(1, ordering: .relaxed) }
        #expect(watcher.start())
        defer { watcher.stop() }
        // start() returns with the watches in place: no settling time needed.

        // The kubelet's atomic update: new timestamped dir, new symlink renamed over ..data.
        #expect(mkdir(dir + "/..v2", 0o755) == 0)
        writeFile(dir + "/..v2/rules.yaml", "- rule: b\n")
        #expect(symlink("..v2", dir + "/..data_tmp") == 0)
        #expect(rename(dir + "/..data_tmp", dir + "/..data") == 0)
        var waited = 0
        while fired.load(ordering: .relaxed) == 0 && waited < 3000 { Timestamp.sleep(milliseconds: 20); waited += 20 }
        #expect(fired.load(ordering: .relaxed) == 1)

        // Rewriting the same content does not fire again (once the watcher has checked it); a real edit does.
        let checked = watcher.checks.value
        writeFile(dir + "/..v2/rules.yaml", "- rule: b\n")
        waited = 0
        while watcher.checks.value == checked && waited < 3000 { Timestamp.sleep(milliseconds: 20); waited += 20 }
        #expect(watcher.checks.value > checked)
        #expect(fired.load(ordering: .relaxed) == 1)
        writeFile(dir + "/..v2/rules.yaml", "- rule: c\n")
        waited = 0
        while fired.load(ordering: .relaxed) == 1 && waited < 3000 { Timestamp.sleep(milliseconds: 20); waited += 20 }
        #expect(fired.load(ordering: .relaxed) == 2)
    }
}
