import Testing
import Foundation
import FoundationEssentials

/// Every manifest, the rendered chart (defaults, and every option on) and the examples validate
/// against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown fields are errors).
/// One run per Kubernetes version over all of them.
@Suite(.enabled(if: Deploy.pythonToolsOrCI, "deploy test tools not installed (make deploy-tools); skipped outside CI"))
struct SchemaTests {
    func validate(_ files: [String], version: String) throws -> Deploy.Result {
        try Deploy.run([Deploy.venv + "/bin/kubernetes-validate", "--strict", "--quiet", "-k", version] + files)
    }

    @Test(arguments: Deploy.kubernetesVersions)
    func everythingValidates(version: String) throws {
        guard Deploy.requireTools() else { return }
        let groups = ["manifests", "chart-default", "chart-all", "examples"]
        var files: [String] = []
        for g in groups {
            let f = try Deploy.scanFiles(g)
            #expect(!f.isEmpty, "nothing in \(g)")
            files += f
        }
        #expect(try Deploy.scanFiles("manifests").count >= 6)
        let r = try validate(files, version: version)
        #expect(r.status == 0, "kubernetes-validate \(version): \(r.output)")
    }

    /// The validator is strict: a misspelt field is rejected (so the check above can fail).
    @Test func validatorRejectsAnUnknownField() throws {
        guard Deploy.requireTools() else { return }
        let text = try String(contentsOfFile: Deploy.manifestsDir + "/40-daemonset.yaml", encoding: .utf8)
            .replacingOccurrences(of: "readOnlyRootFilesystem: true", with: "readOnlyRootFileSystem: true")
        let file = try Deploy.temporaryFile(text, name: "bad.yaml")
        let r = try validate([file], version: Deploy.kubernetesVersions[0])
        #expect(r.status != 0)
        #expect(r.output.contains("readOnlyRootFileSystem"))
    }
}
