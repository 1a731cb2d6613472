import Foundation
import Testing

/// The Helm chart renders the same objects as the plain manifests (which are the tested source),
/// and its values do what they say.
@Suite(.enabled(if: Deploy.pythonToolsOrCI, "deploy test tools not installed (make deploy-tools); skipped outside CI"))
struct ChartTests {
    static func key(_ o: JSON) -> String {
        "\(o["kind"].string ?? "?")/\(o["metadata"]["namespace"].string ?? "")/\(o["metadata"]["name"].string ?? "?")"
    }

    @Test func chartWithNamespaceRendersExactlyTheManifests() throws {
        guard Deploy.requireTools() else { return }
        let manifests = try Deploy.yamlDocuments(Deploy.manifestFiles)
        let rendered = try Deploy.renderedObjects(setJSON: ["namespace.create=true"])
        let m = Dictionary(manifests.map { (Self.key($0), $0) }, uniquingKeysWith: { a, _ in a })
        let c = Dictionary(rendered.map { (Self.key($0), $0) }, uniquingKeysWith: { a, _ in a })
        #expect(manifests.count == m.count && rendered.count == c.count, "duplicate objects")
        #expect(m.keys.sorted() == c.keys.sorted())
        for (k, obj) in m {
            guard let other = c[k] else { continue }
            #expect(JSON.differences(obj, other) == [], "\(k): manifest vs chart")
        }
    }

    @Test func defaultChartLeavesTheNamespaceToHelm() throws {
        guard Deploy.requireTools() else { return }
        let rendered = try Deploy.renderedObjects()
        #expect(Deploy.object(rendered, kind: "Namespace") == nil)
        #expect(Deploy.object(rendered, kind: "DaemonSet") != nil)
        #expect(Deploy.object(rendered, kind: "ConfigMap", name: "vigil-rules-local") == nil)
    }

    @Test func valuesReachTheDaemonSet() throws {
        guard Deploy.requireTools() else { return }
        let objects = try Deploy.renderedObjects(values: [Deploy.fixtures + "/values-all-options.yaml"],
                                                 setJSON: ["metrics.port=9100", "image.tag=\"1.2.3\""])
        let ds = try #require(Deploy.object(objects, kind: "DaemonSet"))
        let c = ds["spec"]["template"]["spec"]["containers"][0]
        let args = c["args"].array.compactMap(\.string)
        for expected in ["webserver.listen_port=9100", "file_output.enabled=true", "file_output.filename=/var/log/vigil/events.log",
                         "syslog_output.enabled=true", "http_output.enabled=true",
                         "http_output.url=http://falcosidekick.falcosidekick.svc.cluster.local:2801/",
                         "priority=warning", "outputs_queue.capacity=20000", "log_level=debug"] {
            #expect(args.contains(expected), "\(expected) missing from \(args)")
        }
        #expect(c["ports"][0]["containerPort"].int == 9100)
        #expect(DaemonSetPolicy.metricsPort(c) == 9100)
        #expect(ds["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"].string == "9100")
        // A digest wins over the tag.
        #expect(c["image"].string?.hasPrefix("registry.example.com/vigil/vigil@sha256:") == true)
        // Extra rules and disabled rules land in vigil-rules-local, next to (not instead of) the defaults.
        let local = try #require(Deploy.object(objects, kind: "ConfigMap", name: "vigil-rules-local"))
        #expect(local["data"]["my_rules.yaml"].string?.contains("override:") == true)
        let disabled = try Deploy.yaml(try #require(local["data"]["zz-disabled-rules.yaml"].string))
        #expect(disabled[0]["enabled"] == .bool(false))
        #expect(Deploy.object(objects, kind: "ConfigMap", name: "vigil-config") != nil)
    }

    @Test func conflictingOutputsAreRefused() throws {
        guard Deploy.requireTools() else { return }
        let r = try Deploy.renderChart(setJSON: ["outputs.http.enabled=true", "outputs.http.url=\"http://x/\"",
                                                 "outputs.falcosidekick.enabled=true"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("enable one of them"))
        let noURL = try Deploy.renderChart(setJSON: ["outputs.http.enabled=true"])
        #expect(noURL.status == 1)
        #expect(noURL.stderr.contains("outputs.http.url"))
    }

    /// values.schema.json turns misspelt keys and unsafe values into errors (Helm applies it too).
    @Test func schemaRefusesBadValues() throws {
        guard Deploy.requireTools() else { return }
        for (set, message) in [("outputs.falcosidkick={}", "'falcosidkick' was unexpected"),
                               ("outputs.file.hostPath=\"/\"", "outputs.file.hostPath"),
                               ("outputs.file.hostPath=\"/var/log/../../etc\"", "outputs.file.hostPath"),
                               ("seccompProfile.type=\"Unconfined\"", "seccompProfile.type"),
                               ("metrics.port=\"8765\"", "metrics.port"),
                               ("rules.extra={\"a/b.yaml\": \"x\"}", "rules.extra"),
                               ("image.digest=\"latest\"", "image.digest")] {
            let r = try Deploy.renderChart(setJSON: [set])
            #expect(r.status == 1, "\(set) was accepted")
            #expect(r.stderr.contains(message), "\(set): \(r.stderr)")
        }
    }

    /// The renderer refuses what it does not implement instead of rendering it wrongly.
    @Test func rendererRefusesUnsupportedTemplates() throws {
        guard Deploy.requireTools() else { return }
        for (template, message) in [("{{ tpl .Values.x . }}", "unsupported function 'tpl'"),
                                    ("{{ template \"x\" . }}", "unsupported: {{ template }}"),
                                    ("{{ .Files.Get \"a\" }}", "unsupported: .Files"),
                                    ("{{ $x := 1 }}", "variable assignment")] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-chart-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("templates"), withIntermediateDirectories: true)
            try "apiVersion: v2\nname: t\nversion: 0.1.0\n".write(to: dir.appendingPathComponent("Chart.yaml"), atomically: true, encoding: .utf8)
            try "x: 1\n".write(to: dir.appendingPathComponent("values.yaml"), atomically: true, encoding: .utf8)
            try ("a: " + template + "\n").write(to: dir.appendingPathComponent("templates/a.yaml"), atomically: true, encoding: .utf8)
            let r = try Deploy.renderChart(chart: dir.path)
            #expect(r.status == 2, "\(template) rendered: \(r.stdout)")
            #expect(r.stderr.contains(message), "\(template): \(r.stderr)")
            try? FileManager.default.removeItem(at: dir)
        }
    }

    /// Numbers print the way Helm prints them (float64 through %v).
    @Test func rendererPrintsNumbersLikeHelm() throws {
        guard Deploy.requireTools() else { return }
        let script = """
            import sys; sys.path.insert(0, sys.argv[1])
            from helm_render import go_number
            print(" ".join(go_number(v) for v in [8765, 100000, 1000000, 1234567, 0.5, 0.0001, 0.00001, -3, 2.5e-7]))
            """
        let r = try Deploy.run([Deploy.python, "-c", script, Deploy.fixtures])
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == "8765 100000 1e+06 1.234567e+06 0.5 0.0001 1e-05 -3 2.5e-07")
    }
}
