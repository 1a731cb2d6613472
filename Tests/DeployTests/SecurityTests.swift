import Testing
import Foundation
import FoundationEssentials

/// The DaemonSet is least-privilege: no privileged, ALL dropped, only the listed capabilities,
/// no writable host path that is not justified; RBAC reads pods only.
@Suite(.enabled(if: Deploy.pythonToolsOrCI, "deploy test tools not installed (make deploy-tools); skipped outside CI"))
struct SecurityTests {
    func manifestDaemonSet() throws -> JSON {
        let docs = try Deploy.yamlDocuments(Deploy.manifestFiles)
        return try #require(Deploy.object(docs, kind: "DaemonSet", name: "vigil"))
    }

    @Test func manifestDaemonSetMeetsThePolicy() throws {
        guard Deploy.requireTools() else { return }
        let ds = try manifestDaemonSet()
        #expect(DaemonSetPolicy.violations(ds) == [])
        #expect(DaemonSetPolicy.addedCapabilities(ds) == DaemonSetPolicy.defaultCapabilities)
    }

    @Test func chartDaemonSetMeetsThePolicyWithDefaultValues() throws {
        guard Deploy.requireTools() else { return }
        let ds = try #require(Deploy.object(try Deploy.renderedObjects(), kind: "DaemonSet"))
        #expect(DaemonSetPolicy.violations(ds) == [])
        #expect(DaemonSetPolicy.addedCapabilities(ds) == DaemonSetPolicy.defaultCapabilities)
    }

    @Test func chartDaemonSetMeetsThePolicyWithEveryOption() throws {
        guard Deploy.requireTools() else { return }
        let objects = try Deploy.renderedObjects(values: [Deploy.fixtures + "/values-all-options.yaml"])
        let ds = try #require(Deploy.object(objects, kind: "DaemonSet"))
        // The file output's directory is the one writable host path, and only because it is enabled.
        #expect(DaemonSetPolicy.violations(ds, writableAllowed: ["/var/log/vigil"]) == [])
        #expect(DaemonSetPolicy.violations(ds).contains { $0.contains("/var/log/vigil is mounted writable") })
        // SYS_RESOURCE and KILL (enforcement.mode=enforce) only because they are asked for.
        #expect(DaemonSetPolicy.addedCapabilities(ds) == DaemonSetPolicy.defaultCapabilities.union(["SYS_RESOURCE", "KILL"]))
    }

    /// CAP_KILL comes with enforcement.mode=enforce only: dry-run and off keep the default set.
    @Test(arguments: ["dry-run", "off", "enforce"])
    func killCapabilityOnlyWhenEnforcing(mode: String) throws {
        guard Deploy.requireTools() else { return }
        let objects = try Deploy.renderedObjects(setJSON: ["enforcement.mode=\"\(mode)\""])
        let ds = try #require(Deploy.object(objects, kind: "DaemonSet"))
        let caps = DaemonSetPolicy.addedCapabilities(ds)
        #expect(caps == (mode == "enforce" ? DaemonSetPolicy.defaultCapabilities.union(["KILL"]) : DaemonSetPolicy.defaultCapabilities))
        #expect(DaemonSetPolicy.violations(ds) == [])
    }

    /// The checker itself catches what it is there to catch.
    @Test func policyRejectsAPrivilegedDaemonSet() throws {
        guard Deploy.requireTools() else { return }
        var text = try String(contentsOfFile: Deploy.manifestsDir + "/40-daemonset.yaml", encoding: .utf8)
        let edits = [
            ("privileged: false", "privileged: true"),
            ("                - BPF\n", "                - BPF\n                - SYS_ADMIN\n"),
            ("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"),
            ("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
            ("            - name: cgroup\n              mountPath: /sys/fs/cgroup\n              readOnly: true\n",
             "            - name: cgroup\n              mountPath: /sys/fs/cgroup\n              readOnly: false\n"
             + "            - name: root\n              mountPath: /host\n              readOnly: true\n"),
            ("      volumes:\n", "      volumes:\n        - name: root\n          hostPath:\n            path: /\n"),
            ("        seccompProfile:\n          type: RuntimeDefault", "        seccompProfile:\n          type: Unconfined"),
            ("      tolerations:\n        - operator: Exists\n", "      tolerations:\n        - operator: Exists\n          key: a\n"),
        ]
        for (from, to) in edits {
            #expect(text.contains(from), "edit target missing: \(from)")
            text = text.replacingOccurrences(of: from, with: to)
        }
        let file = try Deploy.temporaryFile(text, name: "ds.yaml")
        let ds = try #require(try Deploy.yamlDocuments([file]).first)
        let found = DaemonSetPolicy.violations(ds)
        for expected in ["privileged must be false", "SYS_ADMIN is not in the allowed list", "allowPrivilegeEscalation",
                         "readOnlyRootFilesystem", "/sys/fs/cgroup is mounted writable", "host path / is not a justified mount",
                         "seccomp profile", "tolerations"] {
            #expect(found.contains { $0.contains(expected) }, "no violation mentioning \(expected) in \(found)")
        }
    }

    @Test func clusterRoleOnlyReadsPods() throws {
        guard Deploy.requireTools() else { return }
        let docs = try Deploy.yamlDocuments(Deploy.manifestFiles)
        for objects in [docs, try Deploy.renderedObjects()] {
            let role = try #require(Deploy.object(objects, kind: "ClusterRole"))
            let expected: JSON = .array([.object([
                "apiGroups": .array([.string("")]),
                "resources": .array([.string("pods")]),
                "verbs": .array([.string("get"), .string("list"), .string("watch")]),
            ])])
            #expect(role["rules"] == expected)
            #expect(role["aggregationRule"].isNull)
            let binding = try #require(Deploy.object(objects, kind: "ClusterRoleBinding"))
            #expect(binding["roleRef"]["name"] == role["metadata"]["name"])
            #expect(binding["subjects"][0]["name"].string == "vigil")
            #expect(binding["subjects"][0]["namespace"].string == "vigil")
            #expect(Deploy.object(objects, kind: "Role") == nil)
        }
    }

    /// Every object lives in the vigil namespace (or is cluster-scoped), never in default.
    @Test func namespacedObjectsAreInTheVigilNamespace() throws {
        guard Deploy.requireTools() else { return }
        let clusterScoped: Set<String> = ["Namespace", "ClusterRole", "ClusterRoleBinding"]
        for o in try Deploy.yamlDocuments(Deploy.manifestFiles) where !clusterScoped.contains(o["kind"].string ?? "") {
            #expect(o["metadata"]["namespace"].string == "vigil", "\(o["kind"]) \(o["metadata"]["name"])")
        }
    }
}
