import Foundation
import Testing

/// The rules the DaemonSet mounts load and behave: `vigil rules validate` on the ConfigMaps as
/// the kubelet projects them, and `vigil rules test` for what deploy/README.md tells users to try.
@Suite(.enabled(if: (Deploy.pythonToolsInstalled && Deploy.vigilBinary != nil) || Deploy.isCI,
                "needs the deploy test tools (make deploy-tools) and a built vigil; skipped outside CI"))
struct RulesTests {
    /// Projects the ConfigMaps into a temporary root; returns the root.
    static func projected(_ objects: [JSON]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-rules-\(UUID().uuidString)").path
        try AgentConfigTests.project(objects, root: root)
        return root
    }

    static func manifestsWithLocalRules() throws -> [JSON] {
        try Deploy.yamlDocuments(Deploy.manifestFiles + [Deploy.path("deploy/examples/local-rules.yaml")])
    }

    static func validate(_ objects: [JSON]) throws -> JSON {
        let binary = try #require(Deploy.vigilBinary)
        let root = try projected(objects)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try Deploy.run([binary, "rules", "validate", root + "/etc/vigil", root + "/etc/vigil-rules.d", "--format", "json"])
        #expect(r.status == 0, "vigil rules validate: \(r.output)")
        let report = try JSON.parse(r.stdout)
        #expect(report["ok"] == .bool(true))
        #expect(report["errors"].int == 0)
        #expect(report["rules_skipped"].array.isEmpty, "skipped rules: \(report["rules_skipped"])")
        // The one expected remark: vigil.yaml, next to the rules, is the configuration, not rules.
        for d in report["diagnostics"].array where !(d["file"].string ?? "").hasSuffix("/etc/vigil/vigil.yaml") {
            Issue.record("unexpected diagnostic: \(d)")
        }
        return report
    }

    @Test func manifestRulesAndTheLocalRulesExampleLoad() throws {
        guard Deploy.requireTools() else { return }
        _ = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let defaults = try Self.validate(try Deploy.yamlDocuments(Deploy.manifestFiles))
        #expect((defaults["rules"].int ?? 0) >= 30, "fewer default rules than expected: \(defaults["rules"])")
        let withLocal = try Self.validate(try Self.manifestsWithLocalRules())
        #expect(withLocal["files"].array.compactMap(\.string).contains { $0.hasSuffix("/etc/vigil-rules.d/local_rules.yaml") })
        #expect(withLocal["rules"].int == (defaults["rules"].int ?? 0) + 1, "the example adds one rule")
        #expect(withLocal["rules_disabled"].int == (defaults["rules_disabled"].int ?? 0) + 1, "the example disables one rule")
    }

    @Test func chartExtraAndDisabledRulesLoad() throws {
        guard Deploy.requireTools() else { return }
        _ = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let defaults = try Self.validate(try Deploy.yamlDocuments(Deploy.manifestFiles))
        let objects = try Deploy.renderedObjects(values: [Deploy.fixtures + "/values-all-options.yaml"])
        let report = try Self.validate(objects)
        #expect(report["files"].array.count == 3, "defaults, my_rules.yaml and zz-disabled-rules.yaml: \(report["files"])")
        #expect(report["rules_disabled"].int == (defaults["rules_disabled"].int ?? 0) + 2)
    }

    /// What deploy/README.md says triggers a default rule does, with the rules as deployed.
    @Test func readmeVerificationCommandsFireADefaultRule() throws {
        guard Deploy.requireTools() else { return }
        let binary = try #require(Deploy.vigilBinary, "no vigil binary: run swift build")
        let root = try Self.projected(try Self.manifestsWithLocalRules())
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tests = Deploy.fixtures + "/verify-tests.yaml"
        let r = try Deploy.run([binary, "rules", "test", "-r", root + "/etc/vigil", "-r", root + "/etc/vigil-rules.d", tests])
        #expect(r.status == 0, "vigil rules test: \(r.output)")
        #expect(r.stdout.contains("4 passed, 0 failed"), "\(r.stdout)")
        // Without the local rules the local-rules expectations fail: the test can fail.
        let without = try Deploy.run([binary, "rules", "test", "-r", root + "/etc/vigil", tests])
        #expect(without.status != 0)
        let readme = try String(contentsOfFile: Deploy.path("deploy/README.md"), encoding: .utf8)
        #expect(readme.contains("-- cat /etc/shadow"), "the README no longer shows the verification command")
        #expect(readme.contains("Sensitive authentication file read"))
    }
}
