import Testing
import VigilABI
import VigilCore
import VigilDecode
@testable import VigilState

@Suite struct FDTableTests {
    @Test func pathResolution() {
        #expect(PathResolver.normalize("/a//b/./c/../d/") == "/a/b/d")
        #expect(PathResolver.normalize("/../../etc") == "/etc")
        #expect(PathResolver.normalize("/") == "/")
        #expect(PathResolver.normalize("a/../../b") == "../b")
        #expect(PathResolver.resolve("../etc/shadow", against: "/root/") == "/etc/shadow")
        #expect(PathResolver.resolve("./x", against: "/tmp") == "/tmp/x")
        #expect(PathResolver.resolve("/abs//p", against: "/tmp") == "/abs/p")
        #expect(PathResolver.resolve("", against: "/tmp/") == "/tmp")
    }

    @Test func openRelativeToCwdAndDirfd() {
        var s = Stream()
        s.exec(10, ppid: 1, "/bin/sh", ["sh"], cwd: "/home/user")
        var r = s.sys(10, "openat", ret: 3, ["dirfd": "AT_FDCWD", "name": "../other/./f.txt", "flags": "O_RDONLY"])
        #expect(r.fd?.name == "/home/other/f.txt")
        #expect(r.fd?.nameRaw == "../other/./f.txt")
        #expect(r.fd?.kind == .file)
        #expect(r.fdNum == 3)
        // A directory fd, then openat relative to it.
        r = s.sys(10, "openat", ret: 4, ["dirfd": "AT_FDCWD", "name": "/etc", "flags": "O_RDONLY|O_DIRECTORY"])
        #expect(r.fd?.kind == .directory)
        r = s.sys(10, "openat", ret: 5, ["dirfd": "4", "name": "shadow", "flags": "O_RDONLY"])
        #expect(r.fd?.name == "/etc/shadow")
        r = s.sys(10, "openat2", ret: 6, ["dirfd": "4", "name": "ssh/sshd_config", "flags": "O_RDONLY"])
        #expect(r.fd?.name == "/etc/ssh/sshd_config")
        // open and creat are relative to the cwd.
        r = s.sys(10, "open", ret: 7, ["name": "notes", "flags": "O_WRONLY|O_CREAT"])
        #expect(r.fd?.name == "/home/user/notes")
        r = s.sys(10, "creat", ret: 8, ["name": "x/../y", "mode": "0644"])
        #expect(r.fd?.name == "/home/user/y")
        // Failed opens report the path with fd.num -1 and are not stored.
        r = s.sys(10, "openat", ret: -2, ["dirfd": "AT_FDCWD", "name": "/nope", "flags": "O_RDONLY"])
        #expect(r.fd?.name == "/nope")
        #expect(r.fdNum == -1)
        #expect(s.table[10]!.fds.count == 6)
        // An unknown dirfd leaves the path as passed.
        r = s.sys(10, "openat", ret: 9, ["dirfd": "77", "name": "rel", "flags": "O_RDONLY"])
        #expect(r.fd?.name == "rel")
    }

    @Test func chdirAndFchdirTrackTheCwd() {
        var s = Stream()
        s.exec(10, ppid: 1, "/bin/sh", ["sh"], cwd: "/")
        s.sys(10, "chdir", ["path": "var/log"])
        #expect(s.table[10]?.cwd == "/var/log/")
        s.sys(10, "chdir", ["path": ".."])
        #expect(s.table[10]?.cwd == "/var/")
        s.sys(10, "chdir", ret: -2, ["path": "/nonexistent"])
        #expect(s.table[10]?.cwd == "/var/")
        s.sys(10, "openat", ret: 3, ["dirfd": "AT_FDCWD", "name": "/opt/app", "flags": "O_RDONLY|O_DIRECTORY"])
        let r = s.sys(10, "fchdir", ["fd": "3"])
        #expect(r.fd?.name == "/opt/app")
        #expect(s.table[10]?.cwd == "/opt/app/")
        let o = s.sys(10, "open", ret: 4, ["name": "conf", "flags": "O_RDONLY"])
        #expect(o.fd?.name == "/opt/app/conf")
    }

    @Test func dupCloseFcntlPipesMemfd() {
        var s = Stream()
        s.exec(10, ppid: 1, "/bin/sh", ["sh"])
        s.sys(10, "socket", ret: 3, ["domain": "AF_INET", "type": "SOCK_STREAM", "proto": "0"])
        s.sys(10, "connect", ["fd": "3", "addr": "10.0.0.9:4444", "tuple": "10.0.0.2:50000->10.0.0.9:4444"])
        // Redirect stdout to the socket: dup2(3, 1).
        let d = s.sys(10, "dup2", ret: 1, ["oldfd": "3", "newfd": "1"])
        #expect(d.fdNum == 3)
        #expect(d.fd?.kind == .ipv4)
        #expect(s.table[10]?.fds[1]?.name == "10.0.0.2:50000->10.0.0.9:4444")
        s.sys(10, "dup", ret: 0, ["oldfd": "3"])
        #expect(s.table[10]?.fds[0]?.serverPort == 4444)
        s.sys(10, "fcntl", ret: 10, ["fd": "3", "cmd": "F_DUPFD_CLOEXEC"])
        #expect(s.table[10]?.fds[10]?.isCloseOnExec == true)
        let c = s.sys(10, "close", ["fd": "3"])
        #expect(c.fd?.kind == .ipv4 && c.fdNum == 3)
        #expect(s.table[10]?.fds[3] == nil)
        #expect(s.table[10]?.fds[1] != nil)
        let p = s.feed(RecordEncoder.syscall(s.h(10), type: EventType(name: "pipe2")!, ret: 0, args: [0, LinuxConstants.O_CLOEXEC, 0, 0, 5, 6]))
        #expect(p.fd?.kind == .pipe)
        #expect(s.table[10]?.fds[5]?.kind == .pipe && s.table[10]?.fds[6]?.isCloseOnExec == true)
        let m = s.sys(10, "memfd_create", ret: 7, ["name": "payload", "flags": "MFD_CLOEXEC"])
        #expect(m.fd?.kind == .memfd && m.fd?.name == "memfd:payload")
        s.exec(10, ppid: 1, "/bin/cat", ["cat"])
        #expect(s.table[10]?.fds[7] == nil && s.table[10]?.fds[10] == nil)
        #expect(s.table[10]?.fds[5] == nil && s.table[10]?.fds[6] == nil)  // pipe2(O_CLOEXEC)
        #expect(s.table[10]?.fds[1] != nil && s.table[10]?.fds[0] != nil)
    }

    @Test func socketsClientAndServer() {
        var s = Stream()
        s.exec(20, ppid: 1, "/usr/bin/curl", ["curl"])
        s.sys(20, "socket", ret: 3, ["domain": "AF_INET6", "type": "SOCK_STREAM|SOCK_CLOEXEC", "proto": "0"])
        var r = s.sys(20, "connect", ret: -115, ["fd": "3", "addr": "[2001:db8::5]:443",
                                                "tuple": "[2001:db8::2]:40000->[2001:db8::5]:443"])
        #expect(r.fd?.kind == .ipv6 && r.fd?.l4proto == 6 && r.fd?.connected == true)
        #expect(r.fd?.name == "2001:db8::2:40000->2001:db8::5:443")
        #expect(r.fd?.isServerSide == false)
        #expect(r.fd?.typedName == "<6t>2001:db8::2:40000->2001:db8::5:443")
        // connect without a tuple still gets the server address from the sockaddr.
        s.sys(20, "socket", ret: 4, ["domain": "AF_INET", "type": "SOCK_STREAM", "proto": "0"])
        r = s.sys(20, "connect", ["fd": "4", "addr": "93.184.216.34:80"])
        #expect(r.fd?.serverIP == [93, 184, 216, 34] && r.fd?.serverPort == 80)
        // A failed connect reports the target but is not stored as connected.
        s.sys(20, "socket", ret: 5, ["domain": "AF_INET", "type": "SOCK_STREAM", "proto": "0"])
        r = s.sys(20, "connect", ret: -111, ["fd": "5", "addr": "10.9.9.9:22"])
        #expect(r.fd?.serverPort == 22 && r.fd?.connected == false)
        #expect(s.table[20]?.fds[5]?.connected == false)

        // Server: socket, bind, listen, accept.
        s.exec(30, ppid: 1, "/usr/sbin/nginx", ["nginx"])
        s.sys(30, "socket", ret: 6, ["domain": "AF_INET", "type": "SOCK_STREAM", "proto": "0"])
        r = s.sys(30, "bind", ["fd": "6", "addr": "0.0.0.0:8080"])
        #expect(r.fd?.name == "0.0.0.0:8080")
        r = s.sys(30, "listen", ["fd": "6", "backlog": "128"])
        #expect(r.fd?.isServerSide == true)
        r = s.sys(30, "accept4", ret: 9, ["tuple": "172.17.0.3:55555->172.17.0.2:8080", "flags": "SOCK_CLOEXEC"])
        #expect(r.fdNum == 9)
        #expect(r.fd?.name == "172.17.0.3:55555->172.17.0.2:8080")
        #expect(r.fd?.isServerSide == true && r.fd?.clientPort == 55555 && r.fd?.serverPort == 8080)
        #expect(r.fd?.isCloseOnExec == true)

        // Unix sockets: the path is the name.
        s.sys(30, "socket", ret: 11, ["domain": "AF_UNIX", "type": "SOCK_STREAM", "proto": "0"])
        r = s.sys(30, "connect", ["fd": "11", "addr": "/run/containerd/containerd.sock"])
        #expect(r.fd?.kind == .unix && r.fd?.name == "/run/containerd/containerd.sock")
    }

    @Test func udpPeerChangeSetsNameChanged() {
        var s = Stream()
        s.exec(40, ppid: 1, "/usr/bin/dig", ["dig"])
        s.sys(40, "socket", ret: 3, ["domain": "AF_INET", "type": "SOCK_DGRAM", "proto": "0"])
        var r = s.feed(try! RecordEncoder.syscall(s.h(40), type: EventType(name: "sendto")!, ret: 40,
                                                  arguments: ["fd": "3", "addr": "8.8.8.8:53", "tuple": "10.0.0.2:40000->8.8.8.8:53"],
                                                  l4proto: 17))
        #expect(r.fd?.name == "10.0.0.2:40000->8.8.8.8:53")
        #expect(r.fd?.nameChanged == false)
        r = s.feed(try! RecordEncoder.syscall(s.h(40), type: EventType(name: "sendto")!, ret: 40,
                                              arguments: ["fd": "3", "addr": "1.1.1.1:53", "tuple": "10.0.0.2:40000->1.1.1.1:53"],
                                              l4proto: 17))
        #expect(r.fd?.name == "10.0.0.2:40000->1.1.1.1:53")
        #expect(r.fd?.nameChanged == true)
        r = s.feed(try! RecordEncoder.syscall(s.h(40), type: EventType(name: "sendto")!, ret: 40,
                                              arguments: ["fd": "3", "addr": "1.1.1.1:53", "tuple": "10.0.0.2:40000->1.1.1.1:53"],
                                              l4proto: 17))
        #expect(r.fd?.nameChanged == false)
    }

    @Test func fdCapIsCounted() {
        var s = Stream(.init(maxFDsPerProcess: 4, resolveUnknownFromProc: false))
        s.exec(10, ppid: 1, "/bin/sh", ["sh"])
        for fd in 3..<10 { s.sys(10, "openat", ret: Int64(fd), ["dirfd": "AT_FDCWD", "name": "/f\(fd)", "flags": "O_RDONLY"]) }
        #expect(s.table[10]!.fds.count == 4)
        #expect(s.table.stats.fdDrops.value == 3)
        // Replacing an existing fd is not a drop.
        s.sys(10, "openat", ret: 3, ["dirfd": "AT_FDCWD", "name": "/again", "flags": "O_RDONLY"])
        #expect(s.table[10]!.fds[3]?.name == "/again")
        #expect(s.table.stats.fdDrops.value == 3)
    }

    @Test func eventsWithAnFDArgumentReportIt() {
        var s = Stream()
        s.exec(10, ppid: 1, "/sbin/insmod", ["insmod"])
        s.sys(10, "openat", ret: 3, ["dirfd": "AT_FDCWD", "name": "/lib/modules/evil.ko", "flags": "O_RDONLY"])
        let r = s.sys(10, "finit_module", ["fd": "3", "uargs": ""])
        #expect(r.fd?.name == "/lib/modules/evil.ko" && r.fdNum == 3)
    }
}

@Suite struct EventContextTests {
    /// The pipeline's one context, refilled per event: every field is the new event's, the
    /// previous process and fd go back in `applied`, an unchanged process stays the same object.
    @Test func refillReplacesEveryFieldInPlace() throws {
        var s = Stream()
        s.exec(10, ppid: 1, "/bin/cat", ["cat"], cwd: "/etc")
        s.exec(20, ppid: 1, "/bin/sh", ["sh"], cwd: "/")
        let table = s.table
        let container = ContainerInfo(id: "0123456789ab", fullID: "0123456789abcdef", runtime: "docker")
        let open = try RecordEncoder.syscall(s.h(10), type: EventType(name: "openat")!, ret: 3,
                                             arguments: ["dirfd": "AT_FDCWD", "name": "passwd", "flags": "O_RDONLY"])
        var ctx = try OwnedRecord(bytes: open).withEvent { e in
            EventContext(event: e, applied: table.apply(e), container: container, processes: table, wallTimeNs: 5)
        }.get()
        #expect(ctx.process?.pid == 10 && ctx.fdNum == 3 && ctx.fd?.name == "/etc/passwd" && ctx.container === container)

        let setuid = try RecordEncoder.syscall(s.h(20), type: EventType(name: "setuid")!, arguments: ["uid": "0"])
        let previous = try OwnedRecord(bytes: setuid).withEvent { e -> ProcessTable.ApplyResult in
            var applied = table.apply(e)
            ctx.refill(event: e, applied: &applied, lookup: .known(.host), wallTimeNs: 7)
            #expect(ctx.event.pid == 20 && ctx.event.type == EventType(name: "setuid"))
            return applied
        }.get()
        #expect(ctx.process?.pid == 20 && ctx.fd == nil && ctx.fdNum == -1)
        #expect(ctx.container === ContainerInfo.host && ctx.wallTimeNs == 7)
        #expect(previous.process?.pid == 10 && previous.fd?.name == "/etc/passwd")

        let p20 = try #require(ctx.process)
        let open2 = try RecordEncoder.syscall(s.h(20), type: EventType(name: "openat")!, ret: 4,
                                              arguments: ["dirfd": "AT_FDCWD", "name": "/tmp/x", "flags": "O_RDONLY"])
        try OwnedRecord(bytes: open2).withEvent { e in
            var applied = table.apply(e)
            ctx.refill(event: e, applied: &applied, lookup: .pending, wallTimeNs: 9)
            #expect(applied.fd == nil)
        }.get()
        #expect(ctx.process === p20 && ctx.fdNum == 4 && ctx.fd?.name == "/tmp/x" && ctx.container == nil && ctx.wallTimeNs == 9)
    }

    @Test func argumentsRenderWithFDAndUserNames() throws {
        var s = Stream()
        s.exec(10, ppid: 1, "/bin/cat", ["cat"], cwd: "/etc")
        let rec = try RecordEncoder.syscall(s.h(10), type: EventType(name: "openat")!, ret: 3,
                                            arguments: ["dirfd": "AT_FDCWD", "name": "passwd", "flags": "O_RDONLY"])
        let table = s.table
        let text = try OwnedRecord(bytes: rec).withEvent { e -> String in
            let applied = table.apply(e)
            let ctx = EventContext(event: e, applied: applied, container: nil, processes: table, wallTimeNs: 0)
            #expect(ctx.fdNum == 3 && ctx.fd?.name == "/etc/passwd")
            return e.formattedArguments(ctx.argumentResolver())
        }.get()
        #expect(text == "fd=3(<f>/etc/passwd) dirfd=-100(AT_FDCWD) name=passwd flags=0(O_RDONLY) mode=0")
        let su = try RecordEncoder.syscall(s.h(10), type: EventType(name: "setuid")!, arguments: ["uid": "0"])
        let t2 = try OwnedRecord(bytes: su).withEvent { e -> String in
            let ctx = EventContext(event: e, applied: table.apply(e), container: nil, processes: table, wallTimeNs: 0)
            return e.formattedArguments(ctx.argumentResolver())
        }.get()
        #expect(t2 == "res=0 uid=0(root)")
    }
}

@Suite struct BindPortTests {
    /// bind to port 0: the name shows the port the kernel assigned (from the tuple after the call).
    @Test func bindToPortZeroUsesTheKernelsPort() {
        var s = Stream()
        s.exec(10, ppid: 1, "/usr/bin/python3", ["python3"])
        s.sys(10, "socket", ret: 3, ["domain": "AF_INET", "type": "SOCK_STREAM", "proto": "0"])
        var t = SocketTuple.encode(family: 2, l4proto: 6, local: (IPAddress("127.0.0.1")!, 38309), remote: (.none, 0))
        t.family = 2
        var r = s.feed(RecordEncoder.syscall(s.h(10), type: EventType(name: "bind")!, ret: 0, args: [3, 0, 16],
                                             rawStr0: SocketAddress.encode("127.0.0.1:0"), tuple: t))
        #expect(r.fd?.name == "127.0.0.1:38309")
        #expect(r.fd?.serverPort == 38309)
        r = s.feed(RecordEncoder.syscall(s.h(10), type: EventType(name: "listen")!, ret: 0, args: [3, 1], tuple: t))
        #expect(r.fd?.isServerSide == true && r.fd?.name == "127.0.0.1:38309")
    }
}

@Suite struct NormalPathTests {
    @Test func normalAbsoluteDetection() {
        func check(_ s: String) -> Bool { Array(s.utf8).withUnsafeBytes { PathResolver.isNormalAbsolute($0) } }
        for p in ["/", "/etc/passwd", "/a/.hidden", "/a/..b/c", "/x/...", "/usr/lib/x86_64-linux-gnu/libc.so.6"] {
            #expect(check(p), "\(p) is normal")
            #expect(PathResolver.normalize(p) == p)
        }
        for p in ["", "rel", "/a//b", "/a/./b", "/a/../b", "/a/", "/.", "/..", "/a/.", "/a/.."] {
            #expect(!check(p), "\(p) is not normal")
        }
    }
}

@Suite struct DatagramServerTests {
    /// A UDP socket that receives before it sends is the server end (a DNS server).
    @Test func receiveFirstMakesTheServerSide() throws {
        var s = Stream()
        s.exec(50, ppid: 1, "/usr/sbin/dnsmasq", ["dnsmasq"])
        s.sys(50, "socket", ret: 3, ["domain": "AF_INET", "type": "SOCK_DGRAM", "proto": "0"])
        s.sys(50, "bind", ["fd": "3", "addr": "0.0.0.0:53"])
        let r = s.feed(try RecordEncoder.syscall(s.h(50), type: EventType(name: "recvfrom")!, ret: 40,
                                                 arguments: ["fd": "3", "tuple": "10.0.0.53:53->10.0.0.7:33333"], l4proto: 17))
        #expect(r.fd?.isServerSide == true)
        #expect(r.fd?.clientPort == 33333 && r.fd?.serverPort == 53)
        #expect(r.fd?.name == "10.0.0.7:33333->10.0.0.53:53")
    }
}
