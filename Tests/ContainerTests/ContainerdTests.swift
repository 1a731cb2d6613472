import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The image under containerd, as a DaemonSet runs it: `ctr` in the k8s.io namespace with the
/// DaemonSet's securityContext translated from the manifest (capabilities, read-only root, host
/// PID, no privilege escalation, the memory limit, the read-only host mounts, and the seccomp
/// profile it names), in a kubelet-style cgroup. A workload container started the way the CRI
/// plugin starts one (kubelet cgroup parent, CRI annotations) reads /etc/shadow and exits within
/// milliseconds; the agent's alert must carry that container's id, name, image, pod and namespace.
extension ContainerRuntimeTests {
@Suite struct ContainerdTests {
    static let rule = "Sensitive authentication file read"

    @Test func daemonSetPrivilegesUnderContainerdAttributeAShortLivedPodContainer() throws {
        guard CT.preconditions(["containerd", "ctr", "runc", "podman"]) else { return }
        let spec = try DaemonSetSpec.load()
        let containerd = PrivateContainerd()
        try containerd.start()
        defer { containerd.stop() }
        try containerd.importImage(CT.image)
        try containerd.importImage(CT.workloadImage)

        // The agent: the DaemonSet's pod spec, translated flag by flag.
        let agentID = CT.randomID()
        let agentPod = UUID().uuidString.lowercased()
        let agentLog = containerd.dir + "/agent-\(agentID.prefix(12)).log"
        try? FileManager.default.removeItem(atPath: agentLog)
        var run = ["run", "--detach", "--log-uri", "file://" + agentLog, "--pid-file", containerd.dir + "/agent.pid",
                   // requests cpu+memory, limits memory only: the Burstable QoS class.
                   "--cgroup", "/kubepods/burstable/pod\(agentPod)/\(agentID)",
                   "--annotation", "io.kubernetes.cri.container-type=container",
                   "--annotation", "io.kubernetes.cri.container-name=vigil",
                   "--annotation", "io.kubernetes.cri.sandbox-name=vigil-ct",
                   "--annotation", "io.kubernetes.cri.sandbox-namespace=vigil",
                   "--annotation", "io.kubernetes.cri.sandbox-uid=\(agentPod)"]
        switch spec.seccompType {
        case "RuntimeDefault": run += ["--seccomp"] // what the CRI plugin applies for RuntimeDefault
        case "Localhost":
            let profile = try #require(spec.seccompLocalhostProfile, "Localhost seccomp without localhostProfile")
            run += ["--seccomp", "--seccomp-profile", CT.path("deploy/seccomp/" + profile)]
        default: Issue.record("the DaemonSet's seccomp profile is \(spec.seccompType): the agent must run under a filtering profile")
        }
        #expect(spec.capabilitiesDrop == ["ALL"])
        // drop: [ALL] as the CRI plugin does it (ctr's --cap-drop takes no ALL): every capability not added.
        let dropped = DaemonSetSpec.capabilityNumbers.keys.sorted().filter { !spec.capabilitiesAdd.contains($0) }
        run += dropped.flatMap { ["--cap-drop", "CAP_" + $0] } + spec.capabilitiesAdd.flatMap { ["--cap-add", "CAP_" + $0] }
        #expect(spec.hostPID, "the DaemonSet no longer asks for hostPID")
        if spec.hostPID { run += ["--with-ns", "pid:/proc/self/ns/pid"] } // runc resolves /proc/self: the host's PID namespace
        #expect(!spec.hostNetwork)
        #expect(!spec.privileged)
        if spec.readOnlyRootFilesystem { run += ["--read-only"] }
        if spec.allowPrivilegeEscalation { run += ["--allow-new-privs"] } // ctr sets no_new_privs unless told otherwise
        if let m = spec.memoryLimitBytes { run += ["--memory-limit", String(m)] }
        for m in spec.hostMounts {
            // containerd's task directory is this containerd's; every other host path is the host's.
            var source = m.hostPath
            if source == "/run/containerd/io.containerd.runtime.v2.task" { source = containerd.taskRoot }
            // `type: ""` hostPath: the CRI plugin creates a missing source directory.
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            run += ["--mount", "type=bind,src=\(source),dst=\(m.mountPath),options=rbind:\(m.readOnly ? "ro" : "rw")"]
        }
        for (k, v) in spec.env.sorted(by: { $0.key < $1.key }) { run += ["--env", "\(k)=\(v)"] }
        run += [CT.image, agentID, "/usr/bin/vigil"] + spec.args
        try CT.must(containerd.ctr(run))
        defer { containerd.remove(agentID) }
        let log = { (try? String(contentsOfFile: agentLog, encoding: .utf8)) ?? "" }
        let running = CT.waitFor(90) { AlertLog.isRunning(log()) ? true : nil }
        try #require(running == true, "the agent did not start under containerd: \(log().suffix(3000))")

        // It runs with exactly what the DaemonSet grants, seccomp filter in force.
        let pidText = try String(contentsOfFile: containerd.dir + "/agent.pid", encoding: .utf8)
        let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        let status = CT.procStatus(pid)
        let mask = try spec.expectedCapabilityMask()
        #expect(status["CapEff"].flatMap { UInt64($0, radix: 16) } == mask, "CapEff \(status["CapEff"] ?? "?"), expected \(String(mask, radix: 16))")
        #expect(status["CapBnd"].flatMap { UInt64($0, radix: 16) } == mask, "CapBnd \(status["CapBnd"] ?? "?")")
        #expect(status["NoNewPrivs"] == (spec.allowPrivilegeEscalation ? "0" : "1"))
        if spec.seccompType != "Unconfined" { #expect(status["Seccomp"] == "2", "seccomp mode \(status["Seccomp"] ?? "?"): no filter") }
        #expect(CT.rootIsReadOnly(pid) == spec.readOnlyRootFilesystem)
        #expect(log().contains("BPF programs attached"))

        // A workload container as the CRI plugin starts one, living a few milliseconds.
        let events = try BackgroundCommand(containerd.ctr(["events"]), output: containerd.dir + "/events.log")
        defer { events.stop() }
        let podUID = UUID().uuidString.lowercased()
        let workloadID = CT.randomID()
        let (repository, tag) = try splitImage(CT.workloadImage)
        try CT.must(containerd.ctr([
            "run", "--rm", "--cgroup", "/kubepods/besteffort/pod\(podUID)/\(workloadID)",
            "--annotation", "io.kubernetes.cri.container-type=container",
            "--annotation", "io.kubernetes.cri.container-name=shadow-reader",
            "--annotation", "io.kubernetes.cri.image-name=\(CT.workloadImage)",
            "--annotation", "io.kubernetes.cri.sandbox-name=reader-7d4b9",
            "--annotation", "io.kubernetes.cri.sandbox-namespace=team-a",
            "--annotation", "io.kubernetes.cri.sandbox-uid=\(podUID)",
            "--annotation", "io.kubernetes.cri.sandbox-id=\(CT.randomID())",
            CT.workloadImage, workloadID, "cat", "/etc/shadow"]))

        let short = String(workloadID.prefix(12))
        let alert = CT.waitFor(30) { AlertLog.alert(in: log(), rule: Self.rule, containerID: short) }
        let a = try #require(alert, "no '\(Self.rule)' alert for container \(short); agent log: \(log().suffix(3000))")
        #expect(a.string("container.name") == "shadow-reader")
        #expect(a.string("container.image.repository") == repository)
        #expect(a.string("container.image.tag") == tag)
        #expect(a.string("k8s.pod.name") == "reader-7d4b9")
        #expect(a.string("k8s.ns.name") == "team-a")

        // The container lived less than 100 ms: from task creation to exit, as containerd reports them.
        let lived = CT.waitFor(10) { () -> UInt64? in
            let t = events.text
            guard let created = EventTimes.time(in: t, containing: ["/tasks/create", "\"container_id\":\"\(workloadID)\""]),
                  let exited = EventTimes.time(in: t, containing: ["/tasks/exit", "\"container_id\":\"\(workloadID)\""]) else { return nil }
            return exited &- created
        }
        let ns = try #require(lived, "containerd reported no create/exit events for \(short): \(events.text.suffix(1500))")
        #expect(ns < 100_000_000, "the workload container lived \(ns / 1_000_000) ms")
        print("containerd workload \(short): task create to exit \(Double(ns) / 1e6) ms; alert attributed")
    }
}
}

/// `localhost/a/b:tag` -> (`localhost/a/b`, `tag`).
func splitImage(_ image: String) throws -> (String, String) {
    guard let colon = image.lastIndex(of: ":"), !image[colon...].contains("/") else { throw ContainerTestError("\(image): no tag") }
    return (String(image[..<colon]), String(image[image.index(after: colon)...]))
}
