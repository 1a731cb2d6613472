#if canImport(Glibc)
import Glibc
#endif
import CLibBPF
import Testing
import VigilABI
import VigilCapture
import VigilDecode

/// The path of an opened file, walked up its dentries (bpf/paths.bpf.h): names stored in the
/// dentry itself (under DNAME_INLINE_LEN bytes: 40 on 6.18, 32 before) are taken from the one
/// read of the dentry, longer ones read apart. Every length around both limits, at every depth.
@Suite(.serialized) struct DentryWalkKernelTests {
    func name(_ n: Int, _ c: Character) -> String { String(repeating: c, count: n) }

    /// `name` in /tmp as the kernel names it (symlinks resolved: the walk reports real paths).
    func tmpPath(_ name: String) throws -> String {
        let real = try #require(realpath("/tmp", nil), "realpath /tmp")
        defer { free(real) }
        return String(decoding: UnsafeRawBufferPointer(start: real, count: strlen(real)), as: UTF8.self) + "/" + name
    }

    /// Opens `path` and returns the path the kernel side resolved for the opened file.
    func openedPath(_ s: SharedCapture, _ path: String) throws -> String {
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0, "open \(path): errno \(errno)")
        close(fd)
        let me = UInt32(getpid())
        let r = try #require(s.recorder.wait { e in
            // O_RDONLY: not the creat (an openat with O_WRONLY | O_CREAT) that made the file.
            e.pid == me && e.type == EventType(name: "openat") && e.ret >= 0 && e.arg(2) & 3 == UInt64(O_RDONLY)
                && e.str0.vigilString == path
        }, "no openat record for \(path)")
        return try r.withEvent { $0.openedPath.vigilString }.get()
    }

    /// Opens `path` with `flags` at descriptor `atLeast` or above (fcntl F_DUPFD of a first open),
    /// and returns the record's file reference and resolved path with the file's stat.
    func openedFile(_ s: SharedCapture, _ path: String, atLeast: Int32) throws -> (vigil_file_ref, String, Glibc.stat) {
        let first = open(path, O_RDONLY)
        try #require(first >= 0, "open \(path): errno \(errno)")
        var st = Glibc.stat()
        try #require(fstat(first, &st) == 0)
        close(first)
        // Descriptors below `atLeast` held open, so the next open lands at or above it.
        var held: [Int32] = []
        defer { for f in held { close(f) } }
        while true {
            let f = open("/dev/null", O_RDONLY)
            try #require(f >= 0)
            if f >= atLeast - 1 { close(f); break }
            held.append(f)
        }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0, "open \(path): errno \(errno)")
        close(fd)
        let me = UInt32(getpid())
        let r = try #require(s.recorder.wait { e in
            e.pid == me && e.type == EventType(name: "openat") && e.ret == Int64(fd) && e.str0.vigilString == path
        }, "no openat record for \(path) at fd \(fd)")
        #expect(fd >= atLeast - 1)
        let (ref, resolved) = try r.withEvent { ($0.fileRef, $0.openedPath.vigilString) }.get()
        return (ref, resolved, st)
    }

    /// The file of a successful open is the same whichever way the kernel side reaches it: a
    /// descriptor in the first 64 or above (a grown table; 6.2+ casts the file found by a probe
    /// read, 5.11-6.1 take direct loads only in the embedded table), a path deeper than the
    /// direct-load walk's 32 components (the probe-read walk goes on), a file across a mount
    /// (/proc, /dev: direct loads on 6.2+, the probe-read walk before), a file with two links,
    /// paths around the 128 bytes copied into the record word by word.
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func theOpenedFileIsTheSameAtEveryDescriptorDepthAndMount() throws {
        let s = try SharedCapture.get()
        let base = try tmpPath("vigil-fref-\(getpid())")
        try #require(mkdir(base, 0o700) == 0)
        var made: [String] = [base]
        defer { for p in made.reversed() { if unlink(p) != 0 { rmdir(p) } } }
        var dir = base
        for i in 0..<40 {
            dir += "/" + (i % 2 == 0 ? "d" : name(45, "n"))
            try #require(mkdir(dir, 0o700) == 0, "mkdir \(dir)")
            made.append(dir)
        }
        let deep = dir + "/file", shallow = base + "/file", link = base + "/link"
        for f in [deep, shallow] {
            let fd = creat(f, 0o600)
            try #require(fd >= 0, "creat \(f)")
            close(fd)
            made.append(f)
        }
        try #require(Glibc.link(shallow, link) == 0)
        made.append(link)
        // Paths around the 128 bytes (NUL included) that are copied word by word into the record.
        var around: [String] = []
        for total in 120...136 {
            let f = base + "/" + name(total - base.utf8.count - 2, "w")
            try #require(f.utf8.count + 1 == total)
            let fd = creat(f, 0o600)
            try #require(fd >= 0, "creat \(f)")
            close(fd)
            made.append(f)
            around.append(f)
        }
        let me = getpid()
        let cases: [(open: String, resolved: String)] = [
            (shallow, shallow), (link, link), (deep, deep),
            ("/proc/self/status", "/proc/\(me)/status"), ("/dev/null", "/dev/null"),
        ] + around.map { ($0, $0) }
        for (path, resolved) in cases {
            for atLeast: Int32 in [3, 70] {
                let (ref, got, st) = try openedFile(s, path, atLeast: atLeast)
                #expect(got == resolved, "\(path) at fd >= \(atLeast)")
                #expect(ref.flags & UInt32(VIGIL_FILE_PRESENT | VIGIL_FILE_RESOLVED) == UInt32(VIGIL_FILE_PRESENT | VIGIL_FILE_RESOLVED))
                #expect(ref.flags & UInt32(VIGIL_FILE_PATH_TRUNCATED) == 0)
                #expect(ref.ino == UInt64(st.st_ino), "\(path) at fd >= \(atLeast): inode")
                #expect(UInt64(ref.dev) == UInt64(st.st_dev), "\(path) at fd >= \(atLeast): device")
                #expect(UInt64(ref.nlink) == UInt64(st.st_nlink), "\(path) at fd >= \(atLeast): links")
            }
        }
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func everyNameLengthAroundTheInlineLimitsWalksWhole() throws {
        let s = try SharedCapture.get()
        let base = try tmpPath("vigil-dwalk-\(getpid())")
        try #require(mkdir(base, 0o700) == 0)
        var made: [String] = []
        defer {
            for p in made.reversed() { if unlink(p) != 0 { rmdir(p) } }
            rmdir(base)
        }
        // Directories whose names cross both inline limits, one inside the other.
        var dir = base
        for (i, n) in [1, 7, 8, 31, 32, 33, 39, 40, 41, 100].enumerated() {
            dir += "/" + name(n, Character(UnicodeScalar(UInt8(97 + i))))
            try #require(mkdir(dir, 0o700) == 0, "mkdir \(dir)")
            made.append(dir)
            // A file at this depth, with a name of each length around the limits.
            for m in [1, 31, 32, 39, 40, 255] {
                let file = dir + "/" + name(m, "f")
                let fd = creat(file, 0o600)
                try #require(fd >= 0, "creat \(file)")
                close(fd)
                made.append(file)
                #expect(try openedPath(s, file) == file)
            }
        }
        // A short name renamed to a long one and back (the dentry's name moves out of and into it).
        let short = dir + "/s", long = dir + "/" + name(60, "L")
        let fd = creat(short, 0o600)
        try #require(fd >= 0)
        close(fd)
        try #require(rename(short, long) == 0)
        made.append(long)
        #expect(try openedPath(s, long) == long)
        try #require(rename(long, short) == 0)
        made.removeLast()
        made.append(short)
        #expect(try openedPath(s, short) == short)
    }
}
