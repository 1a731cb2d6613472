import Foundation
@testable import VigilState
#if canImport(Glibc)
import Glibc
#endif

/// Shared helpers of the enrichment tests.
enum EnrichTestEnv {
    static let isRoot = getuid() == 0
    static let ci = Foundation.ProcessInfo.processInfo.environment["VIGIL_CI"] == "1"
    /// Root tests run as root, and under VIGIL_CI=1 (where they must fail if they cannot work).
    static let rootTestsEnabled = isRoot || ci
    static let mounts = CgroupMounts.discover()

    /// A fresh temporary directory (removed by the caller with `removeTree`).
    static func tempDir(_ tag: String) -> String {
        let p = NSTemporaryDirectory() + "vigil-enrich-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    static func removeTree(_ p: String) { try? FileManager.default.removeItem(atPath: p) }

    static func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func randomHexID() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    static func randomUID() -> String { UUID().uuidString.lowercased() }

    /// Runs a command, returns (status, stdout+stderr).
    @discardableResult
    static func run(_ exe: String, _ args: [String], stdin: String? = nil) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        if stdin != nil { p.standardInput = Pipe() }
        try p.run()
        if let s = stdin, let w = p.standardInput as? Pipe { w.fileHandleForWriting.write(Data(s.utf8)); try? w.fileHandleForWriting.close() }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Polls `condition` every 10 ms until it holds or `seconds` pass.
    static func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

/// A real cgroup tree under this machine's cgroup v2 hierarchy, removed on `cleanup()`.
final class TestCgroupTree {
    let root: String
    let base: String
    private(set) var created: [String] = []

    init() throws {
        guard let r = EnrichTestEnv.mounts.unified else { throw TestFailure("no cgroup v2 hierarchy in /proc/self/mountinfo") }
        root = r
        base = "vigil-enrich-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try mkdir(base)
    }

    /// Creates `rel` (relative to `base`, intermediate levels included); returns the path relative to the root.
    @discardableResult
    func make(_ rel: String) throws -> String {
        var cur = base
        for c in rel.split(separator: "/") { cur += "/" + c; try mkdir(cur) }
        return "/" + cur
    }

    private func mkdir(_ rel: String) throws {
        let abs = root + "/" + rel
        if Glibc.mkdir(abs, 0o755) != 0 && errno != EEXIST {
            throw TestFailure("mkdir \(abs): \(String(cString: strerror(errno)))")
        }
        if !created.contains(rel) { created.append(rel) }
    }

    /// Runs `/bin/sh -c script` after moving the shell into cgroup `rel` (relative to the root);
    /// returns the pid (the process may already be gone).
    func spawn(in relPath: String, script: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "echo $$ > '\(root)\(relPath)/cgroup.procs' || exit 97; \(script)"]
        try p.run()
        return p
    }

    func cleanup() {
        for rel in created.reversed() {
            let abs = root + "/" + rel
            for _ in 0..<100 { if rmdir(abs) == 0 || errno == ENOENT { break }; usleep(20_000) }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
