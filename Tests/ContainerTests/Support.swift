import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Paths, gating and process helpers for the container-runtime tests.
enum CT {
    /// The repository root (this file is Tests/ContainerTests/Support.swift).
    static let repo: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static func path(_ relative: String) -> String { repo + "/" + relative }

    static let environment = ProcessInfo.processInfo.environment
    /// `VIGIL_CI=1` or `CI=true`: a runtime that cannot run is a failure, not a skip.
    static let isCI = environment["VIGIL_CI"] == "1" || environment["CI"] == "true"
    /// `make test-containers` sets this after building the images; plain `swift test` skips the suite.
    static let enabled = environment["VIGIL_CONTAINER_TESTS"] == "1"
    static let image = environment["VIGIL_IMAGE"] ?? "localhost/vigil:dev"
    static let workloadImage = environment["VIGIL_WORKLOAD_IMAGE"] ?? "localhost/vigil-test/workload:v1"
    /// Scratch space for logs, the private containerd and image archives.
    static let scratch = path("build/container-tests")

    /// Whether this test can go on: true when `condition` holds; otherwise a failure under CI,
    /// and a skip with `why` printed elsewhere.
    static func require(_ condition: Bool, _ why: @autoclosure () -> String,
                        sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if condition { return true }
        if isCI {
            Issue.record("\(why()) (CI: the container tests must run)", sourceLocation: sourceLocation)
        } else {
            print("skipping: \(why())")
        }
        return false
    }

    /// The common preconditions: root, and the named programs on PATH.
    static func preconditions(_ programs: [String], sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        guard require(getuid() == 0, "the container tests need root", sourceLocation: sourceLocation) else { return false }
        for p in programs {
            guard require(which(p) != nil, "\(p) is not installed (`make test-containers` installs it)", sourceLocation: sourceLocation) else { return false }
        }
        return true
    }

    static func which(_ program: String) -> String? {
        for dir in (environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(separator: ":") {
            let p = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: String { stdout + stderr }
    }

    /// Runs a program to completion, output captured through files (no pipe deadlock).
    @discardableResult
    static func run(_ argv: [String], environment extra: [String: String] = [:]) throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-ct-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path, err = dir.appendingPathComponent("err").path
        let pid = try spawn(argv, stdout: out, stderr: err, environment: extra)
        let status = wait(pid)
        return Result(status: status,
                      stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Starts a program with stdin from /dev/null and stdout/stderr appended to files (posix_spawn:
    /// Foundation's Process can miss a child's exit when tests start processes from several threads).
    static func spawn(_ argv: [String], stdout: String, stderr: String, environment extra: [String: String] = [:]) throws -> pid_t {
        guard let exe = argv[0].hasPrefix("/") ? argv[0] : which(argv[0]) else {
            throw ContainerTestError("\(argv[0]): not found on PATH")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        var env = environment
        for (k, v) in extra { env[k] = v }
        let cArgs = ([exe] + argv.dropFirst()).map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw ContainerTestError("\(exe): posix_spawn failed: \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for a spawned child; its exit status, or 128+signal.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 { if errno != EINTR { return -1 } }
        let low = status & 0x7f
        return low == 0 ? (status >> 8) & 0xff : 128 + low
    }

    /// Whether a spawned child is still running (reaps it when it has exited).
    static func isRunning(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// Runs and throws with the command's output when it fails.
    @discardableResult
    static func must(_ argv: [String], environment: [String: String] = [:]) throws -> Result {
        let r = try run(argv, environment: environment)
        guard r.status == 0 else {
            throw ContainerTestError("`\(argv.joined(separator: " "))` failed (\(r.status)): \(r.output.suffix(1500))")
        }
        return r
    }

    /// Polls `check` every 100 ms until it returns a value or `seconds` pass.
    static func waitFor<T>(_ seconds: Double, _ check: () throws -> T?) rethrows -> T? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let v = try check() { return v }
            if Date() >= deadline { return nil }
            usleep(100_000)
        }
    }

    /// A random 64-hex container id, as the CRI runtimes make them.
    static func randomID() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// `/proc/<pid>/status` fields of a host process.
    static func procStatus(_ pid: Int32) -> [String: String] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return [:] }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// Whether the root mount of the process's mount namespace is read-only.
    static func rootIsReadOnly(_ pid: Int32) -> Bool? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8) else { return nil }
        // The last mount on "/" wins; field 5 is the mount point, field 6 the per-mount options.
        var ro: Bool?
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count > 5, f[4] == "/" { ro = f[5].split(separator: ",").contains("ro") }
        }
        return ro
    }
}

struct ContainerTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The container-runtime suites, one at a time (they share the machine's runtimes and its CPU).
@Suite(.serialized, .enabled(if: CT.enabled, "run by `make test-containers` (builds the images first)"))
struct ContainerRuntimeTests {}
