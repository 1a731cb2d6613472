import Testing

/// Every manifest and the rendered chart validate against the Kubernetes OpenAPI schemas
/// (kubernetes-validate, strict: unknown fields are errors).
@Suite(.enabled(if: Deploy.pythonToolsOrCI, "deploy test tools not installed (make deploy-tools); skipped outside CI"))
struct SchemaTests {
    func validate(_ files: [String], version: String) throws -> Deploy.Result {
        try Deploy.run([Deploy.venv + "/bin/kubernetes-validate", "--strict", "--quiet", "-k", version] + files)
    }

    @Test(arguments: Deploy.kubernetesVersions)
    func manifestsValidate(version: String) throws {
        guard Deploy.requireTools() else { return }
        let files = Deploy.manifestFiles
        #expect(files.count >= 6)
        let r = try validate(files, version: version)
        #expect(r.status == 0, "kubernetes-validate \(version): \(r.output)")
    }

    @Test(arguments: [[], ["values-all-options.yaml"]])
    func renderedChartValidates(values: [String]) throws {
        guard Deploy.requireTools() else { return }
        let r = try Deploy.renderChart(values: values.map { Deploy.fixtures + "/" + $0 })
        #expect(r.status == 0, "render: \(r.stderr)")
        let file = try Deploy.temporaryFile(r.stdout, name: "rendered.yaml")
        for version in Deploy.kubernetesVersions {
            let v = try validate([file], version: version)
            #expect(v.status == 0, "kubernetes-validate \(version) on the chart rendered with \(values): \(v.output)")
        }
    }

    /// The validator is strict: a misspelt field is rejected (so the checks above can fail).
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
