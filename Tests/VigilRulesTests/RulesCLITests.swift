import Foundation
import Testing

/// `vigil rules ...` end to end, through the built binary.
@Suite struct RulesCLITests {
    static var binary: String? {
        var candidates: [String] = []
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        for _ in 0..<4 { candidates.append(dir.appendingPathComponent("vigil").path); dir = dir.deletingLastPathComponent() }
        candidates.append(repoRoot() + "/.build/debug/vigil")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) && !$0.hasSuffix("/") }
    }

    func run(_ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(Self.binary, "vigil binary not built"))
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: repoRoot())
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func temp(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "vigil-cli-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(.enabled(if: binary != nil, "vigil binary not built"))
    func validateReportsPlacesAndExitCodes() throws {
        let (ok, out, _) = try run(["rules", "validate", "rules/"])
        #expect(ok == 0, "\(out)")
        #expect(out.contains("rules compiled:"))
        let bad = try temp("- rule: R\n  desc: d\n  condition: evt.type = open and proc.nope = 1\n  output: o\n  priority: info\n")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let (rc, _, err) = try run(["rules", "validate", bad])
        #expect(rc == 1)
        #expect(err.contains(bad + ":3:34: error: rule 'R': unknown field 'proc.nope'"), "\(err)")
        let (jrc, json, _) = try run(["rules", "validate", bad, "--format", "json"])
        #expect(jrc == 1)
        let d = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(d["ok"] as? Bool == false && d["errors"] as? Int == 1 && d["rules"] as? Int == 1)
        let diag = try #require((d["diagnostics"] as? [[String: Any]])?.first)
        #expect(diag["line"] as? Int == 3 && diag["column"] as? Int == 34 && diag["item"] as? String == "rule 'R'")
    }

    /// validate says which failed calls the kernel drops for the rules and which rules keep the others.
    @Test(.enabled(if: binary != nil, "vigil binary not built"))
    func validateReportsTheFailedCallsTheKernelDrops() throws {
        let (ok, out, _) = try run(["rules", "validate", "rules/"])
        #expect(ok == 0)
        let dropped = out.split(separator: "\n").first { $0.hasPrefix("failed calls dropped in the kernel: ") } ?? ""
        #expect(dropped.split(separator: " ").contains("dup2"), "\(dropped)")
        #expect(out.contains("  - openat: Kernel memory read"), "\(out)")
        #expect(out.contains("  - close: (process table)"))
        let (jrc, json, _) = try run(["rules", "validate", "rules/", "--format", "json", "-o", "engine.modern_ebpf.drop_failed_exit=true"])
        #expect(jrc == 0)
        let d = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let f = try #require(d["failed_calls"] as? [String: Any])
        #expect(f["drop_failed_exit"] as? Bool == true)
        #expect((f["dropped"] as? [String])?.contains("openat") == true)
        let kept = (f["kept"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
        // Only the process table's types keep their failures (those the rules select).
        #expect(Set(kept).isSubset(of: ["close", "connect", "recvfrom", "recvmsg", "sendmsg", "sendto"]) && kept.contains("close")
                && kept.contains("connect"), "\(kept)")
        #expect((f["kept"] as? [[String: Any]] ?? []).allSatisfy { ($0["by"] as? [String]) == ["(process table)"] })
    }

    @Test(.enabled(if: binary != nil, "vigil binary not built"))
    func testCommandPassesAndFailsWithADiff() throws {
        let (rc, out, _) = try run(["rules", "test", "-r", "rules/", "rules/tests/"])
        #expect(rc == 0, "\(out)")
        let rules = try temp("- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n  output: o\n  priority: info\n")
        let tests = try temp("""
        tests:
        - name: expects the wrong thing
          event: {type: openat, res: 3, args: {name: /etc/hosts, flags: O_RDONLY}, process: {exepath: /usr/bin/cat}}
          expect: {fire: [Shadow read]}
        """)
        defer { try? FileManager.default.removeItem(atPath: tests); try? FileManager.default.removeItem(atPath: rules) }
        let (frc, fout, _) = try run(["rules", "test", "-r", rules, tests])
        #expect(frc == 1)
        #expect(fout.contains("FAIL \(tests):2: expects the wrong thing"), "\(fout)")
        #expect(fout.contains("- fire: Shadow read"))
        #expect(fout.contains("1 tests: 0 passed, 1 failed"))
    }

    @Test(.enabled(if: binary != nil, "vigil binary not built"))
    func fieldsCatalogAndUsage() throws {
        let (rc, json, _) = try run(["rules", "fields", "--format", "json"])
        #expect(rc == 0)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(rows.contains { $0["name"] as? String == "proc.aname[N]" && $0["type"] as? String == "charbuf" })
        #expect(rows.contains { $0["name"] as? String == "fd.sip" && $0["type"] as? String == "ipaddr" })
        // evt.buffer stays unsupported, with the reason; fd.types and fd.*ip.name say how they work.
        let buffer = try #require(rows.first { $0["name"] as? String == "evt.buffer" })
        #expect(buffer["supported"] as? Bool == false && (buffer["status"] as? String)?.contains("I/O buffers are not captured") == true, "\(buffer)")
        #expect(rows.contains { $0["name"] as? String == "fd.types[N]" && ($0["desc"] as? String)?.contains("list") == true })
        #expect(rows.contains { $0["name"] as? String == "fd.sip.name" && ($0["desc"] as? String)?.contains("DNS answers are not captured") == true })
        #expect(rows.contains { $0["name"] as? String == "static.NAME" })
        let (urc, used, _) = try run(["rules", "fields", "--used-by", "rules/vigil_rules.yaml"])
        #expect(urc == 0, "\(used)")
        #expect(used.contains("fields used"))
    }
}
