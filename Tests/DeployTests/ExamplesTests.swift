import Foundation
import Testing
import VigilAlerts
import VigilCore
import VigilRules
#if canImport(Glibc)
import Glibc
#endif

/// The log-pipeline examples select exactly Vigil's alerts from the kubelet's container logs.
///
/// Neither Fluent Bit nor Vector can be installed on the build machines (no Debian or PyPI
/// package), so their configurations are checked structurally, and the Fluent Bit pipeline is
/// emulated (tail path glob, CRI line split, grep and JSON parser filters: exactly the plugins
/// the example uses; any other plugin fails the test) on alerts made by Vigil's own formatter.
@Suite struct ExamplesTests {
    static let examples = Deploy.path("deploy/examples")

    /// Alerts as Vigil writes them (its formatter), including hostile event data.
    static func alertLines() -> [String] {
        let a = Alert(timeNs: 1_790_000_000_123_456_789, rule: "Sensitive authentication file read", priority: .warning,
                      hostname: "node-1", message: "Sensitive authentication file read | file=/etc/shadow",
                      tags: ["host", "container", "T1003.008"],
                      outputFields: [("fd.name", .string("/etc/shadow")), ("proc.pid", .int(4242))])
        let hostile = Alert(timeNs: 1_790_000_000_000_000_001, rule: "Interactive shell in container", priority: .notice,
                            hostname: "node-1", message: "shell\n{\"rule\":\"fake\"}\u{1b}[31m",
                            tags: [], outputFields: [("proc.cmdline", .string("sh -c \"echo\nhi\""))])
        return [a, hostile].map { String(decoding: AlertFormatter.json($0), as: UTF8.self) }
    }

    /// The agent's own log lines (stderr), and a JSON line on stdout that is not an alert.
    static let logLine = #"{"ts":"2026-11-24T06:00:00.000000001Z","level":"info","component":"capture","msg":"attached","rule":"x"}"#
    static let notAlert = #"{"msg":"hello","level":"info"}"#

    /// A kubelet CRI log line.
    static func cri(_ stream: String, _ line: String) -> String { "2026-11-24T06:00:00.123456789Z \(stream) F \(line)" }

    // MARK: Fluent Bit

    struct Section { var name: String; var entries: [(String, String)] }

    static func parseFluentBit(_ path: String) throws -> [Section] {
        var sections: [Section] = []
        for (i, raw) in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw DeployError("\(path):\(i + 1): bad section header") }
                sections.append(Section(name: String(line.dropFirst().dropLast()).uppercased(), entries: []))
                continue
            }
            guard !sections.isEmpty, raw.hasPrefix(" ") || raw.hasPrefix("\t") else { throw DeployError("\(path):\(i + 1): entry outside a section or not indented") }
            let key = String(line.prefix { !$0.isWhitespace })
            let value = line.dropFirst(key.count).trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty else { throw DeployError("\(path):\(i + 1): \(key) without a value") }
            sections[sections.count - 1].entries.append((key, value))
        }
        return sections
    }

    static func value(_ s: Section, _ key: String) -> String? { s.entries.first { $0.0.lowercased() == key.lowercased() }?.1 }
    static func values(_ s: Section, _ key: String) -> [String] { s.entries.filter { $0.0.lowercased() == key.lowercased() }.map(\.1) }

    static func matches(_ pattern: String, _ text: String) -> Bool {
        text.range(of: pattern, options: .regularExpression) != nil
    }

    /// Runs the example's pipeline over one log file's lines; the records that reach the output.
    static func runFluentBit(_ sections: [Section], parsers: [Section], file: String, lines: [String]) throws -> [JSON] {
        let input = try #require(sections.first { $0.name == "INPUT" })
        #expect(value(input, "Name") == "tail")
        let glob = try #require(value(input, "Path"))
        guard fnmatch(glob, "/var/log/containers/" + file, 0) == 0 else { return [] }
        let tag = value(input, "Tag") ?? ""
        var records: [[String: JSON]] = lines.map { line in
            // CRI: TIME STREAM TAG(F|P) LOG
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            return ["time": .string(parts[0]), "stream": .string(parts[1]), "_p": .string(parts[2]), "log": .string(parts[3])]
        }
        for f in sections where f.name == "FILTER" {
            #expect(value(f, "Match") == tag, "filter does not match the input's tag")
            switch value(f, "Name") {
            case "grep":
                let op = (value(f, "Logical_Op") ?? "legacy").lowercased()
                let rules = values(f, "Regex").map { r -> (String, String) in
                    let k = String(r.prefix { !$0.isWhitespace })
                    return (k, r.dropFirst(k.count).trimmingCharacters(in: .whitespaces))
                }
                #expect(values(f, "Exclude").isEmpty, "Exclude is not emulated")
                records = records.filter { rec in
                    let results = rules.map { (k, re) in rec[k]?.string.map { matches(re, $0) } ?? false }
                    return op == "or" ? results.contains(true) : !results.contains(false)
                }
            case "parser":
                let parserName = try #require(value(f, "Parser"))
                let parser = try #require(parsers.first { value($0, "Name") == parserName }, "parser \(parserName) is not defined")
                #expect(value(parser, "Format") == "json")
                let key = try #require(value(f, "Key_Name"))
                let reserve = value(f, "Reserve_Data")?.lowercased() == "on"
                records = records.map { rec in
                    guard let text = rec[key]?.string, case .object(let parsed)? = try? JSON.parse(text) else { return rec }
                    return reserve ? rec.merging(parsed) { $1 } : parsed
                }
            default:
                Issue.record("filter \(value(f, "Name") ?? "?") is not emulated")
            }
        }
        return records.map { JSON.object($0) }
    }

    @Test func fluentBitForwardsExactlyTheAlerts() throws {
        let dir = Self.examples + "/fluent-bit"
        let sections = try Self.parseFluentBit(dir + "/fluent-bit.conf")
        let service = try #require(sections.first { $0.name == "SERVICE" })
        let parsersFile = try #require(Self.value(service, "Parsers_File"))
        let parsers = try Self.parseFluentBit(dir + "/" + parsersFile)
        let output = try #require(sections.first { $0.name == "OUTPUT" })
        #expect(Self.value(output, "Match") == Self.value(sections.first { $0.name == "INPUT" }!, "Tag"))

        let alerts = Self.alertLines()
        for a in alerts { #expect(!a.contains("\n"), "an alert spans lines: \(a)") }
        let lines = alerts.map { Self.cri("stdout", $0) } + [Self.cri("stderr", Self.logLine), Self.cri("stdout", Self.notAlert)]
        // The kubelet names the file <pod>_<namespace>_<container>-<container id>.log.
        let vigilFile = "vigil-x7k2p_vigil_vigil-" + String(repeating: "3f9a2b7c", count: 8) + ".log"
        let out = try Self.runFluentBit(sections, parsers: parsers, file: vigilFile, lines: lines)
        #expect(out.map { $0["rule"].string } == ["Sensitive authentication file read", "Interactive shell in container"])
        #expect(out.first?["output_fields"]["fd.name"].string == "/etc/shadow")
        #expect(out.last?["priority"].string == "Notice")
        // Other pods' logs are not read at all.
        for other in ["vigilant-web-5d8f_shop_web-" + String(repeating: "a", count: 64) + ".log",
                      "vigil-x7k2p_kube-system_vigil-" + String(repeating: "b", count: 64) + ".log"] {
            #expect(try Self.runFluentBit(sections, parsers: parsers, file: other, lines: lines).isEmpty, "\(other) was read")
        }
    }

    // MARK: Vector

    @Test(.enabled(if: Deploy.pythonToolsOrCI, "deploy test tools not installed (make deploy-tools); skipped outside CI"))
    func vectorPipelineIsWired() throws {
        guard Deploy.requireTools() else { return }
        let config = try #require(try Deploy.yamlDocuments([Self.examples + "/vector/vector.yaml"]).first)
        let sources = config["sources"].object, transforms = config["transforms"].object, sinks = config["sinks"].object
        let source = try #require(sources["vigil_logs"])
        #expect(source["type"].string == "kubernetes_logs")
        // The label selectors select the DaemonSet's pods and namespace.
        let manifests = try Deploy.yamlDocuments(Deploy.manifestFiles)
        let podLabels = try #require(Deploy.object(manifests, kind: "DaemonSet"))["spec"]["template"]["metadata"]["labels"]
        for term in (source["extra_label_selector"].string ?? "").split(separator: ",") {
            let kv = term.split(separator: "=").map(String.init)
            #expect(kv.count == 2 && podLabels[kv[0]].string == kv[1], "\(term) does not select Vigil's pods")
        }
        #expect(source["extra_namespace_label_selector"].string == "kubernetes.io/metadata.name=vigil")
        let remap = try #require(transforms["vigil_alerts"])
        #expect(remap["type"].string == "remap")
        #expect(remap["inputs"] == .array([.string("vigil_logs")]))
        let program = remap["source"].string ?? ""
        for needle in [#".stream != "stdout""#, "parse_json(.message)", "alert.rule", "alert.priority", "abort"] {
            #expect(program.contains(needle), "the remap program does not contain \(needle)")
        }
        #expect(remap["drop_on_abort"] == .bool(true))
        for (name, sink) in sinks {
            for input in sink["inputs"].array.compactMap(\.string) {
                #expect(transforms[input] != nil || sources[input] != nil, "sink \(name) reads unknown \(input)")
            }
            #expect(sink["encoding"]["codec"].string == "json")
        }
    }

    // MARK: falcosidekick and the local rules

    @Test(.enabled(if: Deploy.pythonToolsOrCI, "deploy test tools not installed (make deploy-tools); skipped outside CI"))
    func localRulesExampleIsWhatTheDaemonSetMounts() throws {
        guard Deploy.requireTools() else { return }
        // (Schema validation and checkov of the examples: SchemaTests and CheckovTests.)
        let files = Deploy.exampleManifests
        #expect(files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        // The local rules ConfigMap is the one the DaemonSet mounts at /etc/vigil-rules.d.
        let local = try #require(Deploy.object(try Deploy.yamlDocuments([files[1]]), kind: "ConfigMap"))
        let ds = try #require(Deploy.object(try Deploy.yamlDocuments(Deploy.manifestFiles), kind: "DaemonSet"))
        let volume = ds["spec"]["template"]["spec"]["volumes"].array.first { $0["configMap"]["name"] == local["metadata"]["name"] }
        #expect(volume?["configMap"]["optional"] == .bool(true))
        #expect(local["metadata"]["namespace"].string == "vigil")
    }

    /// The falcosidekick patch turns on http_output towards its Service, and the result is valid.
    @Test(.enabled(if: (Deploy.pythonToolsInstalled && Deploy.vigilBinary != nil) || Deploy.isCI,
                   "needs the deploy test tools and a built vigil; skipped outside CI"))
    func falcosidekickPatchConfiguresHTTPOutput() throws {
        guard Deploy.requireTools() else { return }
        _ = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        var objects = try Deploy.yamlDocuments(Deploy.manifestFiles)
        let patch = try JSON.parse(try String(contentsOfFile: Self.examples + "/falcosidekick/vigil-http-output.json", encoding: .utf8))
        let i = try #require(objects.firstIndex { $0["kind"].string == "DaemonSet" })
        // JSON patch, the subset used: add to the end of the container's args.
        var args = objects[i]["spec"]["template"]["spec"]["containers"][0]["args"].array
        for op in patch.array {
            #expect(op["op"].string == "add" && op["path"].string == "/spec/template/spec/containers/0/args/-")
            args.append(op["value"])
        }
        objects[i] = objects[i].setting(["spec", "template", "spec", "containers", "0", "args"], .array(args))
        #expect(DaemonSetPolicy.violations(objects[i]) == [])
        let (r, effective, root) = try AgentConfigTests.configCheck(objects)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(r.status == 0, "vigil config check: \(r.output)")
        #expect(effective["http_output"]["enabled"] == .bool(true))
        let sidekick = try Deploy.yamlDocuments([Self.examples + "/falcosidekick/falcosidekick.yaml"])
        let service = try #require(Deploy.object(sidekick, kind: "Service"))
        let port = service["spec"]["ports"][0]["port"].int ?? 0
        let url = "http://\(service["metadata"]["name"].string!).\(service["metadata"]["namespace"].string!).svc.cluster.local:\(port)/"
        #expect(effective["http_output"]["url"].string == url)
    }
}

extension JSON {
    /// A copy with the value at `path` (object keys, or array indexes as numbers) replaced.
    func setting(_ path: [String], _ value: JSON) -> JSON {
        guard let first = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch self {
        case .object(var o):
            o[first] = (o[first] ?? .null).setting(rest, value)
            return .object(o)
        case .array(var a):
            guard let i = Int(first), i >= 0, i < a.count else { return self }
            a[i] = a[i].setting(rest, value)
            return .array(a)
        default:
            return self
        }
    }
}
