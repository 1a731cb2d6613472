#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilAgent
import VigilCore
import VigilCapture

/// Kernel tests run as root, or are forced with VIGIL_CI=1 (then they fail if BPF cannot load).
let agentKernelTestsEnabled: Bool = geteuid() == 0 || getenv("VIGIL_CI").map { String(cString: $0) == "1" } == true

/// A spawned `vigil` process with stdout and stderr in files.
final class SpawnedVigil {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String

    /// `brokenStdout`: stdout is a pipe nobody reads (its read end closed), like `vigil run | head -0`.
    init(binary: String, args: [String], dir: String, brokenStdout: Bool = false) throws {
        stdoutPath = dir + "/stdout"
        stderrPath = dir + "/stderr"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var fds: [Int32] = [-1, -1]
        if brokenStdout {
            guard pipe(&fds) == 0 else { throw AgentError("pipe failed") }
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_addclose(&actions, fds[0])
            posix_spawn_file_actions_addclose(&actions, fds[1])
            close(fds[0])
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // The child must not inherit the test runner's blocked signals.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var p: pid_t = 0
        let rc = posix_spawn(&p, binary, &actions, &attr, argv, environ)
        if brokenStdout { close(fds[1]) }
        guard rc == 0 else { throw AgentError("cannot spawn \(binary): \(rc)") }
        pid = p
    }

    /// `vigil run` with the repository's config and `rules` (the bundled rules by default): JSON
    /// alerts on stdout, no folding, the health server on 127.0.0.1:`port`, then `extra`.
    static func runArguments(port: UInt16, rules: String = RunCommandKernelTests.repoRoot + "/rules/", extra: [String] = []) -> [String] {
        ["run", "-c", RunCommandKernelTests.repoRoot + "/rules/vigil.yaml", "-r", rules,
         "-o", "webserver.listen_address=127.0.0.1", "-o", "webserver.listen_port=\(port)",
         "-o", "stdout_output.format=json", "-o", "flood_control.fold.enabled=false"] + extra
    }

    /// Waits (60 s at most) until the agent's `/readyz` on `port` answers 200; fails the test with
    /// the agent's last `stderrLines` stderr lines if it does not, or if the agent exits first.
    func requireReady(port: UInt16, stderrLines shown: Int = 5, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ready = waitFor(60) { httpGet(port: port, path: "/readyz")?.status == 200 || wait(seconds: 0.001) != nil }
        try #require(ready && httpGet(port: port, path: "/readyz")?.status == 200,
                     "agent not ready: \(stderrLines.suffix(shown).joined(separator: "\n"))", sourceLocation: sourceLocation)
    }

    var stdoutLines: [String] { readLines(stdoutPath) }
    var stderrLines: [String] { readLines(stderrPath) }

    /// Waits for exit; returns the exit status (or -signal), nil on timeout.
    func wait(seconds: Double) -> Int32? {
        let end = Timestamp.monotonicNanoseconds() + UInt64(seconds * 1e9)
        var st: Int32 = 0
        while Timestamp.monotonicNanoseconds() < end {
            let r = waitpid(pid, &st, WNOHANG)
            if r == pid { return (st & 0x7f) == 0 ? (st >> 8) & 0xff : -(st & 0x7f) }
            Timestamp.sleep(milliseconds: 20)
        }
        return nil
    }

    func kill(_ sig: Int32) { _ = Glibc.kill(pid, sig) }
}

/// Runs a shell command and waits for it.
func shell(_ command: String) -> Int32 {
    var p: pid_t = 0
    let words: [String] = ["/bin/sh", "-c", command]
    let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    guard posix_spawn(&p, "/bin/sh", nil, nil, argv, environ) == 0 else { return -1 }
    var st: Int32 = 0
    waitpid(p, &st, 0)
    return (st >> 8) & 0xff
}

/// A free TCP port on 127.0.0.1 (bound, then released).
func freePort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &a) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return UInt16(bigEndian: a.sin_port)
}

@Suite(.serialized) struct RunCommandKernelTests {
    static var repoRoot: String { FilePaths.directory(of: FilePaths.directory(of: FilePaths.directory(of: #filePath))) }

    /// The `vigil` binary built next to the test bundle.
    static var binary: String? {
        var candidates: [String] = []
        if let exe = FilePaths.executablePath() {
            var dir = FilePaths.directory(of: exe)
            for _ in 0..<4 {  // the bundle may be nested (xctest/Contents/...)
                candidates.append(dir + "/vigil")
                dir = FilePaths.directory(of: dir)
            }
        }
        candidates.append(repoRoot + "/.build/debug/vigil")
        return candidates.first { FilePaths.isRegularFile($0) }
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func vigilRunAlertsOnShadowReadReloadsAndStopsCleanly() throws {
        let binary = try #require(Self.binary, "vigil binary not built (swift build)")
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let port = freePort()
        let vigil = try SpawnedVigil(binary: binary, args: SpawnedVigil.runArguments(port: port), dir: dir)
        var exited: Int32? = nil
        defer { if exited == nil { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) } }

        try vigil.requireReady(port: port)

        // The trigger: a shell runs cat on /etc/shadow (the bundled rules alert on it, host or container).
        #expect(shell("cat /etc/shadow > /dev/null") == 0)
        let alerted = waitFor(15) { vigil.stdoutLines.contains { $0.contains("\"rule\":\"Sensitive authentication file read\"") } }
        #expect(alerted, "no alert; stderr: \(vigil.stderrLines.suffix(5).joined(separator: "\n"))")
        // (This trigger's alert: other kernel tests may read /etc/shadow at the same time.)
        if let line = vigil.stdoutLines.first(where: { $0.contains("Sensitive authentication file read") && $0.contains("\"proc.name\":\"cat\"") }) {
            // Falco's JSON shape.
            for key in ["\"time\":\"", "\"rule\":", "\"priority\":\"Warning\"", "\"source\":\"syscall\"", "\"hostname\":\"",
                        "\"output\":\"", "\"tags\":[", "\"output_fields\":{", "\"fd.name\":\"/etc/shadow\"", "\"proc.name\":\"cat\""] {
                #expect(line.contains(key), "missing \(key) in \(line)")
            }
            #expect(line.hasPrefix("{") && line.hasSuffix("}"))
            #expect(!line.contains("\\n\",\"output_fields\""), "output text keeps the rule's trailing newline")
        }

        // Metrics over HTTP from the live agent.
        let m = parsePrometheus(httpGet(port: port, path: "/metrics")?.body ?? "")
        #expect((m["vigil_events_received_total{type=\"openat\"}"] ?? 0) > 0)
        #expect(m["vigil_kernel_drops_total{reason=\"ring_full\"}"] != nil)

        // SIGHUP reloads; then SIGTERM stops with the final stats line.
        vigil.kill(SIGHUP)
        #expect(waitFor(15) { vigil.stderrLines.contains { $0.contains("\"msg\":\"rules reloaded\"") } })
        vigil.kill(SIGTERM)
        exited = vigil.wait(seconds: 30)
        #expect(exited == 0)
        let last = vigil.stderrLines.last { $0.hasPrefix("{\"stats\":") } ?? ""
        #expect(last.contains("\"events_received\":{") && last.contains("\"kernel_drops\":") && last.contains("\"decode_errors\":0"))
        #expect(last.contains("\"reloads\":1"))
        // Alerts never go to stderr, logs never to stdout.
        #expect(!vigil.stderrLines.contains { $0.contains("\"rule\":\"Sensitive authentication file read\"") })
        #expect(vigil.stdoutLines.allSatisfy { $0.contains("\"rule\":") })
    }

    @Test func runReplaysACaptureFile() throws {
        let binary = try #require(Self.binary, "vigil binary not built (swift build)")
        let fx = Fixture(rules: shadowRule, config: "stdout_output: {enabled: true, format: json}\n")
        defer { fx.cleanup() }
        let writer = try CaptureFileWriter(path: fx.dir + "/events.vcap")
        for r in [Synth.exec(pid: 8000, ppid: 1, exe: "/bin/sh", argv: ["sh"], ts: 1_000),
                  Synth.exec(pid: 8001, ppid: 8000, exe: "/usr/bin/cat", argv: ["cat", "/etc/shadow"], ts: 2_000),
                  Synth.open(pid: 8001, path: "/etc/shadow", fd: 3, ts: 3_000)] {
            r.withUnsafeBytes { writer.write($0) }
        }
        writer.finish()
        let vigil = try SpawnedVigil(binary: binary, args: ["run", "-c", fx.dir + "/vigil.yaml", "-e", fx.dir + "/events.vcap"], dir: fx.dir)
        #expect(vigil.wait(seconds: 60) == 0)
        #expect(vigil.stdoutLines.count == 1)
        #expect(vigil.stdoutLines.first?.contains("\"rule\":\"Test shadow read\"") == true)
        let stats = vigil.stderrLines.last { $0.hasPrefix("{\"stats\":") } ?? ""
        #expect(stats.contains("\"execve\":2") && stats.contains("\"openat\":1") && stats.contains("\"alerts\":1"))
        // Nobody reading stdout: the sink counts the error, the agent still finishes cleanly.
        let broken = try SpawnedVigil(binary: binary, args: ["run", "-c", fx.dir + "/vigil.yaml", "-e", fx.dir + "/events.vcap"],
                                      dir: fx.dir, brokenStdout: true)
        #expect(broken.wait(seconds: 60) == 0)
        let brokenStats = broken.stderrLines.last { $0.hasPrefix("{\"stats\":") } ?? ""
        #expect(brokenStats.contains("\"stdout\":{\"sent\":0,\"errors\":1"), "\(brokenStats)")
        let missing = try SpawnedVigil(binary: binary, args: ["run", "-c", fx.dir + "/vigil.yaml", "-e", fx.dir + "/nope.vcap"], dir: fx.dir)
        #expect(missing.wait(seconds: 30) == 1)
        #expect(missing.stderrLines.contains { $0.contains("nope.vcap") })
    }

    @Test func runRejectsBadFlagsAndConfig() throws {
        let binary = try #require(Self.binary, "vigil binary not built (swift build)")
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let bad = try SpawnedVigil(binary: binary, args: ["run", "--frobnicate"], dir: dir)
        #expect(bad.wait(seconds: 10) == 2)
        #expect(bad.stderrLines.first?.contains("unknown option '--frobnicate'") == true)
        let badKey = try SpawnedVigil(binary: binary, args: ["run", "-c", Self.repoRoot + "/rules/vigil.yaml", "-o", "webserver.prot=1"], dir: dir)
        #expect(badKey.wait(seconds: 10) == 1)
        #expect(badKey.stderrLines.first?.contains("webserver.prot: unknown key") == true)
        let check = try SpawnedVigil(binary: binary, args: ["config", "check", "-c", Self.repoRoot + "/rules/vigil.yaml"], dir: dir)
        #expect(check.wait(seconds: 10) == 0)
        #expect(check.stdoutLines.contains("  listen_port: 8765"))
    }
}
