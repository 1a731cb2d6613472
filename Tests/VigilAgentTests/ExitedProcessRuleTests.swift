import Testing
@testable import VigilAgent
import VigilAlerts
import VigilCore
import VigilDecode
import VigilRules
import VigilState

/// Rules lose nothing when the process table trims exited processes: the exit event's own
/// rule sees the whole process, and a child's rule still reads its exited parent's and
/// grandparent's fields (`proc.pname`, `proc.aname[N]`, `proc.pcmdline`, `proc.aenv`).
@Suite struct ExitedProcessRuleTests {
    static let rules = """
        - rule: Exit of a shell holding a token
          desc: the exit event's own evaluation
          condition: evt.type = procexit and proc.name = bash and proc.env[TOKEN] = abc and proc.cmdline = "bash -c deploy.sh"
          output: exit of %proc.name token=%proc.env[TOKEN] code=%proc.exe
          priority: NOTICE
        - rule: Shadow read under an exited shell
          desc: ancestry through exited processes
          condition: >
            evt.type = openat and fd.name = /etc/shadow and proc.pname = bash and proc.aname[2] = sshd
            and proc.pcmdline = "bash -c deploy.sh" and proc.aexepath[2] = /usr/sbin/sshd
            and proc.aenv[TOKEN] = abc and proc.apid[2] = 300
          output: shadow by %proc.name parent=%proc.pname grandparent=%proc.aname[2] pcmdline=%proc.pcmdline
          priority: WARNING
        """

    struct Feed {
        let pipeline: Pipeline
        var ts: UInt64 = 1_000_000_000

        func header(_ pid: UInt32, ppid: UInt32, comm: String) -> RecordEncoder.Header {
            RecordEncoder.Header(timestampBootNs: ts, pid: pid, ppid: ppid, comm: comm)
        }
        mutating func send(_ bytes: [UInt8]) {
            ts += 1_000
            bytes.withUnsafeBytes { pipeline.process($0) }
        }
        mutating func exec(_ pid: UInt32, ppid: UInt32, _ exe: String, _ argv: [String], env: [String]) {
            var x = RecordEncoder.Exec(exePath: exe, argv: argv, cwd: "/root", startTimeBootNs: ts)
            x.env = env
            send(RecordEncoder.exec(header(pid, ppid: ppid, comm: String(exe.split(separator: "/").last!)), x))
        }
        mutating func fork(_ parent: UInt32, ppid: UInt32, comm: String, child: UInt32) {
            send(RecordEncoder.fork(header(parent, ppid: ppid, comm: comm), childPid: child, childStartBootNs: ts))
        }
        mutating func exit(_ pid: UInt32, ppid: UInt32, comm: String) {
            send(RecordEncoder.exit(header(pid, ppid: ppid, comm: comm), code: 0))
        }
        mutating func open(_ pid: UInt32, ppid: UInt32, comm: String, _ path: String, fd: Int64) throws {
            send(try RecordEncoder.syscall(header(pid, ppid: ppid, comm: comm), type: EventType(name: "openat")!, ret: fd,
                                           arguments: ["dirfd": "AT_FDCWD", "name": path, "flags": "O_RDONLY", "mode": "0"]))
        }
    }

    @Test func noDetectionLostThroughExitedProcesses() throws {
        let fx = Fixture(rules: Self.rules)
        defer { fx.cleanup() }
        let rules = try RuleLoading.load(try fx.options.loadConfig()).get()
        let backend = CollectingBackend()
        let (pipeline, dispatcher, _) = makePipeline(rules, backend: backend)
        var f = Feed(pipeline: pipeline)
        f.exec(300, ppid: 1, "/usr/sbin/sshd", ["sshd", "-D"], env: ["LANG=C"])
        f.fork(300, ppid: 1, comm: "sshd", child: 301)
        f.exec(301, ppid: 300, "/bin/bash", ["bash", "-c", "deploy.sh"], env: ["TOKEN=abc", "HOME=/root"])
        try f.open(301, ppid: 300, comm: "bash", "/root/deploy.sh", fd: 3)
        f.fork(301, ppid: 300, comm: "bash", child: 302)
        f.exec(302, ppid: 301, "/usr/bin/cat", ["cat", "/etc/shadow"], env: ["PATH=/bin"])
        // The shell and sshd exit; the exit event's rule sees the shell whole.
        f.exit(301, ppid: 300, comm: "bash")
        f.exit(300, ppid: 1, comm: "sshd")
        pipeline.tick()
        let shell = try #require(pipeline.processes[301])
        #expect(shell.hasExited && shell.isRetired && shell.fds.isEmpty)
        // Then the orphan's read (its header still names the shell) matches through both.
        try f.open(302, ppid: 301, comm: "cat", "/etc/shadow", fd: 3)
        pipeline.tick()
        #expect(dispatcher.flush(timeout: .seconds(5)))
        dispatcher.stop()
        let alerts = backend.alerts
        #expect(alerts.map(\.rule) == ["Exit of a shell holding a token", "Shadow read under an exited shell"])
        #expect(alerts.first?.message.contains("exit of bash token=abc code=bash") == true)
        #expect(alerts.last?.message.contains("shadow by cat parent=bash grandparent=sshd pcmdline=bash -c deploy.sh") == true)
        #expect(pipeline.processes.exitedCount == 2 && pipeline.processes.stats.exitedEvictions.value == 0)
    }
}
