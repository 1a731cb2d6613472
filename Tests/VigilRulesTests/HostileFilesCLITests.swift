#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Files that are not rules files at all, through the built binary: `/dev/zero`, a FIFO,
/// an oversized file. Each is refused at once with an error naming the file.
@Suite struct HostileFilesCLITests {
    /// Runs the binary with output to a temporary file (no pipes: nothing here can see EINTR).
    struct CLI {
        func run(_ args: [String]) throws -> (Int32, String, String) {
            let binary = try #require(RulesCLITests.binary, "vigil binary not built")
            let out = NSTemporaryDirectory() + "vigil-hostile-cli-\(UUID().uuidString).txt"
            defer { unlink(out) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            let argv = ([binary] + args).map { strdup($0) } + [nil]
            defer { for a in argv { free(a) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, binary, &actions, nil, argv, environ)
            #expect(rc == 0)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return (code, text, "")
        }
    }
    let cli = CLI()

    @Test(.enabled(if: RulesCLITests.binary != nil, "vigil binary not built"))
    func devZeroIsRefused() throws {
        let (rc, out, err) = try cli.run(["rules", "validate", "/dev/zero"])
        #expect(rc != 0)
        #expect((out + err).contains("/dev/zero:0:0: error: cannot read rules file: not a regular file (a character device)"), "\(out)\(err)")
        let (rc2, out2, err2) = try cli.run(["config", "check", "-c", "/dev/zero"])
        #expect(rc2 != 0)
        #expect((out2 + err2).contains("/dev/zero: cannot read the configuration file: not a regular file (a character device)"), "\(out2)\(err2)")
        let (rc3, out3, err3) = try cli.run(["run", "--dry-run", "-r", "/dev/zero"])
        #expect(rc3 != 0)
        #expect((out3 + err3).contains("not a regular file"), "\(out3)\(err3)")
    }

    @Test(.enabled(if: RulesCLITests.binary != nil, "vigil binary not built"))
    func fifoDoesNotBlock() throws {
        let dir = NSTemporaryDirectory() + "vigil-fifo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/rules.yaml", 0o600) == 0)
        // No writer ever opens the FIFO: a blocking open would hang this test.
        let (rc, out, err) = try cli.run(["rules", "validate", dir + "/rules.yaml"])
        #expect(rc != 0)
        #expect((out + err).contains("rules.yaml:0:0: error: cannot read rules file: not a regular file (a FIFO)"), "\(out)\(err)")
        let (rc2, out2, err2) = try cli.run(["config", "check", "-c", dir + "/rules.yaml"])
        #expect(rc2 != 0)
        #expect((out2 + err2).contains("not a regular file (a FIFO)"), "\(out2)\(err2)")
    }

    @Test(.enabled(if: RulesCLITests.binary != nil, "vigil binary not built"))
    func oversizedRulesFileNamesTheLimit() throws {
        let path = NSTemporaryDirectory() + "vigil-big-\(UUID().uuidString).yaml"
        // A sparse file: 17 MiB without writing 17 MiB.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0 && ftruncate(fd, 17 << 20) == 0)
        close(fd)
        defer { unlink(path) }
        let (rc, out, err) = try cli.run(["rules", "validate", path])
        #expect(rc != 0)
        #expect((out + err).contains("\(path):0:0: error: cannot read rules file: file is \(17 << 20) bytes, larger than the limit of 16 MiB"), "\(out)\(err)")
    }
}
