#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import VigilAgent
import VigilRules
import VigilCore
import VigilAlerts

/// falco.yaml 0.42+ keys: `engine`, `append_output`, `static_fields`, the `capture:` migration and
/// `${ENV}` expansion.
@Suite struct FalcoCompatConfigTests {
    func error(_ text: String, overrides: [String] = []) -> ConfigError? {
        do { _ = try ConfigLoader.load(text: text, origin: "f.yaml", overrides: overrides); return nil } catch { return error }
    }

    /// The engine block as falco.yaml ships it loads (other engines' sections are accepted, unused).
    @Test func falcoEngineBlockLoads() throws {
        let c = try ConfigLoader.load(text: """
            engine:
              kind: modern_ebpf
              kmod:
                buf_size_preset: 4
                drop_failed_exit: false
              modern_ebpf:
                cpus_for_each_buffer: 2
                buf_size_preset: 6
                drop_failed_exit: false
                disable_iterators_unknown_to_vigil_is_not_here: null
              replay:
                capture_file: ""
            """.replacingOccurrences(of: "    disable_iterators_unknown_to_vigil_is_not_here: null\n", with: ""), origin: "f.yaml")
        #expect(c.engine.kind == "modern_ebpf")
        #expect(c.engine.modernEBPF.bufSizePreset == 6 && c.engine.ringBufferBytes == 32 << 20)
        #expect(c.engine.modernEBPF.cpusForEachBuffer == 2)
        #expect(VigilConfig().engine.ringBufferBytes == 8 << 20)  // Falco's default buffer (preset 4)
        #expect(EngineConfig.ringBytes(preset: 1) == 1 << 20 && EngineConfig.ringBytes(preset: 10) == 512 << 20)
    }

    @Test func engineErrorsNameKeyAndPlace() throws {
        let kind = try #require(error("engine:\n  kind: kmod\n"))
        #expect(kind.key == "engine.kind" && kind.source.line == 2 && kind.source.column == 9)
        #expect(kind.message.contains("expected modern_ebpf") && kind.message.contains("no kernel module"))
        let replay = try #require(error("engine: {kind: replay}\n"))
        #expect(replay.message.contains("vigil run -e FILE"))
        // drop_failed_exit takes true (Falco's meaning) and false; anything else names the key and its place.
        #expect(error("engine:\n  modern_ebpf:\n    drop_failed_exit: true\n") == nil)
        #expect(try ConfigLoader.load(text: "engine:\n  modern_ebpf:\n    drop_failed_exit: true\n", origin: "f.yaml").engine.modernEBPF.dropFailedExit)
        let drop = try #require(error("engine:\n  modern_ebpf:\n    drop_failed_exit: sometimes\n"))
        #expect(drop.key == "engine.modern_ebpf.drop_failed_exit" && drop.source.line == 3 && drop.source.column == 23, "\(drop)")
        let typo = try #require(error("engine:\n  modern_ebpf:\n    buf_size_presets: 4\n"))
        #expect(typo.key == "engine.modern_ebpf.buf_size_presets" && typo.description.contains("did you mean 'engine.modern_ebpf.buf_size_preset'"))
    }

    /// The former `capture:` kernel keys are errors naming their new place (and the preset of the old size).
    @Test func oldCaptureKeysNameTheirNewPlace() throws {
        let ring = try #require(error("json_output: true\ncapture:\n  ring_buffer_bytes: 16Mi\n"))
        #expect(ring.key == "capture.ring_buffer_bytes")
        #expect(ring.source == ConfigSource(origin: "f.yaml", line: 3, column: 3))
        #expect(ring.description == "f.yaml:3:3: capture.ring_buffer_bytes: moved to 'engine.modern_ebpf.buf_size_preset': "
            + "Vigil's kernel settings live under `engine:` as in falco.yaml (`capture:` is Falco's capture-on-match section); "
            + "'16Mi' is buf_size_preset: 5")
        let odd = try #require(error("capture: {ring_buffer_bytes: 3Mi}\n"))
        #expect(odd.message.contains("buf_size_preset is an index: 1 = 1 MiB"))
        for (key, to) in [("max_args_bytes", "max_args_bytes"), ("wakeup_bytes", "wakeup_bytes"), ("poll_interval_ms", "poll_interval_ms"),
                          ("ignore_self", "ignore_self")] {
            let e = try #require(error("", overrides: ["capture.\(key)=1"]))
            #expect(e.key == "capture.\(key)" && e.source.origin == "-o capture.\(key)=1")
            #expect(e.message.hasPrefix("moved to 'engine.modern_ebpf.\(to)'"), "\(e)")
        }
    }

    /// Falco's own `capture:` (capture on rule match) parses; turning it on is refused clearly.
    @Test func falcoCaptureSectionParses() throws {
        let c = try ConfigLoader.load(text: "capture:\n  enabled: false\n  path_prefix: /tmp/falco\n  mode: all_rules\n  default_duration: 5000\n",
                                      origin: "f.yaml")
        #expect(c.capture.mode == "all_rules" && !c.capture.enabled)
        let on = try #require(error("capture:\n  enabled: true\n"))
        #expect(on.key == "capture.enabled" && on.source.line == 2 && on.message.contains("not supported"))
        let mode = try #require(error("capture:\n  mode: some\n"))
        #expect(mode.key == "capture.mode" && mode.source.column == 9)
    }

    @Test func appendOutputParses() throws {
        let c = try ConfigLoader.load(text: """
            static_fields:
              cluster: prod
              zone: "eu-1"
            append_output:
              - match:
                  source: syscall
                  tags: [container, mitre_execution]
                  rule: Terminal shell in container
                extra_output: "on CPU %evt.cpu"
                extra_fields:
                  - evt.hostname
                  - where: "%static.cluster/%static.zone"
              - suggested_output: true
            """, origin: "a.yaml")
        #expect(c.staticFields == [StaticField(name: "cluster", value: "prod"), StaticField(name: "zone", value: "eu-1")])
        #expect(c.appendOutput.count == 2)
        let e = c.appendOutput[0]
        #expect(e.source == "syscall" && e.tags == ["container", "mitre_execution"] && e.rule == "Terminal shell in container")
        #expect(e.extraOutput == "on CPU %evt.cpu")
        #expect(e.extraFields.map(\.name) == ["evt.hostname", "where"] && e.extraFields.map(\.format) == [nil, "%static.cluster/%static.zone"])
        #expect(e.mark.line == 5 && e.mark.column == 5)
        #expect(c.appendOutput[1].suggestedOutput && c.appendOutput[1].source == nil)
        // The effective configuration prints and reads back the same.
        let again = try ConfigLoader.load(text: ConfigPrinter.yaml(c), origin: "printed")
        #expect(again == c)
    }

    @Test func appendOutputErrorsNameKeyAndPlace() {
        let cases: [(String, String, Int, Int, String)] = [
            ("append_output: {a: 1}\n", "append_output", 1, 16, "expected a list"),
            ("append_output:\n  - extra_outptu: x\n", "append_output[0].extra_outptu", 2, 5, "did you mean 'append_output[0].extra_output'"),
            ("append_output:\n  - match: {tag: [a]}\n", "append_output[0].match.tag", 2, 13, "did you mean 'append_output[0].match.tags'"),
            ("append_output:\n  - match: {tags: a}\n", "append_output[0].match.tags", 2, 19, "expected a list of tags"),
            ("append_output:\n  - extra_fields: x\n", "append_output[0].extra_fields", 2, 19, "expected a list"),
            ("append_output:\n  - extra_fields: [{a: x, b: y}]\n", "append_output[0].extra_fields[0]", 2, 20, "one {name: format} pair"),
            ("append_output:\n  - extra_fields: [a.b, a.b]\n", "append_output[0].extra_fields[1]", 2, 25, "defined twice"),
            ("append_output:\n  - suggested_output: maybe\n", "append_output[0].suggested_output", 2, 23, "expected a boolean"),
            // Formats and field names are checked against the field catalog at load, at the entry's place.
            ("append_output:\n  - extra_output: \"cpu %evt.cpux\"\n", "append_output[0]", 2, 5, "extra_output: unknown field 'evt.cpux'"),
            ("append_output:\n  - extra_fields:\n      - proc.nmae\n", "append_output[0]", 3, 9, "extra_fields 'proc.nmae': unknown field"),
            ("append_output:\n  - extra_fields:\n      - x: \"%static.nope\"\n", "append_output[0]", 3, 9, "unknown field 'static.nope' (static_fields defines none)"),
            ("static_fields: [a]\n", "static_fields", 1, 16, "expected a mapping"),
            ("static_fields:\n  a.b: x\n", "static_fields.a.b", 2, 3, "letters, digits and '_'"),
            ("static_fields:\n  a: [x]\n", "static_fields.a", 2, 6, "expected a string value"),
        ]
        for (text, key, line, col, msg) in cases {
            guard let e = error(text) else { Issue.record("no error for \(text)"); continue }
            #expect(e.key == key, "\(text): \(e)")
            #expect(e.source.origin == "f.yaml" && e.source.line == line && e.source.column == col, "\(text): \(e)")
            #expect(e.message.contains(msg), "\(text): \(e)")
        }
    }

    /// `${NAME}` reads the environment, `$${` is a literal `${` (Falco's expansion).
    @Test func environmentExpansion() throws {
        setenv("VIGIL_COMPAT_TEST_CLUSTER", "blue", 1)
        unsetenv("VIGIL_COMPAT_TEST_UNSET")
        let c = try ConfigLoader.load(text: """
            static_fields:
              a: "${VIGIL_COMPAT_TEST_CLUSTER}"
              b: "x-${VIGIL_COMPAT_TEST_UNSET}-y"
              c: "$${VIGIL_COMPAT_TEST_CLUSTER}"
              d: "${unterminated"
            """, origin: "e.yaml", overrides: ["static_fields.e=${VIGIL_COMPAT_TEST_CLUSTER}-2"])
        #expect(c.staticFields.map(\.value) == ["blue", "x--y", "${VIGIL_COMPAT_TEST_CLUSTER}", "${unterminated", "blue-2"])
    }

    /// The configured append_output and static_fields reach the rules (load and reload path) and the
    /// JSON alert has Falco's shape: extra fields in output_fields only, evt.time always there.
    @Test func configuredAppendsShapeTheJSONAlert() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        writeFile(dir + "/rules.yaml", """
            - rule: Read of shadow
              desc: d
              condition: evt.type = openat and fd.name = /etc/shadow
              output: shadow read by %proc.name
              priority: WARNING
              tags: [host]
            """)
        writeFile(dir + "/vigil.yaml", """
            rules_files: [rules.yaml]
            static_fields: {cluster: prod}
            append_output:
              - match: {tags: [host]}
                extra_output: "in %static.cluster"
                extra_fields: [proc.pid, {node: "%evt.hostname"}]
            """)
        let loaded = try ConfigLoader.load(path: dir + "/vigil.yaml")
        let set = try RuleLoading.load(loaded).get()
        let yaml = """
            tests:
            - name: t
              event:
                type: openat
                res: 3
                args: {dirfd: -100, name: /etc/shadow, flags: O_RDONLY, mode: 0}
                process: {pid: 4242, exepath: /usr/bin/cat, args: [/etc/shadow]}
                fd: {num: 3, type: file, name: /etc/shadow}
              expect: {fire: [x]}
            """
        let ev = try #require(RuleTestRunner.load(text: Array(yaml.utf8), file: "t.yaml").0.first?.events.first)
        let s = set.makeScratch(hostname: "node-7")
        var alerts: [Alert] = []
        _ = ev.withContext { set.evaluate($0, scratch: s) { alerts.append($0) } }
        let a = try #require(alerts.first)
        #expect(a.message == "shadow read by cat in prod")
        let d = try #require(JSONSerialization.jsonObject(with: Data(AlertFormatter.json(a, options: loaded.config.alerts.formatOptions))) as? [String: Any])
        #expect(Set(d.keys) == ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"])
        #expect((d["output"] as? String)?.hasSuffix(": Warning shadow read by cat in prod") == true)
        let f = try #require(d["output_fields"] as? [String: Any])
        #expect(f["proc.name"] as? String == "cat")
        #expect(f["static.cluster"] as? String == "prod")
        #expect((f["proc.pid"] as? NSNumber)?.intValue == 4242)
        #expect(f["node"] as? String == "node-7")
        #expect((f["evt.time"] as? NSNumber)?.uint64Value == a.timeNs)
        // The json_include_* keys: message in, output/tags/output_fields out.
        let off = try ConfigLoader.load(text: """
            json_include_output_property: false
            json_include_tags_property: false
            json_include_message_property: true
            json_include_output_fields_property: false
            """, origin: "j.yaml")
        let d2 = try #require(JSONSerialization.jsonObject(with: Data(AlertFormatter.json(a, options: off.alerts.formatOptions))) as? [String: Any])
        #expect(Set(d2.keys) == ["hostname", "message", "priority", "rule", "source", "time"])
        #expect(d2["message"] as? String == "shadow read by cat in prod")
    }
}

/// The rest of falco.yaml: keys without meaning in Vigil load with a recorded reason; outputs that
/// would quietly lose alerts are refused.
@Suite struct FalcoOnlyKeysTests {
    @Test func falcoYamlKeysLoadWithAWarning() throws {
        let c = try ConfigLoader.load(text: """
            config_files: [/etc/falco/config.d]
            watch_config_files: true
            rules_files: [/etc/falco/falco_rules.yaml]
            engine: {kind: modern_ebpf, modern_ebpf: {cpus_for_each_buffer: 2, buf_size_preset: 4, drop_failed_exit: false}}
            capture: {enabled: false, path_prefix: /tmp/falco, mode: rules, default_duration: 5000}
            load_plugins: []
            plugins: [{name: container, library_path: libcontainer.so, init_config: {label_max_len: 100}}]
            time_format_iso_8601: false
            buffer_format_base64: false
            priority: debug
            json_output: false
            json_include_output_property: true
            json_include_message_property: false
            json_include_output_fields_property: true
            json_include_tags_property: true
            buffered_outputs: false
            rule_matching: first
            outputs_queue: {capacity: 10000}
            append_output:
              - suggested_output: true
            stdout_output: {enabled: true}
            syslog_output: {enabled: false}
            file_output: {enabled: false, keep_alive: false, filename: ./events.txt}
            http_output: {enabled: false, url: ""}
            program_output: {enabled: false, keep_alive: false, program: "jq '{text: .output}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"}
            grpc_output: {enabled: false}
            webserver: {enabled: true, threadiness: 0, listen_port: 8765, k8s_healthz_endpoint: /healthz}
            log_stderr: true
            log_syslog: true
            log_level: info
            libs_logger: {enabled: false, severity: debug}
            output_timeout: 2000
            syscall_event_timeouts: {max_consecutives: 1000}
            syscall_event_drops: {threshold: .1, actions: [log, alert], rate: .03333, max_burst: 1, simulate_drops: false}
            metrics: {enabled: false, interval: 1h}
            base_syscalls: {custom_set: [], repair: false}
            falco_libs: {thread_table_size: 262144}
            """, origin: "falco.yaml")
        #expect(c.ignoredFalcoKeys.map(\.name) == ["config_files", "load_plugins", "plugins", "time_format_iso_8601", "buffer_format_base64",
                                                  "buffered_outputs", "program_output", "grpc_output", "log_syslog", "libs_logger",
                                                  "output_timeout", "syscall_event_timeouts", "syscall_event_drops", "metrics",
                                                  "base_syscalls", "falco_libs"])
        #expect(c.ignoredFalcoKeys.first { $0.name == "syscall_event_drops" }?.value.contains("drop_alert_threshold") == true)
        #expect(c.alerts.jsonOutput == false && c.appendOutput == [AppendOutput(suggestedOutput: true)])
        // Not printed back: the effective configuration has only keys with an effect.
        #expect(!ConfigPrinter.yaml(c).contains("log_syslog"))
    }

    @Test func outputsThatWouldLoseAlertsAreRefused() {
        for key in ["program_output", "grpc_output"] {
            do {
                _ = try ConfigLoader.load(text: "\(key):\n  enabled: true\n", origin: "o.yaml")
                Issue.record("\(key).enabled: true accepted")
            } catch {
                #expect(error.key == "\(key).enabled" && error.source.line == 2 && error.source.column == 12, "\(error)")
                #expect(error.message.contains("use http_output"), "\(error)")
            }
        }
    }
}

/// falco.yaml-only keys inside sections Vigil shares with Falco.
@Suite struct FalcoSectionKeysTests {
    @Test func sectionKeysAreAcceptedOrRefused() throws {
        let c = try ConfigLoader.load(text: """
            webserver: {enabled: true, listen_port: 8765, ssl_enabled: false, ssl_certificate: /etc/falco/falco.pem}
            http_output: {enabled: false, url: "", compress_uploads: false, keep_alive: false, max_consecutive_timeouts: 5}
            engine: {modern_ebpf: {disable_iterators: false}}
            """, origin: "s.yaml")
        #expect(c.ignoredFalcoKeys.map(\.name) == ["webserver.ssl_enabled", "webserver.ssl_certificate", "http_output.compress_uploads",
                                                  "http_output.keep_alive", "http_output.max_consecutive_timeouts"])
        #expect(c.webserver.listenPort == 8765)
        do {
            _ = try ConfigLoader.load(text: "", origin: "s.yaml", overrides: ["webserver.ssl_enabled=true"])
            Issue.record("ssl_enabled: true accepted")
        } catch {
            #expect(error.key == "webserver.ssl_enabled" && error.source.origin == "-o webserver.ssl_enabled=true", "\(error)")
            #expect(error.message.contains("plain HTTP"))
        }
        do {
            _ = try ConfigLoader.load(text: "outputs_queue:\n  capacity: 0\n", origin: "s.yaml")
            Issue.record("capacity 0 accepted")
        } catch {
            #expect(error.key == "outputs_queue.capacity" && error.source.line == 2 && error.source.column == 13, "\(error)")
            #expect(error.message.contains("Falco's unbounded queue"))
        }
    }
}
