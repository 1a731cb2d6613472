import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The DaemonSet's least privilege is enough: the real agent runs on this kernel with exactly the
/// capabilities the DaemonSet adds (bounding set cut to them, no_new_privs as with
/// allowPrivilegeEscalation false), the DaemonSet's arguments and the ConfigMaps laid out as the
/// kubelet mounts them; its probes answer, the README's verification command raises its alert on
/// stdout with the node name from NODE_NAME, a rule added through the ConfigMap (an atomic ..data
/// swap, as the kubelet does it) fires after a hot reload while a broken update is rejected, and
/// SIGTERM drains and exits within the grace period.
///
/// Needs root and BPF: under VIGIL_CI=1 it runs and fails if anything is missing; otherwise it
/// skips when not root.
@Suite(.enabled(if: Deploy.isCI || (getuid() == 0 && Deploy.pythonToolsInstalled && Deploy.vigilBinary != nil),
                "needs root, the deploy test tools and a built vigil; skipped outside CI"),
       .serialized)
struct AgentRunTests {
    static let nodeName = "deploy-test-node"

    /// Capability bit numbers (linux/capability.h) of the ones the policy allows.
    static let capabilityBits: [String: Int] = ["DAC_READ_SEARCH": 2, "SYS_PTRACE": 19, "SYS_RESOURCE": 24, "PERFMON": 38, "BPF": 39]

    /// GET http://127.0.0.1:port/path; the status code (0 when nothing answers).
    static func httpStatus(port: Int, path: String) throws -> Int {
        let script = """
            import sys, urllib.request, urllib.error
            try:
                print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=3).status)
            except urllib.error.HTTPError as e:
                print(e.code)
            except Exception:
                print(0)
            """
        let r = try Deploy.run([Deploy.python, "-c", script, "\(port)", path])
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// A TCP port nothing listens on now (the kernel's pick for port 0).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return Int.random(in: 20000..<40000) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return ok ? Int(UInt16(bigEndian: addr.sin_port)) : Int.random(in: 20000..<40000)
    }

    /// Updates a projected ConfigMap directory the way the kubelet's atomic writer does: a new
    /// timestamped directory, `..data` swapped by rename, per-key symlinks added or removed.
    static func kubeletUpdate(_ dir: String, files: [String: String]) throws {
        let fm = FileManager.default
        let stamp = "..\(UInt64(Date().timeIntervalSince1970 * 1e9))"
        try fm.createDirectory(atPath: dir + "/" + stamp, withIntermediateDirectories: false)
        for (k, v) in files { try v.write(toFile: dir + "/" + stamp + "/" + k, atomically: false, encoding: .utf8) }
        let old = try? fm.destinationOfSymbolicLink(atPath: dir + "/..data")
        try? fm.removeItem(atPath: dir + "/..data_tmp")
        try fm.createSymbolicLink(atPath: dir + "/..data_tmp", withDestinationPath: stamp)
        guard rename(dir + "/..data_tmp", dir + "/..data") == 0 else { throw DeployError("rename ..data: errno \(errno)") }
        for k in files.keys where (try? fm.destinationOfSymbolicLink(atPath: dir + "/" + k)) == nil {
            try fm.createSymbolicLink(atPath: dir + "/" + k, withDestinationPath: "..data/" + k)
        }
        for name in try fm.contentsOfDirectory(atPath: dir) where !name.hasPrefix("..") && files[name] == nil {
            try fm.removeItem(atPath: dir + "/" + name)
        }
        if let old, old != stamp { try? fm.removeItem(atPath: dir + "/" + old) }
    }

    /// A counter from /metrics (0 when absent).
    static func metric(port: Int, _ name: String) throws -> Double {
        let script = """
            import sys, urllib.request
            text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=3).read().decode()
            print(sum(float(l.split()[-1]) for l in text.splitlines() if l.split(" ")[0].split("{")[0] == sys.argv[2]))
            """
        let r = try Deploy.run([Deploy.python, "-c", script, "\(port)", name])
        return Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    static func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(200_000)
        }
        return try condition()
    }

    static func statusField(_ pid: Int32, _ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    @Test func agentRunsWithTheDaemonSetsPrivilegesAndConfiguration() throws {
        #expect(getuid() == 0, "the agent needs root to load BPF (VIGIL_CI=1 requires it)")
        guard getuid() == 0, Deploy.requireTools() else { return }
        let binary = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let bpfObject = Deploy.path("build/bpf/vigil.bpf.o")
        try #require(FileManager.default.fileExists(atPath: bpfObject), "no \(bpfObject): run make bpf")
        let setpriv = try #require(["/usr/bin/setpriv", "/bin/setpriv"].first(where: Deploy.executable), "setpriv (util-linux) is missing")

        let objects = try Deploy.yamlDocuments(Deploy.manifestFiles)
        let ds = try #require(Deploy.object(objects, kind: "DaemonSet"))
        let container = ds["spec"]["template"]["spec"]["containers"][0]
        let sc = container["securityContext"]
        let caps = sc["capabilities"]["add"].array.compactMap(\.string).map(DaemonSetPolicy.normalizeCapability)
        #expect(sc["capabilities"]["drop"].array.compactMap(\.string) == ["ALL"])
        let bits = try caps.map { try #require(Self.capabilityBits[$0], "no bit number for \($0)") }

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-run-\(UUID().uuidString)").path
        try AgentConfigTests.project(objects, root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }

        // The DaemonSet's arguments, paths moved under the projected root. Two changes for a machine
        // that is not a cluster node: a free port instead of 8765 (other agents may run here), and
        // no API server (k8s.enabled=false; pods come from the API only in a cluster).
        let port = Self.freePort()
        var args = container["args"].array.compactMap(\.string).map { $0.hasPrefix("/etc/vigil") ? root + $0 : $0 }
        args += ["-o", "webserver.listen_port=\(port)", "-o", "k8s.enabled=false"]
        var env = ProcessInfo.processInfo.environment
        env["NODE_NAME"] = Self.nodeName
        env["VIGIL_BPF_OBJECT"] = bpfObject  // in the image: /usr/lib/vigil/vigil.bpf.o
        var setprivArgs = ["--bounding-set", "-all," + caps.map { "+" + $0.lowercased() }.joined(separator: ","), "--inh-caps", "-all"]
        if sc["allowPrivilegeEscalation"].bool == false { setprivArgs.append("--no-new-privs") }

        let out = root + "/stdout", err = root + "/stderr"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: setpriv)
        p.arguments = setprivArgs + ["--", binary] + args
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        func log() -> String { ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").suffix(3000).description }

        // Probes: the startup probe allows failureThreshold x periodSeconds to become healthy.
        let startup = container["startupProbe"]
        let startupBudget = Double((startup["failureThreshold"].int ?? 30) * (startup["periodSeconds"].int ?? 2))
        let liveness = try #require(container["livenessProbe"]["httpGet"]["path"].string)
        let readiness = try #require(container["readinessProbe"]["httpGet"]["path"].string)
        let healthy = try Self.waitUntil(startupBudget) { if !p.isRunning { return true }; return try Self.httpStatus(port: port, path: liveness) == 200 }
        #expect(healthy && p.isRunning, "\(liveness) did not answer 200 within \(startupBudget)s: \(log())")
        var lastStatus = 0
        let ready = try Self.waitUntil(startupBudget) {
            if !p.isRunning { return true }
            lastStatus = try Self.httpStatus(port: port, path: readiness)
            return lastStatus == 200
        }
        #expect(ready && p.isRunning, "\(readiness) answered \(lastStatus), not 200: \(log())")
        guard ready && p.isRunning else { return }

        // Exactly the DaemonSet's capabilities, and no_new_privs.
        let expectedMask = bits.reduce(UInt64(0)) { $0 | (UInt64(1) << UInt64($1)) }
        let eff = try #require(Self.statusField(p.processIdentifier, "CapEff"))
        #expect(UInt64(eff, radix: 16) == expectedMask, "CapEff \(eff), expected \(String(expectedMask, radix: 16))")
        if sc["allowPrivilegeEscalation"].bool == false { #expect(Self.statusField(p.processIdentifier, "NoNewPrivs") == "1") }

        // The README's check on a node: read /etc/shadow; the alert appears on stdout.
        let rule = "Sensitive authentication file read"
        var found: JSON?
        _ = try Self.waitUntil(15) {
            _ = try Deploy.run(["/bin/cat", "/etc/shadow"])
            let lines = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n")
            // Only this check's own `cat`: other suites read /etc/shadow (or a hard link to it) at the same time.
            found = lines.compactMap { try? JSON.parse(String($0)) }.first {
                $0["rule"].string == rule && $0["output_fields"]["proc.cmdline"].string == "cat /etc/shadow"
            }
            return found != nil
        }
        let alert = try #require(found, "no '\(rule)' alert on stdout; stderr: \(log())")
        #expect(alert["hostname"].string == Self.nodeName, "alerts must carry the node name (NODE_NAME)")
        #expect(alert["output_fields"]["fd.name"].string == "/etc/shadow")
        #expect(alert["priority"].string == "Warning")

        // Peak memory against the DaemonSet's limit (a bound, not a benchmark).
        if let hwm = Self.statusField(p.processIdentifier, "VmHWM"), let kb = Int(hwm.split(separator: " ").first ?? "") {
            let limit = container["resources"]["limits"]["memory"].string ?? ""
            if limit.hasSuffix("Mi"), let mi = Int(limit.dropLast(2)) {
                #expect(kb < mi * 1024, "peak RSS \(kb) KiB exceeds the memory limit \(limit)")
            }
        }

        // Tuning through the ConfigMap: the kubelet swaps vigil-rules-local's files; the agent reloads
        // and the new rule fires, without a restart.
        let marker = root + "/vigil-deploy-marker-\(UUID().uuidString)"
        try "marker\n".write(toFile: marker, atomically: false, encoding: .utf8)
        let localDir = root + "/etc/vigil-rules.d"
        let reloads0 = try Self.metric(port: port, "vigil_reloads_total")
        let markerRule = "Deploy test marker read"
        let ruleText = """
            - rule: \(markerRule)
              desc: a file only this test reads was opened (hot reload check)
              condition: vigil_open_read and fd.name = \(marker)
              output: deploy test marker read (file=%fd.name process=%proc.name)
              priority: WARNING
              tags: [test]

            """
        try Self.kubeletUpdate(localDir, files: ["zz_deploy_test.yaml": ruleText])
        func markerAlerts() -> Int {
            ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSON.parse(String($0)) }.filter { $0["rule"].string == markerRule }.count
        }
        let reloaded = try Self.waitUntil(30) {
            _ = try Deploy.run(["/bin/cat", marker])
            return markerAlerts() > 0
        }
        #expect(reloaded, "the rule added through the ConfigMap never fired: \(log())")
        #expect(try Self.metric(port: port, "vigil_reloads_total") > reloads0, "vigil_reloads_total did not move")

        // A broken update is rejected and the running rules stay.
        let failures0 = try Self.metric(port: port, "vigil_reload_failures_total")
        try Self.kubeletUpdate(localDir, files: ["zz_deploy_test.yaml": ruleText + "- rule: broken\n  condition: (((\n"])
        let rejected = try Self.waitUntil(30) { try Self.metric(port: port, "vigil_reload_failures_total") > failures0 }
        #expect(rejected, "the broken rules file was not reported as a failed reload: \(log())")
        let before = markerAlerts()
        let stillFiring = try Self.waitUntil(15) {
            _ = try Deploy.run(["/bin/cat", marker])
            return markerAlerts() > before
        }
        #expect(stillFiring && p.isRunning, "the agent stopped alerting after a broken update")

        // SIGTERM: drain and exit well within terminationGracePeriodSeconds.
        let grace = Double(ds["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].int ?? 30)
        kill(p.processIdentifier, SIGTERM)
        let exited = Self.waitUntil(grace) { !p.isRunning }
        #expect(exited, "the agent did not exit within \(grace)s of SIGTERM")
        if exited { #expect(p.terminationStatus == 0, "exit status \(p.terminationStatus): \(log())") }

        // stdout carries alerts only (one JSON object per line); the agent's log is on stderr.
        for line in ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n") {
            let obj = try? JSON.parse(String(line))
            #expect(obj?["rule"].string != nil, "a stdout line is not an alert: \(line.prefix(200))")
        }
        for line in ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").split(separator: "\n") where !line.isEmpty {
            #expect((try? JSON.parse(String(line))) != nil, "a stderr line is not JSON: \(line.prefix(200))")
        }
    }

    /// Each added capability is needed: without CAP_BPF or CAP_PERFMON the agent cannot load its
    /// programs; without CAP_SYS_PTRACE it cannot read another user's /proc/PID/exe and cwd; without
    /// CAP_DAC_READ_SEARCH it cannot list another user's /proc/PID/fd.
    @Test func eachAddedCapabilityIsNeeded() throws {
        #expect(getuid() == 0, "needs root (VIGIL_CI=1 requires it)")
        guard getuid() == 0, Deploy.requireTools() else { return }
        let binary = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let setpriv = try #require(["/usr/bin/setpriv", "/bin/setpriv"].first(where: Deploy.executable), "setpriv (util-linux) is missing")
        let objects = try Deploy.yamlDocuments(Deploy.manifestFiles)
        let ds = try #require(Deploy.object(objects, kind: "DaemonSet"))
        let caps = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"].array
            .compactMap(\.string).map(DaemonSetPolicy.normalizeCapability)
        func bounding(_ set: [String]) -> [String] {
            ["--bounding-set", (["-all"] + set.map { "+" + $0.lowercased() }).joined(separator: ","), "--inh-caps", "-all", "--no-new-privs"]
        }

        // A process of another user (nobody), as on any node.
        let target = Process()
        target.executableURL = URL(fileURLWithPath: setpriv)
        target.arguments = ["--reuid", "65534", "--regid", "65534", "--clear-groups", "/bin/sleep", "60"]
        try target.run()
        defer { kill(target.processIdentifier, SIGKILL); target.waitUntilExit() }
        usleep(300_000)
        let pid = target.processIdentifier
        func canRead(_ set: [String], _ command: String) throws -> Bool {
            try Deploy.run([setpriv] + bounding(set) + ["--", "/bin/sh", "-c", command]).status == 0
        }
        let readExe = "readlink /proc/\(pid)/exe && readlink /proc/\(pid)/cwd"
        let listFDs = "ls /proc/\(pid)/fd"
        #expect(try canRead(caps, readExe), "the DaemonSet's capabilities cannot read /proc/PID/exe of another user")
        #expect(try canRead(caps, listFDs), "the DaemonSet's capabilities cannot list /proc/PID/fd of another user")
        if caps.contains("SYS_PTRACE") {
            #expect(try !canRead(caps.filter { $0 != "SYS_PTRACE" }, readExe), "SYS_PTRACE is not needed for /proc/PID/exe")
        }
        if caps.contains("DAC_READ_SEARCH") {
            #expect(try !canRead(caps.filter { $0 != "DAC_READ_SEARCH" }, listFDs), "DAC_READ_SEARCH is not needed for /proc/PID/fd")
        }

        // The agent refuses to start without CAP_BPF or CAP_PERFMON, naming it.
        let bpfObject = Deploy.path("build/bpf/vigil.bpf.o")
        var env = ProcessInfo.processInfo.environment
        env["VIGIL_BPF_OBJECT"] = bpfObject
        for missing in ["BPF", "PERFMON"] where caps.contains(missing) {
            let r = try Deploy.run([setpriv] + bounding(caps.filter { $0 != missing }) + ["--", binary, "run",
                                   "-c", Deploy.path("rules/vigil.yaml"), "-r", Deploy.path("rules"),
                                   "-o", "webserver.listen_port=\(Self.freePort())", "-o", "k8s.enabled=false"],
                                   environment: env)
            #expect(r.status != 0, "the agent ran without CAP_\(missing)")
            #expect(r.stderr.contains("CAP_\(missing)"), "no mention of CAP_\(missing): \(r.stderr.suffix(500))")
        }
    }
}
