import Testing
@testable import VigilRules
import VigilABI
import VigilCore
import VigilDecode
import VigilState

/// Rule-test events get their state from a real ProcessTable fed encoded records, so what a
/// rule test sees is what the live pipeline sees for the same syscalls.
@Suite struct RuleTestStateTests {
    @Test func ipv6SocketNameIsTheLiveOne() throws {
        let ev = event("""
        type: sendto
        res: 10
        args: {fd: 5}
        process: {pid: 700, exepath: /usr/bin/curl}
        fd: {num: 5, type: ipv6, l4proto: tcp, cip: "2001:db8::5", cport: 40000, sip: "2001:db8:0:0::1", sport: 443}
        """)
        // The same connect the kernel would report, applied to a table as the pipeline does.
        let table = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
        let h = RecordEncoder.Header(timestampBootNs: 1, pid: 700, tid: 700, ppid: 1, uid: 0, comm: "curl")
        let t = SocketTuple.encode(family: LinuxConstants.AF_INET6, l4proto: 6, local: (IPAddress("2001:db8::5")!, 40000),
                                   remote: (IPAddress("2001:db8::1")!, 443))
        let live = try OwnedRecord(bytes: RecordEncoder.syscall(h, type: EventType(name: "connect")!, ret: 0, args: [5], tuple: t))
            .withEvent { table.apply($0).fd?.name }.get()
        #expect(live == "2001:db8::5:40000->2001:db8::1:443")
        #expect(ev.fd?.name == live)
        #expect(ev.fdNum == 5)
        #expect(matches("fd.name = 2001:db8::5:40000->2001:db8::1:443 and fd.sip = 2001:db8::1 and fd.sport = 443", ev))
    }

    @Test func relativePathsResolveThroughTheProcessCwd() {
        let open = event("""
        type: openat
        res: 3
        args: {dirfd: AT_FDCWD, name: ../etc/./shadow, flags: O_RDONLY}
        process: {pid: 701, exepath: /bin/cat, cwd: /root/work}
        """)
        #expect(open.fd?.name == "/root/etc/shadow")
        #expect(open.fd?.nameRaw == "../etc/./shadow")
        let read = event("""
        type: fchmod
        res: 0
        args: {fd: 4}
        process: {pid: 702, exepath: /bin/cat, cwd: /srv}
        fd: {num: 4, name: data/./x.db}
        """)
        #expect(read.fd?.name == "/srv/data/x.db")
    }

    @Test func processStateComesFromExecRecords() {
        let ev = event("""
        type: openat
        res: 3
        args: {dirfd: AT_FDCWD, name: /etc/passwd, flags: O_RDONLY}
        process:
          pid: 800
          exepath: /usr/bin/python3.12
          args: [-c, "print(1)"]
          cwd: /tmp
          uid: 1000
          parents: [{pid: 799, exepath: /bin/bash}, {pid: 1, exepath: /sbin/init}]
        """)
        #expect(ev.process.pid == 800 && ev.process.ppid == 799)
        #expect(ev.process.exePath == "/usr/bin/python3.12" && ev.process.args == ["-c", "print(1)"])
        #expect(ev.process.cwd == "/tmp/" && ev.process.uid == 1000)
        #expect(ev.processes.ancestors(of: ev.process).map(\.exePath) == ["/bin/bash", "/sbin/init"])
        #expect(matches("proc.pname = bash and proc.aname[2] = init and proc.cmdline = \"python3.12 -c print(1)\"", ev))
    }
}
