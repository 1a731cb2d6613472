#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import VigilCapture
import VigilDecode
@testable import VigilState
import VigilCore

/// Root runs the kernel tests; VIGIL_CI=1 forces them (then they fail when BPF cannot load).
let stateKernelTestsEnabled: Bool = geteuid() == 0 || getenv("VIGIL_CI").map { String(cString: $0) == "1" } == true

/// Applies every live record to a process table (on the capture's reader thread)
/// and notes what the state said about the events of one process subtree.
final class StateRecorder: RecordConsumer, @unchecked Sendable {
    let table: ProcessTable
    let root: UInt32
    struct Seen: Sendable { var type: String; var pid: UInt32; var exePath: String; var args: [String]; var cwd: String
                            var ancestors: [String]; var fdNum: Int32; var fdName: String?; var fdRaw: String?; var server: Bool
                            /// The process's fd 5 when the event was applied.
                            var fd5: String? }
    let seen = Mutex<[Seen]>([])

    init(table: ProcessTable, root: UInt32) { self.table = table; self.root = root }

    func consume(_ e: Event) {
        let r = table.apply(e)
        guard let p = r.process else { return }
        var mine = false
        table.forEachAncestor(of: p) { q, _ in if q.pid == root { mine = true; return false }; return true }
        guard mine else { return }
        let s = Seen(type: e.type.name, pid: p.pid, exePath: p.exePath, args: p.args, cwd: p.cwd,
                     ancestors: table.ancestors(of: p).map(\.exePath), fdNum: r.fdNum, fdName: r.fd?.name,
                     fdRaw: r.fd?.nameRaw, server: r.fd?.isServerSide ?? false, fd5: p.fds[5]?.name)
        seen.withLock { $0.append(s) }
    }
}

@Suite(.serialized) struct KernelStateTests {
    @Test(.enabled(if: stateKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func realEventsKeepProcessesAndFDs() throws {
        let table = ProcessTable()
        table.seedFromProc()
        let rec = StateRecorder(table: table, root: UInt32(getpid()))
        var o = BPFCaptureOptions()
        o.ignoreSelf = false
        let cap = try BPFCapture(options: o)
        try cap.start(rec)
        let dir = "/tmp/vigil-state-kt-\(getpid())"
        defer { _ = system("rm -rf '\(dir)'") }
        // A shell that changes directory, writes and reads a file by relative paths,
        // runs a child and exits with a code.
        let script = "mkdir -p \(dir)/sub && cd \(dir) && echo x > sub/../rel.txt && exec 5<rel.txt && cd sub && /bin/cat ../rel.txt >/dev/null && exit 7"
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sh"), strdup("-c"), strdup(script), nil]
        defer { for a in argv { free(a) } }
        try #require(posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        #expect((status >> 8) & 0xff == 7)

        // Wait until the shell's exit has been applied, then stop (drains the ring).
        var tries = 0
        while rec.seen.withLock({ list in !list.contains { $0.type == "procexit" && $0.pid == UInt32(pid) } }) && tries < 500 {
            usleep(10_000); tries += 1
        }
        cap.stop()
        let seen = rec.seen.withLock { $0 }
        let shPid = UInt32(pid)

        // The shell is known with its ancestry back to this test process.
        let sh = try #require(table[shPid])
        #expect(sh.hasExited && sh.exitCode == 7)
        #expect(sh.args.first == "-c")
        #expect(table.parent(of: sh)?.pid == UInt32(getpid()))

        // Relative paths resolve against the cwd the shell changed to.
        let write = seen.first { $0.pid == shPid && $0.fdRaw == "sub/../rel.txt" }
        #expect(write?.fdName == "\(dir)/rel.txt", "write: \(String(describing: write))")
        let fd5 = seen.first { $0.pid == shPid && $0.fdRaw == "rel.txt" }
        #expect(fd5?.fdName == "\(dir)/rel.txt")
        #expect(seen.contains { $0.pid == shPid && $0.type == "chdir" && $0.cwd == "\(dir)/sub/" })

        // The child cat: exe, args, cwd inherited, parent the shell, its open resolved.
        let cat = try #require(seen.first { $0.exePath.hasSuffix("/cat") && $0.type == "execve" }, "no exec of cat seen")
        #expect(cat.args == ["../rel.txt"])
        #expect(cat.cwd == "\(dir)/sub/")
        #expect(cat.ancestors.first == sh.exePath)
        let catOpen = seen.first { $0.pid == cat.pid && $0.fdRaw == "../rel.txt" }
        #expect(catOpen?.fdName == "\(dir)/rel.txt")
        // The fd 5 opened by `exec 5<` was inherited by cat (no O_CLOEXEC).
        #expect(catOpen?.fd5 == "\(dir)/rel.txt")
        // Once its exit was evaluated (events followed), the exited cat keeps no fd table.
        #expect(table[cat.pid].map { $0.hasExited && $0.isRetired && $0.fds.isEmpty } ?? true)
        #expect(table.stats.execs.value >= 2)
    }
}
