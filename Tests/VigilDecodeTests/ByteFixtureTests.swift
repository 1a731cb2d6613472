import Testing
import VigilABI
import VigilDecode

/// Records written out byte by byte (as the kernel lays them out), independent
/// of RecordEncoder, so an encoder/decoder mistake cannot cancel itself out.
@Suite struct ByteFixtureTests {
    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * UInt64($0))) & 0xff) } }

    static func header(kind: UInt16, size: UInt32, pid: UInt32, comm: String) -> [UInt8] {
        var b: [UInt8] = le16(kind) + le16(0) + le32(size) + le64(123_456_789)  // kind flags size ts
        b += le32(1) + le32(pid) + le32(pid + 1) + le32(1) + le32(1000) + le32(100)  // cpu pid tid ppid uid gid
        b += le64(0xabcdef)  // cgroup id
        var c = Array(comm.utf8.prefix(15)); c += [UInt8](repeating: 0, count: 16 - c.count)
        return b + c
    }

    @Test func openatFixture() throws {
        let path = Array("tmp/f".utf8) + [0]
        var b = Self.header(kind: 1, size: UInt32(168 + path.count), pid: 77, comm: "touch")
        b += Self.le64(UInt64(bitPattern: 5))  // ret
        b += Self.le64(0x0000_0000_ffff_ff9c)  // args[0]: AT_FDCWD passed as a 32-bit int
        b += Self.le64(0x7ffd_0000_1000)       // args[1]: user pointer
        b += Self.le64(0o1101)                 // args[2]: O_WRONLY|O_CREAT|O_TRUNC
        b += Self.le64(0o666)                  // args[3]
        b += Self.le64(0) + Self.le64(0)
        b += Self.le16(2) + Self.le16(UInt16(path.count)) + Self.le16(0) + Self.le16(0)  // syscall str0 str1 reserved
        b += [UInt8](repeating: 0, count: 40)  // tuple
        b += path
        #expect(b.count == 168 + path.count)
        try OwnedRecord(bytes: b).withEvent { e in
            #expect(e.type.name == "openat")
            #expect(e.pid == 77 && e.tid == 78 && e.uid == 1000 && e.gid == 100 && e.cgroupID == 0xabcdef)
            #expect(e.comm.vigilString == "touch")
            #expect(e.ret == 5)
            #expect(e.str0.vigilString == "tmp/f")
            #expect(e.argument(named: "dirfd")?.text() == "AT_FDCWD")
            #expect(e.argument(named: "flags")?.text() == "O_WRONLY|O_CREAT|O_TRUNC")
            #expect(e.argument(named: "mode")?.text() == "0666")
            #expect(e.formattedArguments() == "fd=5 dirfd=-100(AT_FDCWD) name=tmp/f flags=577(O_WRONLY|O_CREAT|O_TRUNC) mode=0666")
            #expect(e.isOpenWrite)
        }.get()
    }

    @Test func connectFixtureWithRawSockaddrAndTuple() throws {
        // struct sockaddr_in { family=2, port=443 (network order), addr=10.0.0.1 }
        let sa: [UInt8] = [2, 0, 0x01, 0xbb, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        var b = Self.header(kind: 1, size: UInt32(168 + sa.count), pid: 9, comm: "curl")
        b += Self.le64(0) + Self.le64(3) + Self.le64(0x1000) + Self.le64(16) + Self.le64(0) + Self.le64(0) + Self.le64(0)
        b += Self.le16(23) + Self.le16(UInt16(sa.count)) + Self.le16(0) + Self.le16(0)
        // tuple: family, l4proto, type, sport, dport (host order), saddr[16], daddr[16]
        b += Self.le16(2) + [6, 1] + Self.le16(51000) + Self.le16(443)
        b += [192, 168, 1, 5] + [UInt8](repeating: 0, count: 12) + [10, 0, 0, 1] + [UInt8](repeating: 0, count: 12)
        b += sa
        try OwnedRecord(bytes: b).withEvent { e in
            #expect(e.type.name == "connect")
            #expect(e.argument(named: "addr")?.text() == "10.0.0.1:443")
            #expect(e.argument(named: "tuple")?.text() == "192.168.1.5:51000->10.0.0.1:443")
            #expect(e.argument(named: "fd")?.integer == 3)
            #expect(e.formattedArguments() == "res=0 tuple=192.168.1.5:51000->10.0.0.1:443 fd=3 addr=10.0.0.1:443")
        }.get()
    }

    @Test func execFixture() throws {
        let exe = Array("/bin/echo".utf8) + [0]
        let argv = Array("echo\0x\0y z\0".utf8)
        let cwd = Array("/root".utf8) + [0]
        let cg = Array("/system.slice/ssh.service".utf8) + [0]
        let size = 168 + exe.count + argv.count + cwd.count + cg.count
        var b = Self.header(kind: 2, size: UInt32(size), pid: 500, comm: "echo")
        b += Self.le16(51) + Self.le16(UInt16(exe.count)) + Self.le16(UInt16(argv.count)) + Self.le16(UInt16(cwd.count))
        b += Self.le32(0x21)           // exe_flags: UPPER_LAYER | WRITABLE
        b += Self.le32(1000) + Self.le32(0x8801) + Self.le32(500)  // loginuid tty old_tid
        b += Self.le32(0) + Self.le32(0)                          // euid egid
        b += Self.le64(1 << 21) + Self.le64(1 << 21)              // caps
        b += Self.le64(4242) + Self.le64(1) + Self.le64(2) + Self.le64(99)  // ino ctime mtime start
        b += Self.le32(500) + Self.le32(400) + Self.le32(1) + Self.le32(4026531836)  // pgid sid vpid pidns
        b += Self.le16(UInt16(cg.count)) + Self.le16(0) + Self.le32(0)
        #expect(b.count == 168)
        b += exe + argv + cwd + cg
        try OwnedRecord(bytes: b).withEvent { e in
            #expect(e.type.name == "execve")
            #expect(e.exePath.vigilString == "/bin/echo")
            #expect(e.cwd.vigilString == "/root")
            #expect(e.cgroupPath.vigilString == "/system.slice/ssh.service")
            #expect(e.argument(named: "args")?.text() == "x y z")
            #expect(e.argument(named: "exe")?.text() == "echo")
            #expect(e.argument(named: "flags")?.text() == "EXE_UPPER_LAYER|EXE_WRITABLE")
            #expect(e.argument(named: "cap_effective")?.text() == "CAP_SYS_ADMIN")
            #expect(e.argument(named: "tty")?.integer == 0x8801)
            #expect(e.execInfo.sid == 400 && e.execInfo.vpid == 1)
        }.get()
    }
}
