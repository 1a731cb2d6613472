import Foundation
import Testing

/// checkov (a real infrastructure-as-code scanner) finds nothing in the manifests or the rendered
/// chart: every check passes, or is skipped in the manifest with a written reason.
@Suite(.enabled(if: Deploy.pythonToolsOrCI, "deploy test tools not installed (make deploy-tools); skipped outside CI"))
struct CheckovTests {
    struct Report {
        var passed = 0, failed: [String] = [], skipped: [(id: String, reason: String)] = [], parsingErrors = 0, resources = 0
    }

    /// Runs checkov on a directory (offline: --skip-download) and sums its Kubernetes results.
    func scan(_ dir: String) throws -> Report {
        let r = try Deploy.run([Deploy.venv + "/bin/checkov", "-d", dir, "--framework", "kubernetes",
                                "-o", "json", "--compact", "--skip-download"])
        let json = try JSON.parse(r.stdout)
        var report = Report()
        let results: [JSON] = json.array.isEmpty ? [json] : json.array
        for res in results {
            let s = res["summary"]
            report.passed += s["passed"].int ?? 0
            report.parsingErrors += s["parsing_errors"].int ?? 0
            report.resources += s["resource_count"].int ?? 0
            for f in res["results"]["failed_checks"].array {
                report.failed.append("\(f["check_id"].string ?? "?") \(f["check_name"].string ?? "") on \(f["resource"].string ?? "?")")
            }
            for k in res["results"]["skipped_checks"].array {
                report.skipped.append((k["check_id"].string ?? "?", k["check_result"]["suppress_comment"].string ?? ""))
            }
        }
        return report
    }

    func expectClean(_ report: Report, _ what: String) {
        #expect(report.failed == [], "checkov failures in \(what)")
        #expect(report.parsingErrors == 0, "checkov could not parse \(what)")
        #expect(report.resources >= 7, "checkov scanned only \(report.resources) resources in \(what)")
        #expect(report.passed >= 50, "checkov ran only \(report.passed) passing checks on \(what)")
        for s in report.skipped {
            #expect(s.reason.count >= 30, "\(s.id) is skipped in \(what) without a written reason: '\(s.reason)'")
        }
    }

    @Test func manifestsPassCheckov() throws {
        guard Deploy.requireTools() else { return }
        expectClean(try scan(Deploy.manifestsDir), "deploy/kubernetes")
    }

    @Test(arguments: [[], ["values-all-options.yaml"]])
    func renderedChartPassesCheckov(values: [String]) throws {
        guard Deploy.requireTools() else { return }
        let r = try Deploy.renderChart(values: values.map { Deploy.fixtures + "/" + $0 })
        #expect(r.status == 0, "render: \(r.stderr)")
        let file = try Deploy.temporaryFile(r.stdout, name: "rendered.yaml")
        expectClean(try scan((file as NSString).deletingLastPathComponent), "the chart rendered with \(values)")
    }

    /// The scan does find problems: with the skip annotations removed, their checks fail.
    @Test func checkovFailsWithoutTheSkipReasons() throws {
        guard Deploy.requireTools() else { return }
        let text = try String(contentsOfFile: Deploy.manifestsDir + "/40-daemonset.yaml", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("checkov.io/skip") }.joined(separator: "\n")
        let file = try Deploy.temporaryFile(text, name: "daemonset.yaml")
        let report = try scan((file as NSString).deletingLastPathComponent)
        #expect(report.failed.contains { $0.hasPrefix("CKV_K8S_17 ") }, "hostPID not reported: \(report.failed)")
        #expect(report.failed.contains { $0.hasPrefix("CKV_K8S_25 ") }, "added capabilities not reported: \(report.failed)")
    }
}
