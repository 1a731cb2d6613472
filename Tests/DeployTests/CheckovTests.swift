import Foundation
import Testing

/// checkov (a real infrastructure-as-code scanner) finds nothing in the manifests or the rendered
/// chart: every check passes, or is skipped in the manifest with a written reason.
@Suite(.enabled(if: Deploy.pythonToolsOrCI, "deploy test tools not installed (make deploy-tools); skipped outside CI"))
struct CheckovTests {
    struct Report: Sendable {
        var passed = 0, failed: [String] = [], skipped: [(id: String, reason: String)] = [], parsingErrors = 0, resources = 0
    }

    /// Runs checkov on a directory (offline: --skip-download); results grouped by the first
    /// directory of each file's path below it.
    static func scan(_ dir: String) throws -> [String: Report] {
        let r = try Deploy.run([Deploy.venv + "/bin/checkov", "-d", dir, "--framework", "kubernetes",
                                "-o", "json", "--compact", "--skip-download"])
        let json = try JSON.parse(r.stdout)
        var reports: [String: Report] = [:]
        var resources: [String: Set<String>] = [:]
        let results: [JSON] = json.array.isEmpty ? [json] : json.array
        func group(_ check: JSON) -> String {
            let path = (check["file_path"].string ?? "").split(separator: "/").map(String.init)
            return path.count > 1 ? path[0] : ""
        }
        for res in results {
            for p in res["results"]["passed_checks"].array {
                reports[group(p), default: Report()].passed += 1
                resources[group(p), default: []].insert(p["resource"].string ?? "")
            }
            for f in res["results"]["failed_checks"].array {
                reports[group(f), default: Report()].failed.append(
                    "\(f["check_id"].string ?? "?") \(f["check_name"].string ?? "") on \(f["resource"].string ?? "?")")
                resources[group(f), default: []].insert(f["resource"].string ?? "")
            }
            for k in res["results"]["skipped_checks"].array {
                reports[group(k), default: Report()].skipped.append((k["check_id"].string ?? "?", k["check_result"]["suppress_comment"].string ?? ""))
                resources[group(k), default: []].insert(k["resource"].string ?? "")
            }
            reports["", default: Report()].parsingErrors += res["summary"]["parsing_errors"].int ?? 0
        }
        for (g, set) in resources { reports[g, default: Report()].resources = set.count }
        return reports
    }

    /// The one scan of the shared tree (manifests, both chart renderings, examples).
    static let combined: Swift.Result<[String: Report], DeployError> = {
        do { return .success(try scan(try Deploy.scanTree.get())) } catch { return .failure(DeployError("\(error)")) }
    }()

    func expectClean(_ report: Report, _ what: String, minimumResources: Int) {
        #expect(report.failed == [], "checkov failures in \(what)")
        #expect(report.parsingErrors == 0, "checkov could not parse \(what)")
        #expect(report.resources >= minimumResources, "checkov scanned only \(report.resources) resources in \(what)")
        #expect(report.passed >= 40, "checkov ran only \(report.passed) passing checks on \(what)")
        for s in report.skipped {
            #expect(s.reason.count >= 30, "\(s.id) is skipped in \(what) without a written reason: '\(s.reason)'")
        }
    }

    @Test(arguments: [("manifests", 6), ("chart-default", 6), ("chart-all", 7), ("examples", 2)])
    func scanIsClean(group: String, minimumResources: Int) throws {
        guard Deploy.requireTools() else { return }
        let reports = try Self.combined.get()
        #expect(reports[""]?.parsingErrors ?? 0 == 0, "checkov could not parse some files")
        let report = try #require(reports[group], "checkov reported nothing for \(group)")
        expectClean(report, group, minimumResources: minimumResources)
    }

    /// The scan does find problems: with the skip annotations removed, their checks fail.
    @Test func checkovFailsWithoutTheSkipReasons() throws {
        guard Deploy.requireTools() else { return }
        let text = try String(contentsOfFile: Deploy.manifestsDir + "/40-daemonset.yaml", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("checkov.io/skip") }.joined(separator: "\n")
        let file = try Deploy.temporaryFile(text, name: "daemonset.yaml")
        let report = try Self.scan((file as NSString).deletingLastPathComponent)[""] ?? Report()
        #expect(report.failed.contains { $0.hasPrefix("CKV_K8S_17 ") }, "hostPID not reported: \(report.failed)")
        #expect(report.failed.contains { $0.hasPrefix("CKV_K8S_25 ") }, "added capabilities not reported: \(report.failed)")
    }
}
