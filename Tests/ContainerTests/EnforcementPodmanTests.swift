import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Enforcement against a real container: the agent (the host binary) with an enforcing rule on
/// dropped binaries, and a podman container that copies a program into its own overlay upper layer
/// and runs it. The exec program must take the container for a container (its cgroup is podman's
/// `libpod-<id>` on this host) and kill the copy before it runs.
extension ContainerRuntimeTests {
@Suite struct EnforcementPodmanTests {
    static let rule = "Container test dropped binary"

    @Test func droppedBinaryInAPodmanContainerIsKilledAtExec() throws {
        guard CT.preconditions(["podman", "runc"]) else { return }
        let binary = CT.path(".build/debug/vigil")
        guard CT.require(FileManager.default.isExecutableFile(atPath: binary), "\(binary) not built (swift build)") else { return }
        let dir = CT.scratch + "/enforce-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        - rule: \(Self.rule)
          desc: a program written into a container and run from its upper layer
          condition: >
            evt.type in (execve, execveat) and container.id != host and proc.is_exe_upper_layer = true
            and proc.name = vigil-dropped
          output: dropped binary run (file=%proc.exepath container=%container.id)
          priority: CRITICAL

        """.write(toFile: dir + "/rules.yaml", atomically: true, encoding: .utf8)
        try """
        rules_files: [\(dir)/rules.yaml]
        watch_config_files: false
        stdout_output: {enabled: true, format: json}
        webserver: {listen_address: 127.0.0.1, listen_port: 0}
        enforcement:
          mode: enforce
          rules:
            - enable: {rule: \(Self.rule)}

        """.write(toFile: dir + "/vigil.yaml", atomically: true, encoding: .utf8)
        let log = dir + "/agent.log"
        let agent = try CT.spawn([binary, "run", "-c", dir + "/vigil.yaml"], stdout: log, stderr: log)
        defer { kill(agent, SIGTERM); _ = CT.wait(agent) }
        let text = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        let running = CT.waitFor(60) { AlertLog.isRunning(text()) ? true : nil }
        try #require(running == true, "the agent did not start: \(text().suffix(3000))")
        #expect(text().contains("rule '\(Self.rule)': kernel at exec"), "the rule should compile into the exec program: \(text().suffix(2000))")

        // The copy is killed by SIGKILL at exec (the shell sees 128 + 9); busybox never runs.
        let name = "vigil-ct-enforce-\(UInt32.random(in: 0...UInt32.max))"
        let idFile = dir + "/\(name).id"
        let r = try CT.must(["podman", "run", "--rm", "--name", name, "--cidfile", idFile] + PodmanTests.hostWorkarounds
                            + [CT.workloadImage, "sh", "-c", "cp /bin/busybox /tmp/vigil-dropped && /tmp/vigil-dropped true; echo status=$?"])
        #expect(r.stdout.contains("status=137"), "the dropped binary was not killed: \(r.output)")
        let short = String(try String(contentsOfFile: idFile, encoding: .utf8).prefix(12))
        let alert = CT.waitFor(30) { AlertLog.alert(in: text(), rule: Self.rule, containerID: short) }
        let a = try #require(alert, "no '\(Self.rule)' alert for container \(short): \(text().suffix(3000))")
        #expect(a.string("vigil.action_result") == "killed")
        #expect(a.string("vigil.action_path") == "kernel")
    }
}
}
