import Foundation
import Testing

/// The configuration the DaemonSet gives the agent is valid: `vigil config check` accepts the
/// ConfigMap's vigil.yaml with the DaemonSet's own arguments, laid out the way the kubelet
/// projects a ConfigMap (timestamped directory, `..data` symlink, one symlink per key).
@Suite(.enabled(if: (Deploy.pythonToolsInstalled && Deploy.vigilBinary != nil) || Deploy.isCI,
                "needs the deploy test tools (make deploy-tools) and a built vigil; skipped outside CI"))
struct AgentConfigTests {
    /// Writes the ConfigMaps as the kubelet would mount them under `root`.
    static func project(_ objects: [JSON], root: String) throws {
        let fm = FileManager.default
        for (name, mount) in [("vigil-config", "/etc/vigil"), ("vigil-rules-local", "/etc/vigil-rules.d")] {
            let dir = root + mount
            let stamp = "..2026_01_01_00_00_00.000000001"
            try fm.createDirectory(atPath: dir + "/" + stamp, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: dir + "/..data", withDestinationPath: stamp)
            guard let cm = Deploy.object(objects, kind: "ConfigMap", name: name) else { continue }
            for (key, value) in cm["data"].object {
                try (value.string ?? "").write(toFile: dir + "/" + stamp + "/" + key, atomically: true, encoding: .utf8)
                try fm.createSymbolicLink(atPath: dir + "/" + key, withDestinationPath: "..data/" + key)
            }
        }
    }

    /// Runs `vigil config check` with the DaemonSet's arguments (paths moved under `root`).
    static func configCheck(_ objects: [JSON]) throws -> (Deploy.Result, JSON, root: String) {
        let binary = try #require(Deploy.vigilBinary)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-kubelet-\(UUID().uuidString)").path
        try project(objects, root: root)
        let ds = try #require(Deploy.object(objects, kind: "DaemonSet"))
        var args = ds["spec"]["template"]["spec"]["containers"][0]["args"].array.compactMap(\.string)
        #expect(args.first == "run")
        args = args.dropFirst().map { $0.hasPrefix("/etc/vigil") ? root + $0 : $0 }
        let r = try Deploy.run([binary, "config", "check"] + args)
        var effective = JSON.null
        if r.status == 0 { effective = try Deploy.yaml(r.stdout) }
        return (r, effective, root)
    }

    static func expectDaemonSetSettings(_ objects: [JSON], _ effective: JSON, root: String) throws {
        let ds = try #require(Deploy.object(objects, kind: "DaemonSet"))
        let c = ds["spec"]["template"]["spec"]["containers"][0]
        let port = try #require(c["ports"].array.first { $0["name"].string == "metrics" }?["containerPort"].int)
        #expect(effective["webserver"]["enabled"] == .bool(true))
        #expect(effective["webserver"]["listen_port"].int == port, "the probes' port is not the agent's listen port")
        #expect(effective["webserver"]["k8s_healthz_endpoint"].string == c["livenessProbe"]["httpGet"]["path"].string)
        #expect(effective["webserver"]["readiness_endpoint"].string == c["readinessProbe"]["httpGet"]["path"].string)
        #expect(effective["stdout_output"]["enabled"] == .bool(true))
        #expect(effective["json_output"] == .bool(true))
        #expect(effective["k8s"]["enabled"] == .bool(true))
        #expect(effective["rules_files"] == .array([.string(root + "/etc/vigil"), .string(root + "/etc/vigil-rules.d")]))
        // The runtime state the enrichment reads is what the DaemonSet mounts.
        let mounts = c["volumeMounts"].array.compactMap { $0["mountPath"].string }
        if let containerd = effective["containerd"]["state_root"].string, effective["containerd"]["enabled"] == .bool(true) {
            #expect(mounts.contains { $0.hasPrefix(containerd + "/") }, "nothing mounted under containerd.state_root \(containerd)")
        }
        if let crio = effective["crio"]["state_root"].string, effective["crio"]["enabled"] == .bool(true) {
            #expect(mounts.contains { $0.hasPrefix(crio + "/") }, "nothing mounted under crio.state_root \(crio)")
        }
    }

    @Test func manifestConfigurationIsValid() throws {
        guard Deploy.requireTools() else { return }
        _ = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let objects = try Deploy.yamlDocuments(Deploy.manifestFiles)
        let (r, effective, root) = try Self.configCheck(objects)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(r.status == 0, "vigil config check: \(r.output)")
        try Self.expectDaemonSetSettings(objects, effective, root: root)
    }

    @Test func chartConfigurationWithEveryOptionIsValid() throws {
        guard Deploy.requireTools() else { return }
        _ = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let objects = try Deploy.renderedObjects(values: [Deploy.fixtures + "/values-all-options.yaml"])
        let (r, effective, root) = try Self.configCheck(objects)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(r.status == 0, "vigil config check: \(r.output)")
        try Self.expectDaemonSetSettings(objects, effective, root: root)
        #expect(effective["file_output"]["enabled"] == .bool(true))
        #expect(effective["file_output"]["filename"].string == "/var/log/vigil/events.log")
        #expect(effective["syslog_output"]["enabled"] == .bool(true))
        #expect(effective["http_output"]["url"].string == "http://falcosidekick.falcosidekick.svc.cluster.local:2801/")
        #expect(effective["priority"].string == "warning")
        #expect(effective["outputs_queue"]["capacity"].int == 20000)
    }

    /// config check does reject a bad key, so the tests above can fail.
    @Test func configCheckRejectsAnUnknownOverride() throws {
        guard Deploy.requireTools() else { return }
        let binary = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let r = try Deploy.run([binary, "config", "check", "-c", Deploy.path("rules/vigil.yaml"), "-o", "webserver.listen_prot=1"])
        #expect(r.status != 0)
    }
}
