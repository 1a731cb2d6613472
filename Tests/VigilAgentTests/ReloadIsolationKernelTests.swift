#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilAgent
import VigilCore

/// A running `vigil run` (real BPF capture) whose watched rules directory receives the hostile
/// files of issue 11: every bad reload is rejected and counted, the agent keeps detecting with
/// the old rules, and SIGINT stops it even while a reload is compiling.
@Suite(.serialized) struct ReloadIsolationKernelTests {
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func hostileFilesInTheWatchedDirectoryDoNotBlindTheAgent() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        let dir = makeTempDir("vigil-hostile-live")
        defer { removeTree(dir) }
        let rulesDir = dir + "/rules"
        #expect(mkdir(rulesDir, 0o755) == 0)
        writeFile(rulesDir + "/base.yaml", """
            - rule: Hostile test trigger read
              desc: a read of the test's trigger files
              condition: evt.type in (open, openat, openat2) and fd.name startswith \(dir)/trigger
              output: trigger %fd.name read by %proc.name
              priority: WARNING
            """)
        let port = freePort()
        writeFile(dir + "/vigil.yaml", """
            rules_files: [\(rulesDir)]
            watch_config_files: true
            stdout_output: {enabled: true, format: json}
            flood_control: {fold: {enabled: false}}
            webserver: {enabled: true, listen_address: 127.0.0.1, listen_port: \(port)}
            """)
        let vigil = try SpawnedVigil(binary: binary, args: ["run", "-c", dir + "/vigil.yaml"], dir: dir)
        var exited: Int32? = nil
        defer { if exited == nil { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) } }
        try vigil.requireReady(port: port)

        func metric(_ name: String) -> Double { parsePrometheus(httpGet(port: port, path: "/metrics")?.body ?? "")[name] ?? -1 }
        func trigger(_ k: Int) -> Bool {
            let path = "\(dir)/trigger-\(k)"
            writeFile(path, "x\n")
            _ = shell("cat \(path) > /dev/null")
            return waitFor(20) { vigil.stdoutLines.contains { $0.contains("\"rule\":\"Hostile test trigger read\"") && $0.contains(path) } }
        }
        /// Moves `text` into the rules directory in one rename (the watcher never sees half a file).
        func drop(_ name: String, _ text: String) {
            writeFile(rulesDir + "/.incoming", text)
            #expect(rename(rulesDir + "/.incoming", rulesDir + "/" + name) == 0)
        }

        #expect(trigger(0), "no detection before any reload: \(vigil.stderrLines.suffix(5).joined(separator: "\n"))")
        for (k, (what, text)) in ReloadIsolationTests.hostileFiles.enumerated() {
            drop("z-hostile.yaml", text)
            let counted = waitFor(60) { metric("vigil_reload_failures_total") >= Double(k + 1) }
            #expect(counted, "\(what): no reload failure counted; stderr: \(vigil.stderrLines.suffix(3).joined(separator: "\n"))")
            #expect(vigil.wait(seconds: 0) == nil, "\(what) stopped the agent")
            // A real detection with the old rules after the bad reload.
            #expect(trigger(k + 1), "\(what): no detection after the rejected reload")
            #expect(unlink(rulesDir + "/z-hostile.yaml") == 0)
        }
        // A FIFO and /dev/zero in the watched directory: never read, never block.
        #expect(mkfifo(rulesDir + "/fifo.yaml", 0o600) == 0)
        #expect(symlink("/dev/zero", rulesDir + "/zero.yaml") == 0)
        #expect(waitFor(30) { vigil.stderrLines.filter { $0.contains("\"msg\":\"rules reloaded\"") }.count >= 1 })
        #expect(trigger(90), "no detection with a FIFO and /dev/zero in the rules directory")
        // The internal alert for the rejected reloads, in the alert stream.
        let internalAlerts = vigil.stdoutLines.filter { $0.contains("\"rule\":\"Vigil rules reload failed\"") }
        #expect(internalAlerts.count >= ReloadIsolationTests.hostileFiles.count, "\(internalAlerts.count) internal alerts")
        #expect(internalAlerts.first?.contains("condition nested deeper than 1000") == true)

        // A large valid file keeps the compilation busy for seconds; SIGINT stops the agent anyway.
        let items = (0..<900_000).map { "p\($0)" }.joined(separator: ", ")
        let reloadsBefore = vigil.stderrLines.filter { $0.contains("\"msg\":\"reloading configuration and rules\"") }.count
        drop("big.yaml", "- list: big\n  items: [\(items)]\n- rule: Big\n  desc: d\n  condition: evt.type = openat and proc.name in (big)\n  output: o\n  priority: WARNING\n")
        #expect(waitFor(30) { vigil.stderrLines.filter { $0.contains("\"msg\":\"reloading configuration and rules\"") }.count > reloadsBefore })
        let reloadedBefore = vigil.stderrLines.filter { $0.contains("\"msg\":\"rules reloaded\"") }.count
        let t0 = Timestamp.monotonicNanoseconds()
        vigil.kill(SIGINT)
        exited = vigil.wait(seconds: 10)
        let seconds = Double(Timestamp.monotonicNanoseconds() - t0) / 1e9
        #expect(exited == 0, "not stopped within 10 s of SIGINT (\(seconds) s); stderr: \(vigil.stderrLines.suffix(5).joined(separator: "\n"))")
        #expect(vigil.stderrLines.filter { $0.contains("\"msg\":\"rules reloaded\"") }.count == reloadedBefore,
                "the 900,000-item reload finished before the stop: the test did not stop during a compilation")
        #expect(vigil.stderrLines.last { $0.hasPrefix("{\"stats\":") }?.contains("\"reload_failures\":\(ReloadIsolationTests.hostileFiles.count)") == true)
    }
}
