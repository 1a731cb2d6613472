import Testing
@testable import VigilAgent
import VigilRules
import VigilCore
import VigilAlerts

@Suite struct ConfigTests {
    static let repoRoot: String = {
        // Tests run from the package root; fall back to the source location.
        let here = FilePaths.directory(of: FilePaths.directory(of: FilePaths.directory(of: #filePath)))
        return here
    }()

    @Test func shippedConfigEqualsDefaults() throws {
        let loaded = try ConfigLoader.load(path: Self.repoRoot + "/rules/vigil.yaml")
        #expect(loaded.config == VigilConfig())
        #expect(loaded.resolvedRulesFiles == [Self.repoRoot + "/rules"])
    }

    @Test func parsesFalcoKeys() throws {
        let c = try ConfigLoader.load(text: """
            rules_files: [/etc/vigil/rules.yaml, /etc/vigil/rules.d]
            json_output: false
            priority: warning
            rule_matching: all
            http_output:
              enabled: true
              url: http://sidekick:2801/
              headers: {X-Token: abc}
            webserver: {listen_port: 9000, listen_address: 127.0.0.1}
            engine: {kind: modern_ebpf, modern_ebpf: {buf_size_preset: 4, cpus_for_each_buffer: 2, drop_failed_exit: false, wakeup_bytes: 0}}
            log_level: debug
            """, origin: "t.yaml")
        #expect(c.rulesFiles == ["/etc/vigil/rules.yaml", "/etc/vigil/rules.d"])
        #expect(c.alerts.jsonOutput == false)
        #expect(c.priority == .warning)
        #expect(c.ruleMatching == .all)
        #expect(c.alerts.httpOutput.enabled && c.alerts.httpOutput.url == "http://sidekick:2801/")
        #expect(c.alerts.httpOutput.headers.map { $0.0 } == ["X-Token"] && c.alerts.httpOutput.headers.map { $0.1 } == ["abc"])
        #expect(c.webserver.listenPort == 9000 && c.webserver.listenAddress == "127.0.0.1")
        #expect(c.engine.ringBufferBytes == 8 << 20 && c.engine.modernEBPF.wakeupBytes == 0)
        #expect(c.logLevel == .debug)
    }

    @Test func overridesApplyInOrder() throws {
        let c = try ConfigLoader.load(text: "webserver:\n  listen_port: 9000\n", origin: "t.yaml", overrides: [
            "webserver.listen_port=9100", "json_output=false", "k8s.node_name=node-1",
            "rules_files=[a.yaml, b.yaml]", "rules_files[]=c.yaml", "http_output.headers.X-A=1",
            "syslog_output.address=127.0.0.1:601", "syslog_output.transport=tcp", "webserver.listen_port=9200",
            "flood_control.rate_limit.rules={Noisy rule: {rate: 1, burst: 2}}",
        ])
        #expect(c.webserver.listenPort == 9200)
        #expect(c.alerts.jsonOutput == false)
        #expect(c.k8s.nodeName == "node-1")
        #expect(c.rulesFiles == ["a.yaml", "b.yaml", "c.yaml"])
        #expect(c.alerts.httpOutput.headers.map { $0.0 } == ["X-A"])
        #expect(c.alerts.syslogOutput.address == "127.0.0.1:601" && c.alerts.syslogOutput.transport == .tcp)
        #expect(c.alerts.floodControl.rateLimit.rules["Noisy rule"] == RateLimit(rate: 1, burst: 2))
    }

    @Test func unknownKeyNamesKeyAndPosition() {
        #expect {
            _ = try ConfigLoader.load(text: "json_output: true\nwebserver:\n  enabled: true\n  listn_port: 1\n", origin: "v.yaml")
        } throws: { e in
            let e = e as! ConfigError
            return e.key == "webserver.listn_port" && e.source == ConfigSource(origin: "v.yaml", line: 4, column: 3)
                && e.description.contains("v.yaml:4:3: webserver.listn_port: unknown key")
                && e.description.contains("did you mean 'webserver.listen_port'")
        }
        #expect(throws: ConfigError.self) { _ = try ConfigLoader.load(text: "bogus: 1\n", origin: "v.yaml") }
    }

    @Test func wrongTypesNameKey() {
        let cases: [(String, String, Int, Int)] = [
            ("webserver:\n  listen_port: abc\n", "webserver.listen_port", 2, 16),
            ("json_output: 3\n", "json_output", 1, 14),
            ("json_output: \"true\"\n", "json_output", 1, 14),
            ("priority: loud\n", "priority", 1, 11),
            ("webserver: 5\n", "webserver", 1, 12),
            ("rules_files:\n  - {a: 1}\n", "rules_files[0]", 2, 5),
            ("webserver:\n  listen_port: 70000\n", "webserver.listen_port", 2, 16),
            ("engine:\n  modern_ebpf:\n    buf_size_preset: 12Q\n", "engine.modern_ebpf.buf_size_preset", 3, 22),
            ("engine:\n  modern_ebpf:\n    buf_size_preset: 11\n", "engine.modern_ebpf.buf_size_preset", 3, 22),
            ("engine:\n  modern_ebpf:\n    buf_size_preset: 1\n    wakeup_bytes: 2Mi\n", "engine.modern_ebpf.wakeup_bytes", 4, 19),
            ("engine:\n  kind: kmod\n", "engine.kind", 2, 9),
        ]
        for (text, key, line, col) in cases {
            do {
                _ = try ConfigLoader.load(text: text, origin: "w.yaml")
                Issue.record("no error for \(text)")
            } catch {
                #expect(error.key == key, "\(text)")
                #expect(error.source.line == line && error.source.column == col, "\(error)")
            }
        }
    }

    @Test func overrideErrorsNameTheFlag() {
        do {
            _ = try ConfigLoader.load(text: "", origin: "e.yaml", overrides: ["webserver.listen_port=high"])
            Issue.record("accepted a bad override")
        } catch {
            #expect(error.key == "webserver.listen_port")
            #expect(error.description.hasPrefix("-o webserver.listen_port=high: webserver.listen_port: expected an integer"))
        }
        do {
            _ = try ConfigLoader.load(text: "", origin: "e.yaml", overrides: ["webserver.nope=1"])
            Issue.record("accepted an unknown override key")
        } catch {
            #expect(error.key == "webserver.nope")
        }
        #expect(throws: ConfigError.self) { _ = try ConfigLoader.load(text: "", origin: "e.yaml", overrides: ["json_output.x=1"]) }
        // Cross-key checks of the alerts stage name the key and its place.
        do {
            _ = try ConfigLoader.load(text: "http_output:\n  enabled: true\n  url: ftp://x\n", origin: "h.yaml")
            Issue.record("accepted a bad http_output.url")
        } catch {
            #expect(error.key == "http_output.url" && error.source.line == 3)
        }
    }

    @Test func outputsQueueMaxBytesParsedValidatedApplied() throws {
        #expect(VigilConfig().alerts.outputsQueue.maxBytes == OutputsQueueConfig.defaultMaxBytes)
        let c = try ConfigLoader.load(text: "outputs_queue:\n  capacity: 500\n  max_bytes: 16Mi\n", origin: "q.yaml")
        #expect(c.alerts.outputsQueue.capacity == 500 && c.alerts.outputsQueue.maxBytes == 16 << 20)
        let o = try ConfigLoader.load(text: "", origin: "q.yaml", overrides: ["outputs_queue.max_bytes=4096"])
        #expect(o.alerts.outputsQueue.maxBytes == 4096)
        // Out of range and malformed values name the key and its place.
        for (text, col) in [("outputs_queue:\n  max_bytes: 1000\n", 14), ("outputs_queue:\n  max_bytes: lots\n", 14),
                            ("outputs_queue:\n  max_bytes: 2048Gi\n", 14)] {
            do {
                _ = try ConfigLoader.load(text: text, origin: "q.yaml")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.key == "outputs_queue.max_bytes", "\(error)")
                #expect(error.source.line == 2 && error.source.column == col, "\(error)")
            }
        }
        do {
            _ = try ConfigLoader.load(text: "", origin: "q.yaml", overrides: ["outputs_queue.max_bytes=10"])
            Issue.record("accepted a too small override")
        } catch {
            #expect(error.description.hasPrefix("-o outputs_queue.max_bytes=10: outputs_queue.max_bytes:"), "\(error)")
        }
        // Applied: every sink the dispatcher builds gets the byte budget.
        var cfg = c.alerts
        cfg.stdoutOutput.enabled = true
        let d = try AlertDispatcher.make(config: cfg, stdoutFD: 2)
        defer { d.stop() }
        #expect(!d.sinks.isEmpty && d.sinks.allSatisfy { $0.maxBytes == 16 << 20 })
    }

    @Test func invalidYAMLHasPosition() {
        do {
            _ = try ConfigLoader.load(text: "a: [1, 2\nb: 3\n", origin: "bad.yaml")
            Issue.record("accepted invalid YAML")
        } catch {
            #expect(error.source.origin == "bad.yaml" && error.source.line >= 1)
            #expect(error.message.contains("invalid YAML"))
        }
        #expect(throws: ConfigError.self) { _ = try ConfigLoader.load(text: "json_output: true\njson_output: false\n", origin: "d.yaml") }
    }

    @Test func printedConfigRoundTrips() throws {
        var c = VigilConfig()
        c.alerts.httpOutput.headers = [("X-Weird", "a: \"b\"\n#c")]
        c.alerts.floodControl.rateLimit.rules = ["r: 1": RateLimit(rate: 0.5, burst: 3)]
        c.alerts.fileOutput.maxSizeMB = 0.25
        c.rulesFiles = ["/x y/z", "true", "-dash"]
        c.k8s.nodeName = "123"
        c.alerts.floodControl.fold.key = ["proc.name", "fd.name"]
        let text = ConfigPrinter.yaml(c)
        let back = try ConfigLoader.load(text: text, origin: "printed")
        #expect(back == c)
    }

    @Test func agentOptionsParse() throws {
        guard case .options(let o) = AgentOptions.parse(["-c", "x.yaml", "-o", "a=b", "-r", "r1", "--rules=r2", "--node-name", "n1", "--dry-run"], allowRunFlags: true) else {
            Issue.record("parse failed"); return
        }
        #expect(o.configPath == "x.yaml" && o.overrides == ["a=b"] && o.rulesPaths == ["r1", "r2"] && o.nodeName == "n1" && o.dryRun)
        #expect(AgentOptions.parse(["--bogus"], allowRunFlags: true) == .failure("unknown option '--bogus'"))
        #expect(AgentOptions.parse(["-o", "novalue"], allowRunFlags: true) == .failure("-o 'novalue': expected key.path=value"))
        #expect(AgentOptions.parse(["--dry-run"], allowRunFlags: false) == .failure("unknown option '--dry-run'"))
    }
}
