import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The image under podman, for single-host users, with the DaemonSet's privileges (the `podman run`
/// line of deploy/README.md), and podman's own containers attributed from podman's state.
extension ContainerRuntimeTests {
@Suite struct PodmanTests {
    static let rule = "Sensitive authentication file read"
    /// This machine's needs, not Vigil's: crun refuses hybrid cgroup hierarchies, and without
    /// CAP_SYS_RESOURCE podman's default rlimits (nofile 1048576) cannot be set.
    static let hostWorkarounds = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

    /// The agent's privileges as podman flags, from the DaemonSet (deploy/README.md shows the same line).
    static func agentFlags(_ spec: DaemonSetSpec, seccompProfile: String?) throws -> [String] {
        #expect(spec.capabilitiesDrop == ["ALL"])
        var f = ["--cap-drop", "ALL", "--cap-add", spec.capabilitiesAdd.joined(separator: ",")]
        if spec.hostPID { f += ["--pid", "host"] }
        // --read-only-tmpfs=false: podman would otherwise mount writable tmpfs on /tmp and /run.
        if spec.readOnlyRootFilesystem { f += ["--read-only", "--read-only-tmpfs=false"] }
        if !spec.allowPrivilegeEscalation { f += ["--security-opt", "no-new-privileges"] }
        if let p = seccompProfile { f += ["--security-opt", "seccomp=" + p] }
        if let m = spec.memoryLimitBytes { f += ["--memory", m % (1 << 20) == 0 ? "\(m >> 20)m" : String(m)] }
        for m in spec.hostMounts where m.hostPath != "/run/containerd/io.containerd.runtime.v2.task" {
            // podman's own state is what a single host needs; containerd's is optional (README).
            f += ["-v", "\(m.hostPath):\(m.mountPath)" + (m.readOnly ? ":ro" : "")]
        }
        return f
    }

    static func derivedProfile() throws -> String {
        let dir = CT.scratch + "/podman"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try CT.must(["python3", CT.path("deploy/seccomp/derive.py")])
        let path = dir + "/vigil-seccomp.json"
        try r.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// podman's default seccomp profile (containers-common, also CRI-O's) denies bpf() and
    /// perf_event_open() to a container without CAP_SYS_ADMIN: the agent cannot load there, which is
    /// why deploy/seccomp/derive.py exists. If this starts passing, the README can drop the profile.
    @Test func defaultSeccompProfileBlocksBPF() throws {
        guard CT.preconditions(["podman", "runc"]) else { return }
        let spec = try DaemonSetSpec.load()
        let name = "vigil-ct-default-\(UInt32.random(in: 0...UInt32.max))"
        try CT.must(["podman", "run", "--detach", "--name", name] + Self.hostWorkarounds
                    + (try Self.agentFlags(spec, seccompProfile: nil)) + [CT.image])
        defer { _ = try? CT.run(["podman", "rm", "--force", "--time", "2", name]) }
        let exited = try CT.waitFor(60) { () throws -> Int32? in
            let r = try CT.run(["podman", "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name])
            let f = r.stdout.split(separator: " ")
            guard f.count == 2, f[0] == "false" else { return nil }
            return Int32(f[1].trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let logs = try CT.run(["podman", "logs", name]).output
        let code = try #require(exited, "the agent kept running under podman's default seccomp profile: update deploy/README.md; log: \(logs.suffix(1500))")
        #expect(code != 0)
        // libbpf's first bpf() call (its probe program) is refused with EPERM.
        #expect(logs.contains("Operation not permitted") && logs.contains("Couldn't load trivial BPF program"),
                "the agent failed for another reason: \(logs.suffix(1500))")
        #expect(!AlertLog.isRunning(logs))
    }

    /// With deploy/seccomp/derive.py's profile (podman's default plus bpf with CAP_BPF and
    /// perf_event_open with CAP_PERFMON) the agent runs with exactly the DaemonSet's privileges and
    /// attributes a podman container that lives a few milliseconds (`podman run --rm`).
    @Test func derivedProfileRunsTheAgentAndAttributesAShortLivedPodmanContainer() throws {
        guard CT.preconditions(["podman", "runc", "python3"]) else { return }
        let spec = try DaemonSetSpec.load()
        let profile = try Self.derivedProfile()
        let name = "vigil-ct-agent-\(UInt32.random(in: 0...UInt32.max))"
        try CT.must(["podman", "run", "--detach", "--name", name] + Self.hostWorkarounds
                    + (try Self.agentFlags(spec, seccompProfile: profile)) + [CT.image])
        defer { _ = try? CT.run(["podman", "rm", "--force", "--time", "5", name]) }
        let logs = { (try? CT.run(["podman", "logs", name]).output) ?? "" }
        let running = CT.waitFor(90) { AlertLog.isRunning(logs()) ? true : nil }
        try #require(running == true, "the agent did not start under podman with the derived profile: \(logs().suffix(3000))")

        let pidText = try CT.must(["podman", "inspect", "--format", "{{.State.Pid}}", name]).stdout
        let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        let status = CT.procStatus(pid)
        let mask = try spec.expectedCapabilityMask()
        #expect(status["CapEff"].flatMap { UInt64($0, radix: 16) } == mask, "CapEff \(status["CapEff"] ?? "?")")
        #expect(status["CapBnd"].flatMap { UInt64($0, radix: 16) } == mask, "CapBnd \(status["CapBnd"] ?? "?")")
        #expect(status["NoNewPrivs"] == "1")
        #expect(status["Seccomp"] == "2", "no seccomp filter")
        #expect(CT.rootIsReadOnly(pid) == true)

        let events = try BackgroundCommand(["podman", "events", "--format", "{{.Time}} {{.Status}} {{.ID}}"],
                                           output: CT.scratch + "/podman/events.log")
        defer { events.stop() }
        usleep(300_000) // let `podman events` open its event file before the container starts
        let workload = "shadow-reader-\(UInt32.random(in: 0...UInt32.max))"
        let idFile = CT.scratch + "/podman/\(workload).id"
        try CT.must(["podman", "run", "--rm", "--name", workload, "--cidfile", idFile] + Self.hostWorkarounds
                    + [CT.workloadImage, "cat", "/etc/shadow"])
        defer { try? FileManager.default.removeItem(atPath: idFile) }
        let fullID = try String(contentsOfFile: idFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let short = String(fullID.prefix(12))
        let (repository, tag) = try splitImage(CT.workloadImage)

        let alert = CT.waitFor(30) { AlertLog.alert(in: logs(), rule: Self.rule, containerID: short) }
        let a = try #require(alert, "no '\(Self.rule)' alert for podman container \(short): \(logs().suffix(3000))")
        #expect(a.string("container.name") == workload)
        #expect(a.string("container.image.repository") == repository)
        #expect(a.string("container.image.tag") == tag)

        // Lifetime upper bound: podman's `init` (runtime created the container) to `died`.
        let lived = CT.waitFor(10) { () -> UInt64? in
            let t = events.text
            guard let created = EventTimes.time(in: t, containing: [" init ", fullID]),
                  let died = EventTimes.time(in: t, containing: [" died ", fullID]) else { return nil }
            return died &- created
        }
        let ns = try #require(lived, "podman reported no init/died events for \(short): \(events.text.suffix(1500))")
        #expect(ns < 100_000_000, "the workload container lived \(ns / 1_000_000) ms")
        print("podman workload \(short): init to died \(Double(ns) / 1e6) ms; alert attributed")
    }
}
}
