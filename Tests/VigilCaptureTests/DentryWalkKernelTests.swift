#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilABI
import VigilCapture
import VigilDecode

/// The path of an opened file, walked up its dentries (bpf/paths.bpf.h): names stored in the
/// dentry itself (under DNAME_INLINE_LEN bytes: 40 on 6.18, 32 before) are taken from the one
/// read of the dentry, longer ones read apart. Every length around both limits, at every depth.
@Suite(.serialized) struct DentryWalkKernelTests {
    func name(_ n: Int, _ c: Character) -> String { String(repeating: c, count: n) }

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

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func everyNameLengthAroundTheInlineLimitsWalksWhole() throws {
        let s = try SharedCapture.get()
        let real = try #require(realpath("/tmp", nil), "realpath /tmp")
        defer { free(real) }
        let base = String(decoding: UnsafeRawBufferPointer(start: real, count: strlen(real)), as: UTF8.self)
            + "/vigil-dwalk-\(getpid())"
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
