#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import VigilAgent
import VigilCore

/// A simulated pod for enforcement tests: an overlay mount (a binary written through it lands
/// on the upper layer, as one dropped into a running container) and kubelet-named cgroups
/// (`kubepods.slice/.../cri-containerd-<id>.scope`), plus plain binaries for the host-side cases.
/// Every rule of these tests is scoped to this directory, so nothing else on the machine is touched.
final class EnforcementSandbox {
    let dir: String
    let cgroupRoot: String
    let cgroupBase: String
    let containerCgroup: String
    /// CRI-O's monitor beside the container, in the same pod: a host process (`crio-conmon-<id>.scope`).
    let conmonCgroup: String
    /// Docker's scope outside Kubernetes (`system.slice/docker-<id>.scope`): a container.
    let dockerCgroup: String
    /// The cgroupfs driver's bare id under a pod (`kubepods/besteffort/pod<uid>/<id>`): a container
    /// only by its parents, which the kernel leaves to user space.
    let cgroupfsCgroup: String
    /// A 200-byte directory name: exe paths of more than 63 bytes (the kernel compares up to 255).
    let longDir: String
    private var cgroups: [String] = []
    private var mounted = false

    init() throws {
        dir = "/tmp/vigil-enf-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        longDir = dir + "/long/" + String(repeating: "l", count: 200)
        for d in ["", "/lower", "/upper", "/work", "/merged", "/bin", "/never", "/out", "/rules", "/hostonly", "/long", String(longDir.dropFirst(dir.count))] {
            guard mkdir(dir + d, 0o755) == 0 else { throw AgentError("mkdir \(dir + d): \(errno)") }
        }
        let opts = "lowerdir=\(dir)/lower,upperdir=\(dir)/upper,workdir=\(dir)/work"
        guard mount("overlay", dir + "/merged", "overlay", 0, opts) == 0 else { throw AgentError("cannot mount overlay: \(errno)") }
        mounted = true
        cgroupRoot = try Self.unifiedRoot()
        cgroupBase = "vigil-enf-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let id = (0..<64).map { _ in "0123456789abcdef".randomElement()! }.map(String.init).joined()
        let uid = "1234abcd_0000_4000_8000_\(String(UInt64.random(in: 0...0xffff_ffff_ffff), radix: 16))"
        containerCgroup = cgroupBase + "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(uid).slice/cri-containerd-\(id).scope"
        conmonCgroup = (containerCgroup.split(separator: "/").dropLast() + ["crio-conmon-\(id).scope"]).joined(separator: "/")
        var cur = ""
        for c in containerCgroup.split(separator: "/") {
            cur += (cur.isEmpty ? "" : "/") + c
            guard mkdir(cgroupRoot + "/" + cur, 0o755) == 0 || errno == EEXIST else { throw AgentError("mkdir cgroup \(cur): \(errno)") }
            cgroups.append(cur)
        }
        guard mkdir(cgroupRoot + "/" + conmonCgroup, 0o755) == 0 else { throw AgentError("mkdir cgroup \(conmonCgroup): \(errno)") }
        cgroups.append(conmonCgroup)
        let id2 = String(id.reversed())
        dockerCgroup = cgroupBase + "/system.slice/docker-\(id2).scope"
        cgroupfsCgroup = cgroupBase + "/kubepods/besteffort/pod1234abcd-0000-4000-8000-\(String(UInt64.random(in: 0x1000_0000_0000...0xffff_ffff_ffff), radix: 16))/\(id2)"
        for path in [dockerCgroup, cgroupfsCgroup] {
            var cur = cgroupBase
            for c in path.dropFirst(cgroupBase.count + 1).split(separator: "/") {
                cur += "/" + c
                guard mkdir(cgroupRoot + "/" + cur, 0o755) == 0 || errno == EEXIST else { throw AgentError("mkdir cgroup \(cur): \(errno)") }
                if !cgroups.contains(cur) { cgroups.append(cur) }
            }
        }
        // The dropped binary: /bin/touch written through the overlay (upper layer).
        try Self.copy("/bin/touch", to: dir + "/merged/dropped")
        try Self.copy("/bin/sleep", to: dir + "/merged/sleeper")
        // Host binaries: a bash copy for the reverse shell, a sleep named like the kubelet.
        try Self.copy("/bin/bash", to: dir + "/bin/revsh")
        try Self.copy("/bin/bash", to: dir + "/bin/crio")
        try Self.copy("/bin/sleep", to: dir + "/never/kubelet")
        // A host-only program and one at a long path (both write the marker given as argument).
        try Self.copy("/bin/touch", to: dir + "/hostonly/prog")
        try Self.copy("/bin/touch", to: longDir + "/prog")
    }

    static func unifiedRoot() throws -> String {
        guard let text = FilePaths.readText("/proc/self/mountinfo") else { throw AgentError("no mountinfo") }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if let dash = parts.firstIndex(of: "-"), dash + 1 < parts.count, parts[dash + 1] == "cgroup2" { return String(parts[4]) }
        }
        throw AgentError("no cgroup v2 hierarchy")
    }

    static func copy(_ from: String, to: String) throws {
        let src = open(from, O_RDONLY)
        guard src >= 0 else { throw AgentError("cannot read \(from)") }
        defer { close(src) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(src, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data += chunk[0..<n]
        }
        let fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
        guard fd >= 0 else { throw AgentError("cannot create \(to): \(errno)") }
        defer { close(fd) }
        var off = 0
        while off < data.count {
            let n = data[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw AgentError("write \(to): \(errno)") }
            off += n
        }
    }

    /// Runs `/bin/sh -c script`, in the simulated container's cgroup when `inPod` (or in `cgroup`);
    /// returns the exit status, or minus the signal that ended the process.
    func run(_ script: String, inPod: Bool = false, cgroup: String? = nil, timeout: Double = 20) -> Int32 {
        let cg = cgroup ?? (inPod ? containerCgroup : nil)
        let full = cg.map { "echo $$ > '\(cgroupRoot)/\($0)/cgroup.procs' || exit 97; \(script)" } ?? script
        let words: [String] = ["/bin/sh", "-c", full]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var p: pid_t = 0
        guard posix_spawn(&p, "/bin/sh", nil, nil, argv, environ) == 0 else { return -1000 }
        let end = Timestamp.monotonicNanoseconds() + UInt64(timeout * 1e9)
        var st: Int32 = 0
        while Timestamp.monotonicNanoseconds() < end {
            if waitpid(p, &st, WNOHANG) == p { return (st & 0x7f) == 0 ? (st >> 8) & 0xff : -(st & 0x7f) }
            Timestamp.sleep(milliseconds: 5)
        }
        Glibc.kill(p, SIGKILL); waitpid(p, &st, 0)
        return -1001
    }

    /// The test rules: every one scoped to this sandbox.
    var rules: String {
        """
        - rule: Enforce test dropped binary
          desc: a binary on the overlay upper layer of a container is executed
          condition: >
            evt.type in (execve, execveat) and container.id != host and proc.is_exe_upper_layer = true
            and proc.exepath startswith \(dir)/merged/
          output: dropped binary run (file=%proc.exepath pid=%proc.pid container=%container.id)
          priority: CRITICAL
          tags: [vigil_enforce_test]
        - rule: Enforce test kubelet-named program
          desc: a program named like the kubelet runs from the sandbox (the never-list protects it)
          condition: evt.type in (execve, execveat) and proc.exepath startswith \(dir)/never/
          output: kubelet-named program run (file=%proc.exepath pid=%proc.pid)
          priority: WARNING
          tags: [vigil_enforce_test]
        - rule: Enforce test reverse shell
          desc: a shell from the sandbox connects to a socket
          condition: evt.type = connect and proc.exepath in (\(dir)/bin/revsh, \(dir)/bin/crio)
          output: reverse shell connects (pid=%proc.pid exe=%proc.exepath)
          priority: CRITICAL
          tags: [vigil_enforce_test]
        - rule: Enforce test host only
          desc: a program of the sandbox runs on the host (not in a container)
          condition: evt.type in (execve, execveat) and container.id = host and proc.exepath startswith \(dir)/hostonly/
          output: host-only program run (file=%proc.exepath pid=%proc.pid)
          priority: WARNING
          tags: [vigil_enforce_test]
        - rule: Enforce test long path
          desc: a program at an exe path of more than 200 bytes runs
          condition: evt.type in (execve, execveat) and proc.exepath = \(longDir)/prog
          output: long-path program run (pid=%proc.pid)
          priority: WARNING
          tags: [vigil_enforce_test]
        - rule: Enforce test self probe
          desc: a file of the sandbox is opened (Vigil itself opens it on reload)
          condition: evt.type in (open, openat, openat2) and fd.name startswith \(dir)/rules/probe
          output: probe opened (pid=%proc.pid process=%proc.name)
          priority: WARNING
          tags: [vigil_enforce_test]

        """
    }

    func cleanup() {
        if mounted { umount2(dir + "/merged", 2) }
        for c in cgroups.reversed() {
            for _ in 0..<100 { if rmdir(cgroupRoot + "/" + c) == 0 || errno == ENOENT { break }; usleep(20_000) }
        }
        removeTree(dir)
    }
}

/// A TCP listener on 127.0.0.1 (connections complete in the backlog; nobody accepts).
final class Listener {
    let fd: Int32
    let port: UInt16
    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &a) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listen(fd, 16)
        port = UInt16(bigEndian: a.sin_port)
    }
    deinit { close(fd) }
}

@Suite(.serialized) struct EnforcementKernelTests {
    static func startVigil(_ sb: EnforcementSandbox, mode: String, port: UInt16, extra: [String] = [],
                           enforcementExtra: String = "") throws -> SpawnedVigil {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        writeFile(sb.dir + "/rules/rules.yaml", sb.rules)
        writeFile(sb.dir + "/rules/probe.yaml", "[]\n")
        writeFile(sb.dir + "/vigil.yaml", """
            rules_files: [rules/rules.yaml, rules/probe.yaml]
            watch_config_files: false
            stdout_output: {enabled: true, format: json}
            webserver: {listen_address: 127.0.0.1, listen_port: \(port)}
            flood_control: {fold: {enabled: false}}
            engine: {modern_ebpf: {ignore_self: false}}
            enforcement:
              mode: \(mode)
              rules:
                - enable: {tag: vigil_enforce_test}
            \(enforcementExtra)
            """)
        let vigil = try SpawnedVigil(binary: binary, args: ["run", "-c", sb.dir + "/vigil.yaml"] + extra, dir: sb.dir + "/out")
        try vigil.requireReady(port: port, stderrLines: 8)
        return vigil
    }

    /// The JSON alert lines of `rule` (stdout).
    static func alerts(_ v: SpawnedVigil, _ rule: String) -> [String] {
        v.stdoutLines.filter { $0.contains("\"rule\":\"\(rule)\"") }
    }

    static func field(_ line: String, _ key: String) -> String? {
        guard let r = line.range(of: "\"\(key)\":") else { return nil }
        var rest = line[r.upperBound...]
        if rest.first == "\"" {
            rest = rest.dropFirst()
            return String(rest.prefix { $0 != "\"" })
        }
        return String(rest.prefix { $0 != "," && $0 != "}" })
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root for BPF, overlayfs and cgroups (set VIGIL_CI=1 to force)"))
    func enforceKillsInTheKernelAndFromUserSpaceAndRefusesProtectedProcesses() throws {
        let sb = try EnforcementSandbox()
        defer { sb.cleanup() }
        let port = freePort()
        let vigil = try Self.startVigil(sb, mode: "enforce", port: port)
        defer { vigil.kill(SIGTERM); if vigil.wait(seconds: 20) == nil { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) } }
        #expect(vigil.stderrLines.contains { $0.contains("rule 'Enforce test dropped binary': kernel at exec") },
                "the dropped-binary rule should compile into the exec program")
        #expect(vigil.stderrLines.contains { $0.contains("rule 'Enforce test reverse shell': user space") })

        // 1. Dropped binary in the simulated pod: killed at exec, its marker never written.
        let marker = sb.dir + "/out/dropped-ran"
        let st = sb.run("exec \(sb.dir)/merged/dropped \(marker)", inPod: true)
        #expect(st == -SIGKILL, "dropped binary exit status \(st)")
        #expect(waitFor(15) { !Self.alerts(vigil, "Enforce test dropped binary").isEmpty })
        let drop = Self.alerts(vigil, "Enforce test dropped binary").first ?? ""
        #expect(Self.field(drop, "vigil.action") == "kill")
        #expect(Self.field(drop, "vigil.action_result") == "killed", "\(drop)")
        #expect(Self.field(drop, "vigil.action_path") == "kernel", "\(drop)")
        #expect(access(marker, F_OK) != 0, "the dropped binary ran: its marker exists")

        // 2. Reverse shell (user-space rule on connect): killed before it writes its marker.
        let listener = Listener()
        let shellMarker = sb.dir + "/out/revsh-ran"
        let rs = sb.run("exec \(sb.dir)/bin/revsh -c 'exec 3<>/dev/tcp/127.0.0.1/\(listener.port); sleep 3; touch \(shellMarker)'")
        #expect(rs == -SIGKILL, "reverse shell exit status \(rs)")
        #expect(waitFor(15) { !Self.alerts(vigil, "Enforce test reverse shell").isEmpty })
        let rev = Self.alerts(vigil, "Enforce test reverse shell").first ?? ""
        #expect(Self.field(rev, "vigil.action_result") == "killed", "\(rev)")
        #expect(Self.field(rev, "vigil.action_path") == "user-space")
        let latency = Self.field(rev, "vigil.action_latency_us").flatMap { UInt64($0) }
        #expect(latency != nil, "no latency in \(rev)")
        print("user-space kill latency (syscall exit to pidfd_send_signal): \(latency ?? 0) us")
        #expect(access(shellMarker, F_OK) != 0)

        // 3. Never-list: the kernel refuses a program named like the kubelet; user space refuses `crio`.
        #expect(sb.run("exec \(sb.dir)/never/kubelet 0.05") == 0)
        #expect(waitFor(15) { !Self.alerts(vigil, "Enforce test kubelet-named program").isEmpty })
        let nev = Self.alerts(vigil, "Enforce test kubelet-named program").first ?? ""
        #expect(Self.field(nev, "vigil.action_result") == "refused: never-list", "\(nev)")
        #expect(Self.field(nev, "vigil.action_path") == "kernel")
        // Through a symlink of another name (comm "runme"): the kernel refuses by the exe's file name.
        #expect(symlink(sb.dir + "/never/kubelet", sb.dir + "/bin/runme") == 0)
        #expect(sb.run("exec \(sb.dir)/bin/runme 0.05") == 0)
        #expect(waitFor(15) { Self.alerts(vigil, "Enforce test kubelet-named program").count >= 2 })
        let viaLink = Self.alerts(vigil, "Enforce test kubelet-named program").last ?? ""
        #expect(Self.field(viaLink, "vigil.action_result") == "refused: never-list", "\(viaLink)")
        #expect(sb.run("exec \(sb.dir)/bin/crio -c 'exec 3<>/dev/tcp/127.0.0.1/\(listener.port); exit 0'") == 0)
        #expect(waitFor(15) { Self.alerts(vigil, "Enforce test reverse shell").contains { $0.contains("refused: never-list (crio)") } })

        // 4. Vigil itself: it opens the probe file on reload (engine.modern_ebpf.ignore_self is off); refused.
        vigil.kill(SIGHUP)
        #expect(waitFor(20) { !Self.alerts(vigil, "Enforce test self probe").isEmpty })
        let me = Self.alerts(vigil, "Enforce test self probe").first ?? ""
        #expect(Self.field(me, "vigil.action_result") == "refused: vigil or its parent", "\(me)")
        #expect(vigil.wait(seconds: 0.001) == nil, "vigil killed itself")

        // Every outcome is a metric.
        let m = parsePrometheus(httpGet(port: port, path: "/metrics")?.body ?? "")
        #expect((m["vigil_enforcement_actions_total{rule=\"Enforce test dropped binary\",action=\"kill\",result=\"killed\"}"] ?? 0) >= 1)
        #expect((m["vigil_enforcement_actions_total{rule=\"Enforce test reverse shell\",action=\"kill\",result=\"killed\"}"] ?? 0) >= 1)
        #expect((m["vigil_enforcement_actions_total{rule=\"Enforce test reverse shell\",action=\"kill\",result=\"refused\"}"] ?? 0) >= 1)
        #expect((m["vigil_enforcement_actions_total{rule=\"Enforce test self probe\",action=\"kill\",result=\"refused\"}"] ?? 0) >= 1)
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root for BPF, overlayfs and cgroups (set VIGIL_CI=1 to force)"))
    func dryRunLetsEverythingRunAndSaysWouldKill() throws {
        let sb = try EnforcementSandbox()
        defer { sb.cleanup() }
        let port = freePort()
        let vigil = try Self.startVigil(sb, mode: "dry-run", port: port)
        defer { vigil.kill(SIGTERM); if vigil.wait(seconds: 20) == nil { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) } }
        // Each runs to completion; a try during which the kernel lost events is done again (actUntilAlerted).
        let marker = sb.dir + "/out/dropped-ran"
        let dropped = actUntilAlerted(port: port, act: {
            unlink(marker)
            return sb.run("exec \(sb.dir)/merged/dropped \(marker)", inPod: true) == 0 && access(marker, F_OK) == 0
        }) { !Self.alerts(vigil, "Enforce test dropped binary").isEmpty }
        #expect(dropped == nil, "dropped binary: \(dropped ?? "")")
        let listener = Listener()
        let shellMarker = sb.dir + "/out/revsh-ran"
        let shell = actUntilAlerted(port: port, act: {
            unlink(shellMarker)
            return sb.run("exec \(sb.dir)/bin/revsh -c 'exec 3<>/dev/tcp/127.0.0.1/\(listener.port); touch \(shellMarker)'") == 0
                && access(shellMarker, F_OK) == 0
        }) { !Self.alerts(vigil, "Enforce test reverse shell").isEmpty }
        #expect(shell == nil, "reverse shell: \(shell ?? "")")
        let drop = Self.alerts(vigil, "Enforce test dropped binary").first ?? ""
        #expect(Self.field(drop, "vigil.action_result") == "would-kill", "\(drop)")
        #expect(Self.field(drop, "vigil.action_path") == "kernel")
        let rev = Self.alerts(vigil, "Enforce test reverse shell").first ?? ""
        #expect(Self.field(rev, "vigil.action_result") == "would-kill", "\(rev)")
        let m = parsePrometheus(httpGet(port: port, path: "/metrics")?.body ?? "")
        #expect((m["vigil_enforcement_actions_total{rule=\"Enforce test dropped binary\",action=\"kill\",result=\"would-kill\"}"] ?? 0) >= 1)
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root for BPF, overlayfs and cgroups (set VIGIL_CI=1 to force)"))
    func reloadTurnsEnforcementOnAndOffWithoutRestart() throws {
        let sb = try EnforcementSandbox()
        defer { sb.cleanup() }
        let port = freePort()
        let vigil = try Self.startVigil(sb, mode: "off", port: port)
        defer { vigil.kill(SIGTERM); if vigil.wait(seconds: 20) == nil { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) } }
        let pid = vigil.pid

        func reload(to mode: String, count: Int) {
            let text = FilePaths.readText(sb.dir + "/vigil.yaml") ?? ""
            writeFile(sb.dir + "/vigil.yaml", text.replacing(#/mode: [a-z-]+/#, with: "mode: \(mode)"))
            vigil.kill(SIGHUP)
            #expect(waitFor(20) { vigil.stderrLines.filter { $0.contains("\"msg\":\"rules reloaded\"") }.count >= count })
        }
        func drop(_ n: Int) -> (status: Int32, ran: Bool, alert: String) {
            let marker = sb.dir + "/out/dropped-\(n)"
            let st = sb.run("exec \(sb.dir)/merged/dropped \(marker)", inPod: true)
            _ = waitFor(15) { Self.alerts(vigil, "Enforce test dropped binary").count >= n }
            return (st, access(marker, F_OK) == 0, Self.alerts(vigil, "Enforce test dropped binary").last ?? "")
        }
        // off: runs, the alert carries no action.
        let a = drop(1)
        #expect(a.status == 0 && a.ran)
        #expect(!a.alert.isEmpty && Self.field(a.alert, "vigil.action") == nil, "\(a.alert)")
        // enforce: killed in the kernel.
        reload(to: "enforce", count: 1)
        let b = drop(2)
        #expect(b.status == -SIGKILL && !b.ran)
        #expect(Self.field(b.alert, "vigil.action_result") == "killed", "\(b.alert)")
        // dry-run: runs again.
        reload(to: "dry-run", count: 2)
        let c = drop(3)
        #expect(c.status == 0 && c.ran)
        #expect(Self.field(c.alert, "vigil.action_result") == "would-kill", "\(c.alert)")
        #expect(vigil.pid == pid && vigil.wait(seconds: 0.001) == nil, "the agent was not restarted")
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root for BPF, overlayfs and cgroups (set VIGIL_CI=1 to force)"))
    func kernelRateLimitKillsTheBurstThenLetsRunAndSummarises() throws {
        let sb = try EnforcementSandbox()
        defer { sb.cleanup() }
        let port = freePort()
        let vigil = try Self.startVigil(sb, mode: "enforce", port: port,
                                        enforcementExtra: "  rate_limit: {rate: 0, burst: 3}\n  summary_interval_ms: 1000\n")
        defer { vigil.kill(SIGTERM); if vigil.wait(seconds: 20) == nil { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) } }
        let rule = "Enforce test dropped binary"
        // Six dropped binaries in the pod: the burst of three is killed at exec, the rest run.
        var statuses: [Int32] = [], ran: [Bool] = []
        for n in 1...6 {
            let marker = sb.dir + "/out/burst-\(n)"
            statuses.append(sb.run("exec \(sb.dir)/merged/dropped \(marker)", inPod: true))
            ran.append(access(marker, F_OK) == 0)
        }
        #expect(statuses == [-SIGKILL, -SIGKILL, -SIGKILL, 0, 0, 0], "exit statuses \(statuses)")
        #expect(ran == [false, false, false, true, true, true], "markers written \(ran)")
        #expect(waitFor(15) { Self.alerts(vigil, rule).count >= 6 })
        let results = Self.alerts(vigil, rule).map { Self.field($0, "vigil.action_result") ?? "-" }
        #expect(results == ["killed", "killed", "killed", "rate-limited", "rate-limited", "rate-limited"], "\(results)")
        #expect(Self.alerts(vigil, rule).allSatisfy { Self.field($0, "vigil.action_path") == "kernel" })
        // Summary alerts for the rule (one per second at most), counting what the limit let through.
        func summarised() -> Int {
            Self.alerts(vigil, "Vigil enforcement rate limited").filter { Self.field($0, "vigil.rule") == rule }
                .reduce(0) { $0 + Int(Self.field($1, "vigil.rate_limited") ?? "0")! }
        }
        #expect(waitFor(15) { summarised() >= 3 })
        #expect(summarised() == 3)
        let summary = Self.alerts(vigil, "Vigil enforcement rate limited").first ?? ""
        #expect(Self.field(summary, "vigil.action_result") == "rate-limited", "\(summary)")
        let m = parsePrometheus(httpGet(port: port, path: "/metrics")?.body ?? "")
        #expect(m["vigil_enforcement_actions_total{rule=\"\(rule)\",action=\"kill\",result=\"killed\"}"] == 3)
        #expect(m["vigil_enforcement_actions_total{rule=\"\(rule)\",action=\"kill\",result=\"rate-limited\"}"] == 3)
        // A reload keeps the rule's bucket (same name): still empty, the next one runs too.
        vigil.kill(SIGHUP)
        #expect(waitFor(20) { vigil.stderrLines.contains { $0.contains("\"msg\":\"rules reloaded\"") } })
        let afterReload = sb.run("exec \(sb.dir)/merged/dropped \(sb.dir)/out/burst-7", inPod: true)
        #expect(afterReload == 0 && access(sb.dir + "/out/burst-7", F_OK) == 0, "the reload refilled the bucket (status \(afterReload))")
        #expect(waitFor(15) { Self.alerts(vigil, rule).count >= 7 })
        #expect(Self.field(Self.alerts(vigil, rule).last ?? "", "vigil.action_result") == "rate-limited")
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root for BPF, overlayfs and cgroups (set VIGIL_CI=1 to force)"))
    func kernelTellsContainersFromTheHostByTheirCgroupAndComparesLongPaths() throws {
        let sb = try EnforcementSandbox()
        defer { sb.cleanup() }
        let port = freePort()
        let vigil = try Self.startVigil(sb, mode: "enforce", port: port)
        defer { vigil.kill(SIGTERM); if vigil.wait(seconds: 20) == nil { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) } }
        for r in ["Enforce test host only", "Enforce test long path"] {
            #expect(vigil.stderrLines.contains { $0.contains("rule '\(r)': kernel at exec") }, "\(r) should compile into the exec program")
        }
        let host = "Enforce test host only", dropped = "Enforce test dropped binary"
        func marker(_ name: String) -> String { sb.dir + "/out/" + name }
        func exists(_ name: String) -> Bool { access(marker(name), F_OK) == 0 }

        // A container: its own pid and mount namespaces in the pod's cri-containerd scope.
        // (The shell inside the namespaces records how its child ended: 137 for SIGKILL.)
        func inNamespaces(_ flags: String, _ command: String, status: String, cgroup: String? = nil) -> String {
            _ = sb.run("exec unshare \(flags) --fork /bin/sh -c '\(command); echo $? > \(marker(status))'", cgroup: cgroup)
            return FilePaths.readText(marker(status))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unshare failed"
        }
        let inPod = inNamespaces("--pid --mount", "\(sb.dir)/merged/dropped \(marker("pod-dropped"))", status: "pod-status", cgroup: sb.containerCgroup)
        #expect(inPod == "137" && !exists("pod-dropped"), "the dropped binary in the container: status \(inPod)")
        #expect(waitFor(15) { !Self.alerts(vigil, dropped).isEmpty })
        #expect(Self.field(Self.alerts(vigil, dropped).first ?? "", "vigil.action_result") == "killed")
        // The host-only program in the container runs; then on the host it is killed in the kernel.
        #expect(sb.run("exec \(sb.dir)/hostonly/prog \(marker("pod-host"))", inPod: true) == 0 && exists("pod-host"))
        #expect(sb.run("exec \(sb.dir)/hostonly/prog \(marker("host-host"))") == -SIGKILL && !exists("host-host"))
        #expect(waitFor(15) { Self.alerts(vigil, host).contains { Self.field($0, "vigil.action_result") == "killed" } })
        #expect(Self.alerts(vigil, host).count == 1, "the host-only rule matched in the container: \(Self.alerts(vigil, host))")
        #expect(Self.field(Self.alerts(vigil, host).first ?? "", "vigil.action_path") == "kernel")

        // CRI-O's conmon in the pod's slice is a host process: the dropped binary runs there (no
        // alert: user space reads it as host too), the host-only program is killed.
        #expect(sb.run("exec \(sb.dir)/merged/dropped \(marker("conmon-dropped"))", cgroup: sb.conmonCgroup) == 0 && exists("conmon-dropped"))
        #expect(sb.run("exec \(sb.dir)/hostonly/prog \(marker("conmon-host"))", cgroup: sb.conmonCgroup) == -SIGKILL && !exists("conmon-host"))
        // Docker's scope is a container: killed in the kernel.
        #expect(sb.run("exec \(sb.dir)/merged/dropped \(marker("docker-dropped"))", cgroup: sb.dockerCgroup) == -SIGKILL && !exists("docker-dropped"))
        // The cgroupfs driver's bare id is left to user space by the kernel: user space reads the
        // pod in the parents and kills from there (the program has started: a sleep).
        #expect(sb.run("exec \(sb.dir)/merged/sleeper 10", cgroup: sb.cgroupfsCgroup) == -SIGKILL)
        #expect(waitFor(15) { Self.alerts(vigil, dropped).count >= 3 })
        let results = Self.alerts(vigil, dropped).map { "\(Self.field($0, "vigil.action_result") ?? "-")/\(Self.field($0, "vigil.action_path") ?? "-")" }
        #expect(results == ["killed/kernel", "killed/kernel", "killed/user-space"], "\(results)")
        // A pid namespace of its own on the host is not a container either.
        let nsDropped = inNamespaces("--pid", "\(sb.dir)/merged/dropped \(marker("ns-dropped"))", status: "ns-dropped-status")
        #expect(nsDropped == "0" && exists("ns-dropped"), "a process in a new pid namespace on the host was taken for a container (status \(nsDropped))")
        let nsHost = inNamespaces("--pid", "\(sb.dir)/hostonly/prog \(marker("ns-host"))", status: "ns-host-status")
        #expect(nsHost == "137" && !exists("ns-host"), "the host-only program in a new pid namespace on the host: status \(nsHost)")
        #expect(waitFor(15) { Self.alerts(vigil, host).count >= 3 }, "host-only alerts: \(Self.alerts(vigil, host))")
        #expect(Self.alerts(vigil, host).allSatisfy { Self.field($0, "vigil.action_result") == "killed" && Self.field($0, "vigil.action_path") == "kernel" })
        #expect(Self.alerts(vigil, dropped).count == 3, "the dropped-binary rule matched outside a container: \(Self.alerts(vigil, dropped))")

        // An exe path of more than 200 bytes, compared exactly in the kernel.
        #expect(sb.run("exec \(sb.longDir)/prog \(marker("long"))") == -SIGKILL && !exists("long"))
        #expect(waitFor(15) { !Self.alerts(vigil, "Enforce test long path").isEmpty })
        let long = Self.alerts(vigil, "Enforce test long path").first ?? ""
        #expect(Self.field(long, "vigil.action_result") == "killed" && Self.field(long, "vigil.action_path") == "kernel", "\(long)")
    }
}
