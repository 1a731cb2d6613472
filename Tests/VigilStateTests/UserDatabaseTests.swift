#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VigilState

@Suite struct UserDatabaseTests {
    @Test func parsesPasswdAndGroup() {
        let db = UserDatabase(passwd: """
            root:x:0:0:root:/root:/bin/bash
            # comment
            www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
            broken line
            nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
            dup:x:33:33::/:/bin/false
            """, group: "root:x:0:\nwww-data:x:33:\nbad:x:notanumber:\n")
        #expect(db.userName(0) == "root")
        #expect(db.userName(33) == "www-data")  // first entry wins
        #expect(db.user(65534)?.home == "/nonexistent")
        #expect(db.user(0)?.shell == "/bin/bash")
        #expect(db.groupName(33) == "www-data")
        #expect(db.userName(1234) == nil)
        #expect(db.uid(named: "nobody") == 65534)
    }

    @Test func hostDatabaseResolvesThisProcess() {
        let r = UserResolver()
        #expect(r.host.userName(0) == "root")
        let me = ProcessInfo(pid: UInt32(getpid()), ppid: 1, uid: getuid(), gid: getgid(), loginUID: .max)
        // A host process resolves through the host's files.
        let db = r.database(for: me)
        #expect(db === r.host)
        #expect(me.userDatabase === db)
        if let pw = getpwuid(getuid()) {
            #expect(r.userName(for: me) == String(cString: pw.pointee.pw_name))
        }
        #expect(r.loginName(for: me) == nil)
        me.loginUID = 0
        #expect(r.loginName(for: me) == "root")
    }

    @Test func containerRootHasItsOwnUsers() throws {
        // A fake /proc with a process whose root is a directory holding its own passwd.
        let base = "/tmp/vigil-users-\(getpid())"
        defer { _ = system("rm -rf '\(base)'") }
        mkdir(base, 0o755); mkdir(base + "/proc", 0o755); mkdir(base + "/proc/4242", 0o755)
        mkdir(base + "/rootfs", 0o755); mkdir(base + "/rootfs/etc", 0o755)
        try write(base + "/rootfs/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n")
        try write(base + "/rootfs/etc/group", "root:x:0:\napp:x:1000:\n")
        symlink(base + "/rootfs", base + "/proc/4242/root")
        let r = UserResolver(procRoot: base + "/proc")
        let p = ProcessInfo(pid: 4242, ppid: 1, uid: 1000, gid: 1000, cgroupID: 555)
        #expect(r.userName(for: p) == "app")
        #expect(r.groupName(for: p) == "app")
        #expect(r.database(for: p).root == base + "/proc/4242/root")
        // A second process of the same container reuses the cached database.
        mkdir(base + "/proc/4243", 0o755)
        symlink(base + "/rootfs", base + "/proc/4243/root")
        let q = ProcessInfo(pid: 4243, ppid: 1, uid: 0, cgroupID: 555)
        #expect(r.database(for: q) === r.database(for: p))
        // After the process is gone, its cgroup's database still applies.
        let gone = ProcessInfo(pid: 9999, ppid: 1, uid: 1000, cgroupID: 555)
        #expect(r.userName(for: gone) == "app")
    }

    func write(_ path: String, _ text: String) throws {
        let f = try #require(fopen(path, "w"))
        fputs(text, f)
        fclose(f)
    }
}
