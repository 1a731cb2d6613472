import Testing
import VigilABI
import VigilDecode

/// The syscall argument schema: Falco's names, where each value is stored,
/// and Falco-style rendering; plus the reverse (named values to records).
@Suite struct SchemaTests {
    let h = RecordEncoder.Header(pid: 10, ppid: 1, uid: 0, comm: "cat")

    func with<R>(_ bytes: [UInt8], _ body: (Event) throws -> R) throws -> R {
        try OwnedRecord(bytes: bytes).withEvent(body).get()
    }

    @Test func openatArgumentsFromRawRecord() throws {
        let rec = RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: 3,
                                        args: [UInt64(bitPattern: -100), 0x7fff0000, 0o1 | 0o100 | 0o1000 | 0o2000000, 0o644],
                                        str0: "/etc/shadow")
        try with(rec) { e in
            #expect(e.schema.arguments.map(\.name) == ["fd", "dirfd", "name", "flags", "mode", "dev", "ino"])
            #expect(e.argument(named: "name")?.text() == "/etc/shadow")
            #expect(e.argument(named: "flags")?.text() == "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC")
            #expect(e.argument(named: "flags")?.integer == Int64(0o1 | 0o100 | 0o1000 | 0o2000000))
            #expect(e.argument(named: "dirfd")?.text() == "AT_FDCWD")
            #expect(e.argument(named: "dirfd")?.integer == -100)
            #expect(e.argument(named: "mode")?.text() == "0644")
            #expect(e.argument(named: "fd")?.integer == 3)
            #expect(e.argument(named: "dev") == nil)
            #expect(e.argument(named: "nosuch") == nil)
            #expect(e.argument(at: 2)?.text() == "/etc/shadow")
            #expect(e.argument(at: 99) == nil)
            #expect(e.isOpenWrite && !e.isOpenRead && !e.isOpenExec)
            #expect(e.formattedArguments() ==
                    "fd=3 dirfd=-100(AT_FDCWD) name=/etc/shadow flags=\(0o1 | 0o100 | 0o1000 | 0o2000000)(O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC) mode=0644")
            let resolved = e.formattedArguments(ArgumentResolver(fdName: { $0 == 3 ? "<f>/etc/shadow" : nil }))
            #expect(resolved.hasPrefix("fd=3(<f>/etc/shadow) "))
        }
    }

    @Test func rdonlyAndOpenExec() throws {
        let rd = try RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: 4,
                                           arguments: ["name": "/etc/passwd", "flags": "O_RDONLY", "dirfd": "AT_FDCWD"])
        try with(rd) { e in
            #expect(e.argument(named: "flags")?.text() == "O_RDONLY")
            #expect(e.isOpenRead && !e.isOpenWrite)
        }
        let ex = try RecordEncoder.syscall(h, type: EventType(name: "open")!, ret: 4,
                                           arguments: ["name": "/tmp/x", "flags": "O_RDWR|O_CREAT", "mode": "0755"])
        try with(ex) { e in
            #expect(e.isOpenExec && e.isOpenRead && e.isOpenWrite)
            #expect(e.argument(named: "mode")?.integer == 0o755)
        }
        let creat = try RecordEncoder.syscall(h, type: EventType(name: "creat")!, ret: 4, arguments: ["name": "x", "mode": "0700"])
        try with(creat) { e in #expect(e.isOpenExec && e.isOpenWrite) }
    }

    @Test func encodeSymbolicRoundTrip() throws {
        let rec = try RecordEncoder.syscall(h, type: EventType(name: "openat")!, arguments: [
            (name: "fd", value: "ENOENT"), (name: "dirfd", value: "7"), (name: "name", value: "shadow"),
            (name: "flags", value: "O_RDONLY|O_CREAT | O_EXCL"), (name: "mode", value: "600"),
        ])
        try with(rec) { e in
            #expect(e.ret == -2)
            #expect(e.arg(0) == 7)
            #expect(e.str0.vigilString == "shadow")
            #expect(e.arg(2) == LinuxConstants.O_CREAT | LinuxConstants.O_EXCL)
            #expect(e.arg(3) == 0o600)
            #expect(e.argument(named: "fd")?.text() == "ENOENT")
            #expect(e.formattedArguments().hasPrefix("fd=-2(ENOENT) dirfd=7 name=shadow flags=192(O_RDONLY|O_CREAT|O_EXCL) mode=0600"))
        }
    }

    @Test func encodeErrorsNameThePlace() {
        #expect(throws: ArgumentEncodingError.unknownArgument(type: "unlink", name: "name", known: ["res", "path"])) {
            try RecordEncoder.syscall(h, type: EventType(name: "unlink")!, arguments: ["name": "/x"])
        }
        do {
            _ = try RecordEncoder.syscall(h, type: EventType(name: "open")!, arguments: ["flags": "O_BOGUS"])
            Issue.record("expected an error")
        } catch let e as ArgumentEncodingError {
            #expect(e.description.contains("flags"))
            #expect(e.description.contains("O_BOGUS"))
        } catch { Issue.record("wrong error \(error)") }
        #expect(throws: ArgumentEncodingError.self) {
            try RecordEncoder.syscall(h, type: EventType(name: "open")!, arguments: ["dev": "1"])
        }
        #expect(throws: ArgumentEncodingError.self) {
            try RecordEncoder.syscall(h, type: EventType(name: "connect")!, arguments: ["addr": "not an address"])
        }
    }

    @Test func ptraceSocketAndFriends() throws {
        let p = try RecordEncoder.syscall(h, type: EventType(name: "ptrace")!, arguments: ["request": "PTRACE_ATTACH", "pid": "42"])
        try with(p) { e in
            #expect(e.argument(named: "request")?.text() == "PTRACE_ATTACH")
            #expect(e.argument(named: "request")?.integer == 16)
            #expect(e.argument(named: "pid")?.integer == 42)
        }
        let t = try RecordEncoder.syscall(h, type: EventType(name: "ptrace")!, arguments: ["request": "0"])
        try with(t) { e in #expect(e.argument(named: "request")?.text() == "PTRACE_TRACEME") }
        let s = try RecordEncoder.syscall(h, type: EventType(name: "socket")!, ret: 5,
                                          arguments: ["domain": "AF_PACKET", "type": "SOCK_RAW|SOCK_CLOEXEC", "proto": "768"])
        try with(s) { e in
            #expect(e.argument(named: "domain")?.text() == "AF_PACKET")
            #expect(e.argument(named: "type")?.text() == "SOCK_RAW|SOCK_CLOEXEC")
            #expect(e.formattedArguments() == "fd=5 domain=17(AF_PACKET) type=\(3 | 0o2000000)(SOCK_RAW|SOCK_CLOEXEC) proto=768")
        }
    }

    @Test func chmodModeRendering() throws {
        let c = try RecordEncoder.syscall(h, type: EventType(name: "chmod")!, arguments: ["filename": "/bin/x", "mode": "4755"])
        try with(c) { e in
            let m = e.argument(named: "mode")!
            #expect(m.rawText == "04755")
            #expect(m.text() == "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID")
            #expect(e.argument(named: "filename")?.text() == "/bin/x")
        }
    }

    @Test func linkRenameMountPaths() throws {
        let l = try RecordEncoder.syscall(h, type: EventType(name: "symlinkat")!,
                                          arguments: ["target": "/etc/shadow", "linkdirfd": "AT_FDCWD", "linkpath": "s"])
        try with(l) { e in
            #expect(e.argument(named: "target")?.text() == "/etc/shadow")
            #expect(e.argument(named: "linkpath")?.text() == "s")
            #expect(e.argument(named: "linkdirfd")?.text() == "AT_FDCWD")
        }
        let r = try RecordEncoder.syscall(h, type: EventType(name: "renameat2")!,
                                          arguments: ["oldpath": "a", "newpath": "b", "flags": "RENAME_NOREPLACE"])
        try with(r) { e in
            #expect(e.argument(named: "oldpath")?.text() == "a")
            #expect(e.argument(named: "newpath")?.text() == "b")
            #expect(e.argument(named: "flags")?.text() == "RENAME_NOREPLACE")
        }
        let m = try RecordEncoder.syscall(h, type: EventType(name: "mount")!,
                                          arguments: ["dev": "/dev/sda1", "dir": "/mnt", "type": "ext4", "flags": "MS_BIND|MS_REC"])
        try with(m) { e in
            #expect(e.argument(named: "dev")?.text() == "/dev/sda1")
            #expect(e.argument(named: "type")?.text() == "ext4")
            #expect(e.argument(named: "dir")?.text() == "/mnt")
            #expect(e.argument(named: "flags")?.text() == "MS_BIND|MS_REC")
        }
        // Mount magic number in the high bits is not rendered.
        let mm = RecordEncoder.syscall(h, type: EventType(name: "mount")!, ret: 0, args: [0, 0, 0, 0xC0ED_0000 | 1])
        try with(mm) { e in #expect(e.argument(named: "flags")?.text() == "MS_RDONLY") }
    }

    @Test func socketAddressesAndTuples() throws {
        let c = try RecordEncoder.syscall(h, type: EventType(name: "connect")!, ret: -115, arguments: [
            "fd": "3", "addr": "10.1.2.3:443", "tuple": "192.168.0.5:40000->10.1.2.3:443",
        ])
        try with(c) { e in
            #expect(e.argument(named: "addr")?.text() == "10.1.2.3:443")
            #expect(e.argument(named: "tuple")?.text() == "192.168.0.5:40000->10.1.2.3:443")
            #expect(e.argument(named: "res")?.text() == "EINPROGRESS")
            let t = SocketTuple(e.tuple)
            #expect(t.localPort == 40000 && t.remotePort == 443 && t.l4proto == 6)
            #expect(t.remoteIP.description == "10.1.2.3")
        }
        let a = try RecordEncoder.syscall(h, type: EventType(name: "accept4")!, ret: 7, arguments: [
            "tuple": "[2001:db8::1]:5555->[::1]:80", "flags": "SOCK_CLOEXEC",
        ])
        try with(a) { e in
            #expect(e.argument(named: "tuple")?.text() == "2001:db8::1:5555->::1:80")
            let t = SocketTuple(e.tuple)
            #expect(t.localPort == 80 && t.remotePort == 5555)
            #expect(t.localIP.isLoopback)
        }
        let u = try RecordEncoder.syscall(h, type: EventType(name: "connect")!, arguments: ["addr": "/run/containerd/containerd.sock"])
        try with(u) { e in #expect(e.argument(named: "addr")?.text() == "/run/containerd/containerd.sock") }
        let ab = try RecordEncoder.syscall(h, type: EventType(name: "bind")!, arguments: ["addr": "@abstract"])
        try with(ab) { e in #expect(e.argument(named: "addr")?.text() == "@abstract") }
    }

    @Test func ipv6Formatting() {
        #expect(IPAddress("::1")?.description == "::1")
        #expect(IPAddress("fe80:0:0:0:1:0:0:2")?.description == "fe80::1:0:0:2")
        #expect(IPAddress("2001:db8:0:0:0:0:0:0")?.description == "2001:db8::")
        #expect(IPAddress("::ffff:1.2.3.4")?.description == "::ffff:1.2.3.4")
        #expect(IPAddress("1.2.3.4")?.bytes == [1, 2, 3, 4])
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("1:2:3:4:5:6:7:8:9") == nil)
        #expect(IPAddress("256.1.1.1") == nil)
    }

    @Test func execForkExitArguments() throws {
        let x = RecordEncoder.exec(RecordEncoder.Header(pid: 50, ppid: 1, uid: 1000, comm: "sh"),
                                   .init(exePath: "/usr/bin/env", argv: ["env", "A=1", "/bin/echo", "x y"], cwd: "/tmp",
                                         exeFlags: UInt32(VIGIL_EXE_WRITABLE | VIGIL_EXE_UPPER_LAYER), loginUID: 1000))
        try with(x) { e in
            #expect(e.argument(named: "exe")?.text() == "env")
            #expect(e.argument(named: "args")?.text() == "A=1 /bin/echo x y")
            #expect(e.argument(named: "flags")?.text() == "EXE_UPPER_LAYER|EXE_WRITABLE")
            #expect(e.argument(named: "cwd")?.text() == "/tmp")
            #expect(e.argument(named: "trusted_exepath")?.text() == "/usr/bin/env")
            #expect(e.argument(named: "filename")?.text() == "/usr/bin/env")
            #expect(e.argument(named: "res")?.integer == 0)
            #expect(e.argument(named: "uid")?.integer == 1000)
            #expect(e.argument(named: "loginuid")?.integer == 1000)
            #expect(e.argument(named: "comm")?.text() == "sh")
            #expect(e.argument(named: "cgroups")?.text() == "/")
        }
        let failed = try RecordEncoder.syscall(h, type: EventType(name: "execve")!, ret: -2, arguments: ["filename": "/nope"])
        try with(failed) { e in
            #expect(e.argument(named: "filename")?.text() == "/nope")
            #expect(e.argument(named: "res")?.text() == "ENOENT")
            #expect(e.argument(named: "exe") == nil)
        }
        let f = RecordEncoder.fork(h, childPid: 11, childTid: 12, isThread: true)
        try with(f) { e in
            #expect(e.type.name == "clone")
            #expect(e.argument(named: "res")?.integer == 12)
            #expect(e.argument(named: "flags")?.text() == "CLONE_THREAD")
        }
        let q = RecordEncoder.exit(h, code: 3, signal: 9)
        try with(q) { e in
            #expect(e.argument(named: "ret")?.integer == 3)
            #expect(e.argument(named: "sig")?.text() == "SIGKILL")
        }
    }

    @Test func everySchemaArgumentRendersWithoutCrashing() throws {
        // Random raw values through every argument of every type.
        var rng = SystemRandomNumberGenerator()
        for s in SyscallSchema.all {
            for _ in 0..<20 {
                let args = (0..<6).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng) }
                let rawS0 = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let rec = RecordEncoder.syscall(h, type: s.type, ret: Int64.random(in: -200...200, using: &rng), args: args,
                                                rawStr0: rawS0, rawStr1: [0x41, 0])
                try with(rec) { e in
                    _ = e.formattedArguments()
                    for i in s.arguments.indices { _ = e.argument(at: i)?.text() }
                }
            }
        }
        #expect(SyscallSchema.all.count >= 66)
        #expect(SyscallSchema.isKnownArgumentName("linkpath"))
        #expect(!SyscallSchema.isKnownArgumentName("bogus"))
    }

    @Test func flagTables() {
        #expect(FlagSet.openFlags.table.parse("O_RDONLY|O_CREAT") == LinuxConstants.O_CREAT)
        #expect(FlagSet.openFlags.table.render(LinuxConstants.O_SYNC | LinuxConstants.O_WRONLY) == "O_WRONLY|O_SYNC")
        #expect(FlagSet.openFlags.table.render(LinuxConstants.O_TMPFILE | LinuxConstants.O_RDWR) == "O_RDWR|O_TMPFILE")
        #expect(FlagSet.socketDomain.table.parse("AF_INET6") == 10)
        #expect(FlagSet.bpfCommand.table.render(5) == "BPF_PROG_LOAD")
        #expect(FlagSet.capabilities.table.render(1 << 21 | 1) == "CAP_CHOWN|CAP_SYS_ADMIN")
        #expect(LinuxConstants.capabilityList(1 << 21 | 1) == "CAP_CHOWN CAP_SYS_ADMIN")
        #expect(LinuxConstants.errnoName(-115) == "EINPROGRESS")
        #expect(LinuxConstants.errnoName(-13) == "EACCES")
        #expect(LinuxConstants.errnoName(-133) == "EHWPOISON")
        #expect(LinuxConstants.resultText(0) == "SUCCESS")
        #expect(LinuxConstants.resultText(5) == "SUCCESS")
        #expect(LinuxConstants.resultText(-1) == "EPERM")
        #expect(FlagSet.signal.table.render(15) == "SIGTERM")
        #expect(FlagSet.ptraceRequest.table.render(0x4206) == "PTRACE_SEIZE")
        #expect(FlagSet.ptraceRequest.table.render(9999) == "")
        #expect(FlagSet.openFlags.table.parse("") == nil)
        #expect(FlagSet.openFlags.table.parse("0x8000|O_CREAT") == 0x8000 | LinuxConstants.O_CREAT)
    }
}

@Suite struct TupleFamilyTests {
    @Test func unixTupleIsNotRenderedAsAddresses() throws {
        var t = vigil_sock_tuple()
        t.family = 1; t.sock_type = 1
        let rec = RecordEncoder.syscall(.init(pid: 1), type: EventType(name: "connect")!, ret: 0, args: [3],
                                        rawStr0: SocketAddress.encode("/run/docker.sock"), tuple: t)
        try OwnedRecord(bytes: rec).withEvent { e in
            #expect(e.argument(named: "tuple") == nil)
            #expect(e.argument(named: "addr")?.text() == "/run/docker.sock")
            #expect(e.formattedArguments() == "res=0 fd=3 addr=/run/docker.sock")
        }.get()
    }
}

@Suite struct EndpointTextTests {
    @Test func ipv4AndIPv6EndpointText() {
        let a = IPAddress("255.255.255.255")!, b = IPAddress("0.0.0.0")!, c = IPAddress("10.20.3.100")!
        #expect(a.description == "255.255.255.255" && b.description == "0.0.0.0" && c.description == "10.20.3.100")
        #expect(IPAddress.endpointsText(client: (a, 65535), server: (b, 0)) == "255.255.255.255:65535->0.0.0.0:0")
        #expect(IPAddress.endpointsText(client: (c, 40000), server: (a, 443)) == "10.20.3.100:40000->255.255.255.255:443")
        #expect(IPAddress.endpointsText(client: (IPAddress("::1")!, 1), server: (IPAddress("fe80::2")!, 22)) == "::1:1->fe80::2:22")
    }
}
