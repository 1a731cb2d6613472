#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilAgent
import VigilCore

/// A rule on `proc.env` fires on a real process started with LD_PRELOAD; the kernel copies the
/// environment only while such a rule is loaded (turned on and off by reloads).
extension RunCommandKernelTests {
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func procEnvRuleFiresLiveAndCaptureFollowsReloads() throws {
        let binary = try #require(Self.binary, "vigil binary not built (swift build)")
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let marker = "vigil-env-rule-\(UInt32.random(in: 0...UInt32.max))"
        let rules = dir + "/rules.yaml"
        let envRule = """
        - rule: Preload in environment
          desc: test
          condition: evt.type in (execve, execveat) and proc.env contains "LD_PRELOAD=" and proc.cmdline contains \(marker)
          output: "preload=%proc.env[LD_PRELOAD] truncated=%proc.is_env_truncated cmd=%proc.cmdline"
          priority: WARNING
        """
        let otherRule = """
        - rule: Marker run
          desc: test
          condition: evt.type in (execve, execveat) and proc.cmdline contains \(marker)
          output: "cmd=%proc.cmdline"
          priority: WARNING
        """
        try writeText(rules, envRule)
        let port = freePort()
        let vigil = try SpawnedVigil(binary: binary, args: SpawnedVigil.runArguments(port: port, rules: rules), dir: dir)
        defer { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) }
        try vigil.requireReady(port: port)
        #expect(vigil.stderrLines.contains { $0.contains("environment capture on") })

        // The behaviour: a program started with LD_PRELOAD (a library that does not exist: ld.so warns and goes on).
        #expect(shell("LD_PRELOAD=/nonexistent/\(marker).so /bin/echo \(marker) one >/dev/null 2>&1") == 0)
        let fired = waitFor(20) { vigil.stdoutLines.contains { $0.contains("Preload in environment") && $0.contains("\(marker) one") } }
        #expect(fired, "no alert; stderr: \(vigil.stderrLines.suffix(5).joined(separator: "\n"))")
        if let line = vigil.stdoutLines.first(where: { $0.contains("Preload in environment") }) {
            #expect(line.contains("\"proc.env[LD_PRELOAD]\":\"/nonexistent/\(marker).so\""), "\(line)")
            #expect(line.contains("\"proc.is_env_truncated\":false"), "\(line)")
        }

        // Without a rule reading proc.env the kernel stops copying it; with one again, it copies again.
        try writeText(rules, otherRule)
        vigil.kill(SIGHUP)
        #expect(waitFor(30) { vigil.stderrLines.contains { $0.contains("environment capture off") } },
                "\(vigil.stderrLines.suffix(5).joined(separator: "\n"))")
        #expect(shell("LD_PRELOAD=/nonexistent/\(marker).so /bin/echo \(marker) two >/dev/null 2>&1") == 0)
        #expect(waitFor(20) { vigil.stdoutLines.contains { $0.contains("Marker run") && $0.contains("\(marker) two") } })
        #expect(!vigil.stdoutLines.contains { $0.contains("Preload in environment") && $0.contains("\(marker) two") })
        try writeText(rules, envRule)
        vigil.kill(SIGHUP)
        #expect(waitFor(30) { vigil.stderrLines.filter { $0.contains("environment capture on") }.count == 2 })
        #expect(shell("LD_AUDIT=/x LD_PRELOAD=/nonexistent/\(marker)-3.so /bin/echo \(marker) three >/dev/null 2>&1") == 0)
        #expect(waitFor(20) { vigil.stdoutLines.contains { $0.contains("Preload in environment") && $0.contains("\(marker)-3.so") } })
    }
}

func writeText(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw AgentError("cannot write \(path)") }
    defer { close(fd) }
    _ = text.withCString { write(fd, $0, strlen($0)) }
}
