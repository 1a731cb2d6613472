import Foundation
import Testing
@testable import VigilAgent

/// Runs a live-test driver from Tests/Live (real processes, real syscalls, a live agent) and
/// returns its JSON report.
enum LiveDriver {
    static var liveDir: String { RunCommandKernelTests.repoRoot + "/Tests/Live" }

    /// Falco's rules file: $VIGIL_FALCO_RULES_DIR or <repo>/../shared/falco-rules (absent in a bare clone).
    static var falcoRules: String? {
        let dir = ProcessInfo.processInfo.environment["VIGIL_FALCO_RULES_DIR"]
            ?? RunCommandKernelTests.repoRoot + "/../shared/falco-rules"
        let f = dir + "/falco_rules.yaml"
        return FileManager.default.isReadableFile(atPath: f) ? f : nil
    }

    /// A real Python 3 (the drivers use only its standard library).
    static var python: String {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
    }

    static func run(script: String, args: [String]) throws -> [String: Any] {
        let out = makeTempDir("vigil-live-report") + "/report.json"
        defer { removeTree(FilePaths.directory(of: out)) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [liveDir + "/" + script] + args + ["--out", out]
        let log = Pipe()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        let text = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, let data = FileManager.default.contents(atPath: out),
              let report = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AgentError("\(script) failed (\(p.terminationStatus)): \(text.suffix(3000))")
        }
        return report
    }
}

@Suite(.serialized) struct LiveDetectionTests {

    /// The checks every behaviour of a coverage.py report must pass: it ran, a Vigil default rule
    /// fired, the expected Falco rule fired (when one is expected), and an alert in a pod names
    /// the container and pod. Returns the Falco rule seen firing, if any.
    @discardableResult
    static func expectCaught(_ b: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let id = b["id"] as? String ?? "?"
        #expect(b["error"] is NSNull, "\(id): the behaviour itself failed: \(b["error"] ?? "")", sourceLocation: sourceLocation)
        let vigil = b["vigil_fired"] as? [String] ?? []
        // A try during which the kernel lost events is done again (coverage.py); a failure names them
        // (null: not known, as for the unwatched rehearsal).
        let tries = "tries: \(b["tries"] ?? "?"), events the kernel lost during each: \(b["lost_events_per_try"] ?? "?")"
        #expect(!vigil.isEmpty, "\(id): no Vigil default rule fired (expected one of \(b["vigil_rules"] ?? "")); fired: \(b["fired"] ?? ""); \(tries)",
                sourceLocation: sourceLocation)
        var falcoRuleSeen: String? = nil
        if b["falco_expected"] as? Bool == true {
            #expect(b["falco_fired"] as? Bool == true, "\(id): Falco rule '\(b["falco_rule"] ?? "")' did not fire; fired: \(b["fired"] ?? ""); \(tries)",
                    sourceLocation: sourceLocation)
            if b["falco_fired"] as? Bool == true { falcoRuleSeen = b["falco_rule"] as? String }
        }
        if (b["where"] as? String) != "host" {
            #expect(b["pod_attributed"] as? Bool == true, "\(id): Vigil's alert does not name the container and pod: \(b["vigil_alert"] ?? ""); \(tries)",
                    sourceLocation: sourceLocation)
        }
        return falcoRuleSeen
    }
    /// Every behaviour of Falco's stable rules (with variants: other files, paths, names, argument
    /// orders, openat2/execveat/linkat/dup3), acted out for real on the host or in a simulated pod:
    /// the Falco rule fires through Vigil, and one of Vigil's default rules fires for the same
    /// behaviour, naming the container and the pod. Each behaviour is first acted out with no agent
    /// watching (`--rehearse`: a try whose events the kernel lost, as under a storm), so what is
    /// checked is a try done again: it must act the behaviour out afresh, not over what the first
    /// left (a link already there: `ln` fails with EEXIST and Vigil's rules rightly stay quiet).
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func falcoStableBehavioursCaughtByDefaults() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        var args = ["--vigil", binary, "--repo", RunCommandKernelTests.repoRoot, "--rehearse"]
        if let f = LiveDriver.falcoRules { args += ["--falco-rules", f] }
        let report = try LiveDriver.run(script: "coverage.py", args: args)
        #expect(report["agent_exit"] as? Int == 0, "agent: \(report["agent_log"] ?? "")")
        let behaviours = try #require(report["behaviours"] as? [[String: Any]])
        #expect(behaviours.count >= 50)
        var falcoRulesSeen = Set<String>()
        for b in behaviours {
            if let r = Self.expectCaught(b) { falcoRulesSeen.insert(r) }
        }
        if LiveDriver.falcoRules != nil {
            // All of Falco's stable rules but the one that needs cluster DNS (fd.sip.name).
            #expect(falcoRulesSeen.count >= 24, "Falco stable rules seen firing: \(falcoRulesSeen.sorted())")
        }
    }
}

extension LiveDetectionTests {
    /// The second set (issue 12): LD_PRELOAD/LD_AUDIT at exec through proc.env, shell start-up files,
    /// files below /dev, /proc/PID/environ, remote copy tools, system library and PAM module
    /// replacement, liblzma 5.6.x, SysRq (where the kernel has it) and openat2/execveat/renameat2/
    /// linkat variants of the Tracee classes, with its own agent (coverage.py --set extra), each
    /// behaviour rehearsed unwatched first (a try done again must act it out afresh).
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func incubatingAndTraceeBehavioursCaughtByDefaults() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        var args = ["--vigil", binary, "--repo", RunCommandKernelTests.repoRoot, "--set", "extra", "--rehearse"]
        if let f = LiveDriver.falcoRules { args += ["--falco-rules", f] }
        let report = try LiveDriver.run(script: "coverage.py", args: args)
        #expect(report["agent_exit"] as? Int == 0, "agent: \(report["agent_log"] ?? "")")
        let behaviours = try #require(report["behaviours"] as? [[String: Any]])
        #expect(behaviours.count >= 20)
        for b in behaviours {
            Self.expectCaught(b)
        }
    }
}

@Suite(.serialized) struct LiveNoiseTests {
    /// Everyday work under the shipped defaults: compiling and running in /tmp and in a build
    /// directory, make, git, tar, pip (local wheel), apt-get (local .deb), a web server and
    /// client, logrotate, run-parts, container entrypoints and a controller reading its
    /// service account token. Zero alerts at Warning or above (`make bench-noise` prints the table).
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func everydayWorkIsQuietAtWarning() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        let report = try LiveDriver.run(script: "noise.py", args: ["--vigil", binary, "--repo", RunCommandKernelTests.repoRoot])
        #expect(report["agent_exit"] as? Int == 0, "agent: \(report["agent_log"] ?? "")")
        let workloads = try #require(report["workloads"] as? [[String: Any]])
        #expect(workloads.count >= 11)
        for w in workloads {
            let name = w["name"] as? String ?? "?"
            #expect(w["error"] is NSNull, "\(name): the workload itself failed: \(w["error"] ?? "")")
            #expect(w["warning_or_above"] as? Int == 0, "\(name): alerts at Warning or above: \(w["alerts"] ?? "") e.g. \(w["examples"] ?? "")")
        }
    }
}
