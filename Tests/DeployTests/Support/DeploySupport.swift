import Foundation
import Testing

/// Paths and process helpers shared by the deployment tests.
enum Deploy {
    /// The repository root (this file is Tests/DeployTests/Support/DeploySupport.swift).
    static let repo: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String { repo.appendingPathComponent(relative).path }

    static let manifestsDir = path("deploy/kubernetes")
    static let chartDir = path("deploy/helm/vigil")
    static let fixtures = path("Tests/Fixtures/deploy")
    static let venv = path("build/venv")
    static let python = venv + "/bin/python"

    /// `VIGIL_CI=1`: missing tools are failures, not skips.
    static let isCI = ProcessInfo.processInfo.environment["VIGIL_CI"] == "1"

    /// The Kubernetes versions the manifests are validated against: the newest kubernetes-validate
    /// ships, and the oldest Vigil supports (1.30: `appArmorProfile` is a field there).
    static let kubernetesVersions = ["1.37.0", "1.30.0"]

    /// The plain manifests, in apply order.
    static var manifestFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: manifestsDir)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { manifestsDir + "/" + $0 }
    }

    // MARK: tools

    static func executable(_ p: String) -> Bool { FileManager.default.isExecutableFile(atPath: p) }

    /// Whether the venv tools `make deploy-tools` installs are present.
    static var pythonToolsInstalled: Bool {
        executable(python) && executable(venv + "/bin/kubernetes-validate") && executable(venv + "/bin/checkov")
    }

    /// Tests that need the venv run when it is installed, and also under CI (where they then fail).
    static var pythonToolsOrCI: Bool { pythonToolsInstalled || isCI }

    /// Records a clear failure when a tool is missing under CI; true when the test can go on.
    static func requireTools(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if pythonToolsInstalled { return true }
        Issue.record("""
            the deploy test tools are missing from \(venv) (kubernetes-validate, checkov): \
            `make deploy-tools` installs them from PyPI
            """, sourceLocation: sourceLocation)
        return false
    }

    /// The `vigil` binary `swift build` made (debug first, as `make test` builds it).
    static var vigilBinary: String? {
        [path(".build/debug/vigil"), path(".build/release/vigil")].first(where: executable)
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: String { stdout + stderr }
    }

    /// Runs a program to completion (stdout and stderr captured through files: no pipe deadlock).
    static func run(_ argv: [String], cwd: String? = nil, environment: [String: String]? = nil) throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-deploy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        p.currentDirectoryURL = URL(fileURLWithPath: cwd ?? repo.path)
        if let environment { p.environment = environment }
        let outH = try FileHandle(forWritingTo: out), errH = try FileHandle(forWritingTo: err)
        p.standardOutput = outH
        p.standardError = errH
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try outH.close(); try errH.close()
        return Result(status: p.terminationStatus,
                      stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    // MARK: YAML through PyYAML (the venv has it: kubernetes-validate depends on it)

    /// Every non-empty YAML document of the files, parsed with PyYAML.
    static func yamlDocuments(_ files: [String]) throws -> [JSON] {
        let script = """
            import json, sys, yaml
            docs = []
            for f in sys.argv[1:]:
                with open(f, encoding="utf-8") as fh:
                    docs += [d for d in yaml.safe_load_all(fh) if d is not None]
            print(json.dumps(docs))
            """
        let r = try run([python, "-c", script] + files)
        guard r.status == 0 else { throw DeployError("YAML parse failed: \(r.stderr)") }
        guard case .array(let docs) = try JSON.parse(r.stdout) else { throw DeployError("expected a list") }
        return docs
    }

    /// Parses one YAML text.
    static func yaml(_ text: String) throws -> JSON {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-yaml-\(UUID().uuidString).yaml")
        try text.write(to: dir, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try yamlDocuments([dir.path]).first ?? .null
    }

    /// Renders the chart with the tests' renderer; the YAML stream.
    static func renderChart(values: [String] = [], setJSON: [String] = [],
                            chart: String = chartDir) throws -> Result {
        var argv = [python, fixtures + "/helm_render.py", chart, "--release", "vigil", "--namespace", "vigil"]
        for v in values { argv += ["-f", v] }
        for s in setJSON { argv += ["--set-json", s] }
        return try run(argv)
    }

    /// Renders the chart and parses the objects.
    static func renderedObjects(values: [String] = [], setJSON: [String] = []) throws -> [JSON] {
        let r = try renderChart(values: values, setJSON: setJSON)
        guard r.status == 0 else { throw DeployError("chart render failed (\(r.status)): \(r.stderr)") }
        let file = try temporaryFile(r.stdout, name: "rendered.yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try yamlDocuments([file])
    }

    /// One scratch tree shared by the schema and checkov tests (rendered once per test run):
    /// manifests/ (deploy/kubernetes), chart-default/ and chart-all/ (the chart rendered with its
    /// defaults and with every option), examples/ (the Kubernetes objects in deploy/examples).
    static let scanTree: Swift.Result<String, DeployError> = {
        do {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-scan-\(UUID().uuidString)").path
            let fm = FileManager.default
            for sub in ["manifests", "chart-default", "chart-all", "examples"] {
                try fm.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
            }
            for f in manifestFiles { try fm.copyItem(atPath: f, toPath: root + "/manifests/" + (f as NSString).lastPathComponent) }
            for (sub, values) in [("chart-default", [String]()), ("chart-all", [fixtures + "/values-all-options.yaml"])] {
                let r = try renderChart(values: values)
                guard r.status == 0 else { return .failure(DeployError("chart render (\(sub)) failed: \(r.stderr)")) }
                try r.stdout.write(toFile: root + "/" + sub + "/rendered.yaml", atomically: true, encoding: .utf8)
            }
            for f in exampleManifests { try fm.copyItem(atPath: f, toPath: root + "/examples/" + (f as NSString).lastPathComponent) }
            return .success(root)
        } catch {
            return .failure(DeployError("\(error)"))
        }
    }()

    /// The Kubernetes objects among the examples.
    static var exampleManifests: [String] {
        [path("deploy/examples/falcosidekick/falcosidekick.yaml"), path("deploy/examples/local-rules.yaml")]
    }

    /// The YAML files of the scan tree, by group.
    static func scanFiles(_ group: String) throws -> [String] {
        let root = try scanTree.get()
        return try FileManager.default.contentsOfDirectory(atPath: root + "/" + group).sorted().map { root + "/" + group + "/" + $0 }
    }

    static func temporaryFile(_ text: String, name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-deploy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let f = dir.appendingPathComponent(name)
        try text.write(to: f, atomically: true, encoding: .utf8)
        return f.path
    }

    /// The one object of a kind (and name) among `objects`.
    static func object(_ objects: [JSON], kind: String, name: String? = nil) -> JSON? {
        objects.first { $0["kind"].string == kind && (name == nil || $0["metadata"]["name"].string == name) }
    }
}

struct DeployError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
