#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VigilAgent
import VigilCore

/// The default rules see through the evasions of issue 11 and 9: reads of /etc/shadow
/// through an ia32 syscall, io_uring, a file handle, /proc/self/root, a symlink and a hard
/// link each raise "Sensitive authentication file read" from a live `vigil run`, and the
/// ia32 and io_uring uses raise their own rules.
/// (In the serialized RunCommandKernelTests suite: its shadow-read test must not see these reads.)
extension RunCommandKernelTests {
    static var progs: String { RunCommandKernelTests.repoRoot + "/build/progs" }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func evasiveReadsOfShadowRaiseTheDefaultAlert() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        for p in ["km_ia32", "km_uring", "open_by_handle"] {
            try #require(access(Self.progs + "/" + p, X_OK) == 0, "\(Self.progs)/\(p) missing: run `make bpf`")
        }
        let dir = makeTempDir()
        defer { removeTree(dir) }
        // The hard link lives next to the file (same file system), the symlink anywhere.
        let hardLink = "/etc/.vigil-test-hardlink-\(getpid())"
        let symLink = dir + "/shadow-symlink"
        unlink(hardLink)
        try #require(link("/etc/shadow", hardLink) == 0, "cannot hard-link /etc/shadow: \(String(cString: strerror(errno)))")
        defer { unlink(hardLink) }
        try #require(symlink("/etc/shadow", symLink) == 0)

        let port = freePort()
        let vigil = try SpawnedVigil(binary: binary, args: SpawnedVigil.runArguments(port: port), dir: dir)
        defer { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) }
        try vigil.requireReady(port: port)

        /// What the agent saw, for a failure's message.
        func diagnostics() -> String {
            let metrics = httpGet(port: port, path: "/metrics")?.body ?? ""
            let counts = metrics.split(separator: "\n").filter {
                $0.hasPrefix("vigil_kernel_drops_total") || $0.hasPrefix("vigil_events_received_total{type=\"open") || $0.hasPrefix("vigil_rule_matches_total{rule=\"Sensitive")
            }
            let alerts = vigil.stdoutLines.filter { $0.contains("shadow") || $0.contains("km_") }.map { String($0.prefix(400)) }
            return "agent metrics: \(counts.joined(separator: "; ")); alerts naming shadow or km_: \(alerts.suffix(8)); agent log: \(vigil.stderrLines.suffix(5))"
        }
        // Each way in, with a command line that names it.
        let cases: [(what: String, command: String, marker: String)] = [
            ("ia32 open (int 0x80)", "\(Self.progs)/km_ia32 /etc/shadow", "cmdline=km_ia32 /etc/shadow"),
            ("io_uring openat", "\(Self.progs)/km_uring /etc/shadow", "cmdline=km_uring /etc/shadow"),
            ("open_by_handle_at", "\(Self.progs)/open_by_handle /etc/shadow", "cmdline=open_by_handle /etc/shadow"),
            ("/proc/self/root", "cat /proc/self/root/etc/shadow", "cmdline=cat /proc/self/root/etc/shadow"),
            ("symlink", "cat \(symLink)", "cmdline=cat \(symLink)"),
            ("hard link", "cat \(hardLink)", "cmdline=cat \(hardLink)"),
        ]
        // One at a time: a try during which the kernel lost events is done again (actUntilAlerted).
        for c in cases {
            let failure = actUntilAlerted(port: port, act: { shell(c.command + " > /dev/null") == 0 }) {
                vigil.stdoutLines.contains { $0.contains("\"rule\":\"Sensitive authentication file read\"") && $0.contains(c.marker) }
            }
            #expect(failure == nil, "no sensitive-file alert for the \(c.what) read (`\(c.command)`): \(failure ?? ""); \(diagnostics())")
        }
        // The file is named as the kernel opened it, whatever the path as written.
        // (A file handle opens through any name of the inode: the hard link is one.)
        for c in cases where c.what != "hard link" {
            let line = vigil.stdoutLines.first { $0.contains("Sensitive authentication file read") && $0.contains(c.marker) } ?? ""
            #expect(line.contains("file=/etc/shadow ") || (c.what == "open_by_handle_at" && line.contains("file=/")),
                    "\(c.what): \(line)")
        }
        // Rules match first-wins (rule_matching: first): the sensitive read above took the ia32
        // open of /etc/shadow; an ia32 open of an ordinary file raises the ia32 rule.
        let ia32 = actUntilAlerted(port: port, act: { shell("\(Self.progs)/km_ia32 /etc/hostname > /dev/null") == 0 }) {
            vigil.stdoutLines.contains {
                $0.contains("\"rule\":\"32-bit syscall by a 64-bit program\"") && $0.contains("cmdline=km_ia32 /etc/hostname")
            }
        }
        #expect(ia32 == nil, "no ia32 alert: \(ia32 ?? ""); \(diagnostics())")
        let uring = actUntilAlerted(port: port, act: { shell("\(Self.progs)/km_uring /etc/hostname > /dev/null") == 0 }) {
            vigil.stdoutLines.contains {
                $0.contains("\"rule\":\"io_uring used by an unexpected program\"") && $0.contains("cmdline=km_uring /etc/hostname")
            }
        }
        #expect(uring == nil, "no io_uring alert: \(uring ?? ""); \(diagnostics())")
        // A plain 64-bit read by the same kind of program raises no ia32 alert.
        #expect(!vigil.stdoutLines.contains { $0.contains("32-bit syscall") && !$0.contains("km_ia32") })
    }

    /// The user trial's evasions: truncate(2) of a log, ftruncate(2) of a log or a shell history
    /// through an fd opened for appending (an open the rules accept), and the setuid bit set
    /// through fchmodat2 (Linux 6.6+) each raise the default rule from a live `vigil run`.
    /// perl makes the calls (perl-base is in every Debian); fchmodat2 through perl's syscall().
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func truncationAndFchmodat2RaiseTheDefaultAlerts() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        try #require(access("/usr/bin/perl", X_OK) == 0, "/usr/bin/perl missing")
        let dir = makeTempDir()
        defer { removeTree(dir) }
        // A protected log name below /var/log (the rule's vigil_protected_log_names), not a real log.
        let logDir = "/var/log/vigil-test-truncate-\(getpid())"
        try #require(mkdir(logDir, 0o700) == 0 || errno == EEXIST)
        defer { removeTree(logDir) }
        let authLog = logDir + "/auth.log", syslog = logDir + "/syslog", history = dir + "/.bash_history"
        let target = dir + "/suid-target"
        for f in [authLog, syslog, history, target] { writeFile(f, "line one\nline two\n") }

        let port = freePort()
        let vigil = try SpawnedVigil(binary: binary, args: SpawnedVigil.runArguments(port: port), dir: dir)
        defer { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) }
        try vigil.requireReady(port: port)

        var cases: [(what: String, command: String, rule: String, type: String, marker: String)] = [
            ("truncate(2) of a log", "perl -e 'truncate(\"\(authLog)\", 0) or exit 1'",
             "Log file cleared or deleted", "truncate", "path=\(authLog)"),
            ("ftruncate(2) of a log opened for appending",
             "perl -e 'open(F, \">>\(syslog)\") or exit 1; truncate(F, 0) or exit 1'",
             "Log file cleared or deleted", "ftruncate", "file=\(syslog)"),
            ("ftruncate(2) of a shell history", "perl -e 'open(F, \">>\(history)\") or exit 1; truncate(F, 0) or exit 1'",
             "Shell history deleted or tampered", "ftruncate", "file=\(history)"),
        ]
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let version = release.split(separator: ".").prefix(2).compactMap { Int($0.prefix { $0.isNumber }) }
        if version.count == 2, version[0] * 100 + version[1] >= 606 {
            cases.append(("fchmodat2 setting the setuid bit", "perl -e 'my $p = \"\(target)\"; syscall(452, -100, $p, 04755, 0) == 0 or exit 1'",
                          "Setuid or setgid bit set", "fchmodat2", "file=\(target)"))
        } else {
            print("fchmodat2 case skipped: kernel \(release) is older than 6.6 (the call returns ENOSYS)")
        }
        for c in cases {
            let failure = actUntilAlerted(port: port, act: { shell(c.command) == 0 }) {
                vigil.stdoutLines.contains {
                    $0.contains("\"rule\":\"\(c.rule)\"") && $0.contains("evt_type=\(c.type)") && $0.contains(c.marker)
                }
            }
            let seen = vigil.stdoutLines.filter { $0.contains(dir) || $0.contains(logDir) }.map { String($0.prefix(300)) }
            #expect(failure == nil, "no \(c.rule) alert for \(c.what) (`\(c.command)`): \(failure ?? ""); alerts naming the files: \(seen.suffix(6)); agent log: \(vigil.stderrLines.suffix(5))")
        }
    }

    /// The user trial's evasions: a forked perl child writes its parent's memory with
    /// process_vm_writev(2), and perl makes a character device node below /dev with mknodat(2);
    /// each raises the default rule from a live `vigil run`.
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func processVmWritevAndMknodRaiseTheDefaultAlerts() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        try #require(access("/usr/bin/perl", X_OK) == 0, "/usr/bin/perl missing")
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let node = "/dev/.vigil-test-mknod-\(getpid())"
        defer { unlink(node) }
        let port = freePort()
        let vigil = try SpawnedVigil(binary: binary, args: SpawnedVigil.runArguments(port: port), dir: dir)
        defer { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) }
        try vigil.requireReady(port: port)

        // x86-64 numbers: process_vm_writev 311, mknodat 259 (the test hosts are x86-64).
        let writeParent = "perl -e 'my $buf = \"AAAA\"; my $pid = fork(); if ($pid == 0) { my $src = \"BBBB\"; "
            + "my $l = pack(\"QQ\", unpack(\"Q\", pack(\"p\", $src)), 4); my $r = pack(\"QQ\", unpack(\"Q\", pack(\"p\", $buf)), 4); "
            + "my $n = syscall(311, getppid(), unpack(\"Q\", pack(\"p\", $l)), 1, unpack(\"Q\", pack(\"p\", $r)), 1, 0); "
            + "exit($n == 4 ? 0 : 1) } waitpid($pid, 0); exit(($? == 0 && $buf eq \"BBBB\") ? 0 : 1)'"
        let makeNode = "perl -e 'my $p = \"\(node)\"; unlink($p); syscall(259, -100, $p, 020600, 0x103) == 0 or exit 1'"
        let cases: [(what: String, command: String, rule: String, marker: String)] = [
            ("process_vm_writev into the parent", writeParent, "Memory of another process written", "process=perl"),
            ("mknodat of a character device below /dev", makeNode, "File created below /dev", "path=\(node)"),
        ]
        for c in cases {
            let failure = actUntilAlerted(port: port, act: { shell(c.command) == 0 }) {
                vigil.stdoutLines.contains { $0.contains("\"rule\":\"\(c.rule)\"") && $0.contains(c.marker) }
            }
            #expect(failure == nil, "no \(c.rule) alert for \(c.what): \(failure ?? ""); agent log: \(vigil.stderrLines.suffix(5))")
        }
    }
}
