import Testing
import VigilABI
import VigilCore
import VigilDecode
@testable import VigilState

/// Opens of the same path share their name storage (``FileNameCache``) and still behave as
/// separate fds: right names per open, a change to one fd never shows in another.
@Suite struct FileNameCacheTests {
    static func storage(_ c: FileNameCache, _ raw: [UInt8], _ name: [UInt8]?) -> FDInfo.Storage {
        raw.withUnsafeBytes { r in
            guard let name else { return c.storage(raw: r, name: nil) }
            return name.withUnsafeBytes { c.storage(raw: r, name: $0) }
        }
    }

    @Test func repeatedOpensShareNamesAndStaySeparateFds() throws {
        var s = Stream()
        s.exec(10, ppid: 1, "/bin/sh", ["sh"], cwd: "/home/user")
        s.exec(11, ppid: 1, "/bin/sh", ["sh"], cwd: "/tmp")
        let lib = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        let a = s.sys(10, "openat", ret: 3, ["dirfd": "AT_FDCWD", "name": lib, "flags": "O_RDONLY|O_CLOEXEC"])
        let b = s.sys(11, "openat", ret: 4, ["dirfd": "AT_FDCWD", "name": lib, "flags": "O_RDONLY"])
        let fa = try #require(a.fd), fb = try #require(b.fd)
        #expect(fa.name == lib && fa.nameRaw == lib && fb.name == lib && fb.nameRaw == lib)
        #expect(fa.isCloseOnExec && !fb.isCloseOnExec)
        #expect(fa.storage === fb.storage)
        #expect(s.table.fileNames.hits == 1)
        // A failed open of the same path reports it too (and is not stored).
        let failed = s.sys(10, "openat", ret: -2, ["dirfd": "AT_FDCWD", "name": lib, "flags": "O_RDONLY"])
        #expect(failed.fd?.name == lib && failed.fdNum == -1)
        #expect(s.table.fileNames.hits == 2)
        // Changing one fd's name copies its storage: the other fd and the next open keep theirs.
        var changed = try #require(s.table[10]?.fds[3])
        changed.name = "/renamed"
        s.table[10]?.fds[3] = changed
        #expect(s.table[10]?.fds[3]?.name == "/renamed")
        #expect(s.table[11]?.fds[4]?.name == lib)
        let c = s.sys(10, "openat", ret: 5, ["dirfd": "AT_FDCWD", "name": lib, "flags": "O_RDONLY"])
        #expect(c.fd?.name == lib)
        // Closing one leaves the other.
        s.sys(11, "close", ["fd": "4"])
        #expect(s.table[10]?.fds[5]?.name == lib)
        // Relative and unnormalized paths are resolved per open, as before.
        #expect(s.sys(10, "openat", ret: 6, ["dirfd": "AT_FDCWD", "name": "notes", "flags": "O_RDONLY"]).fd?.name == "/home/user/notes")
        #expect(s.sys(11, "openat", ret: 6, ["dirfd": "AT_FDCWD", "name": "notes", "flags": "O_RDONLY"]).fd?.name == "/tmp/notes")
        let odd = s.sys(11, "openat", ret: 7, ["dirfd": "AT_FDCWD", "name": "/etc//ssh/../passwd", "flags": "O_RDONLY"])
        #expect(odd.fd?.name == "/etc/passwd" && odd.fd?.nameRaw == "/etc//ssh/../passwd")
    }

    @Test func theResolvedNameIsPartOfTheKey() {
        let c = FileNameCache()
        let raw = Array("/proc/self/root/etc/passwd".utf8)
        let p = Self.storage(c, raw, Array("/etc/passwd".utf8))
        let q = Self.storage(c, raw, Array("/etc/shadow".utf8))
        let r = Self.storage(c, raw, nil)
        #expect(p.name == "/etc/passwd" && p.nameRaw == "/proc/self/root/etc/passwd")
        #expect(q.name == "/etc/shadow" && q.nameRaw == "/proc/self/root/etc/passwd")
        #expect(r.name == "/proc/self/root/etc/passwd" && r.nameRaw == r.name)
        // The resolved name equal to the raw path is the same entry as no resolved name.
        #expect(Self.storage(c, raw, raw) === Self.storage(c, raw, nil))
    }

    @Test func collisionsAndInvalidUTF8GiveTheRightNames() {
        let c = FileNameCache()
        // More paths than slots: every answer is still the path asked for.
        for round in 0..<2 {
            for i in 0..<(FileNameCache.capacity * 3) {
                let path = "/var/lib/app/\(i)/file-\(i % 7).dat"
                let s = Self.storage(c, Array(path.utf8), nil)
                #expect(s.name == path && s.nameRaw == path, "round \(round) path \(i)")
            }
        }
        #expect(c.hits > 0)
        // A path longer than the table keeps gets storage of its own each time, with the right names.
        let long = "/srv/" + String(repeating: "d", count: FileNameCache.maxKeyBytes)
        let l1 = Self.storage(c, Array(long.utf8), nil), l2 = Self.storage(c, Array(long.utf8), nil)
        #expect(l1.name == long && l2.nameRaw == long && l1 !== l2)
        // Invalid UTF-8 is repaired the way every other string of an event is, on each open.
        let bad: [UInt8] = [0x2f, 0x74, 0xff, 0x6d, 0x70]
        let expected = String(decoding: bad, as: UTF8.self)
        #expect(Self.storage(c, bad, nil).name == expected)
        #expect(Self.storage(c, bad, nil).name == expected)
    }

    /// Opens served from the table (which skip the normal-path test: their bytes passed it when
    /// added) name their fds exactly as the full path resolution does, for a random mix of
    /// normal, non-normal and relative paths repeated in any order.
    @Test func cachedOpensNameFdsAsResolutionDoes() throws {
        var s = Stream()
        s.exec(20, ppid: 1, "/bin/sh", ["sh"], cwd: "/home/user")
        let paths = ["/etc/passwd", "/etc//passwd", "/etc/./passwd", "/etc/../etc/passwd", "etc/passwd", "./x", "../y",
                     "/usr/lib/libc.so.6", "/usr/lib/", "/", "//", "/a/b/..", "/a/b/c", "a", "/etc/passwd/"]
        var r: UInt64 = 0x2545_F491_4F6C_DD1D
        var fd: Int64 = 3
        for _ in 0..<400 {
            r ^= r << 13; r ^= r >> 7; r ^= r << 17
            let path = paths[Int(r % UInt64(paths.count))]
            let res = s.sys(20, "openat", ret: fd, ["dirfd": "AT_FDCWD", "name": path, "flags": "O_RDONLY"])
            let expected = path.hasPrefix("/") ? PathResolver.normalize(path)
                : PathResolver.resolve(path, against: "/home/user/")
            let f = try #require(res.fd)
            #expect(f.name == expected && f.nameRaw == path, "\(path): \(f.name)")
            #expect(s.table[20]?.fds[Int32(fd)]?.name == expected)
            _ = s.sys(20, "close", ret: 0, ["fd": String(fd)])
            fd = fd == 9 ? 3 : fd + 1
        }
        #expect(s.table.fileNames.hits > 50)
    }
}
