#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import VigilABI
@testable import VigilAgent
import VigilCapture
import VigilCore
import VigilDecode
import VigilRules

/// Successful read-only opens go without the path as passed only while no loaded rule can read
/// it (real BPF, real opens of this process): the rules decide (`RuleLoading.interest`), a
/// rule that reads it gets it, one that does not still gets every open (with the path the kernel
/// resolved), write opens always carry it, long paths either way are whole,
/// and a reload that widens or narrows the need switches what arrives.
@Suite(.serialized) struct OpenNameSelectionKernelTests {
    typealias Recorder = FailedCallFilterKernelTests.Recorder
    static let openat = EventType(name: "openat")!

    static func realPath(_ p: String) -> String {
        guard let r = realpath(p, nil) else { return p }
        defer { free(r) }
        return String(cString: r)
    }

    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func readOnlyOpensCarryThePathAsPassedOnlyWhenARuleReadsIt() throws {
        let dir = makeTempDir("vigil-opennames")
        defer { removeTree(dir) }
        let real = Self.realPath(dir)
        var files: [String] = []
        for name in ["ro", "rw", "creat", "again"] {
            writeFile(dir + "/" + name, "x\n")
            files.append(dir + "/" + name)
        }
        // A file whose resolved path is longer than a ring slot's room (128 bytes).
        var deep = dir
        for _ in 0..<4 { deep += "/" + String(repeating: "d", count: 30); mkdir(deep, 0o755) }
        let longFile = deep + "/long"
        writeFile(longFile, "x\n")
        // A path as passed longer than the room whose resolved path is short.
        let longRaw = dir + String(repeating: "/.", count: 80) + "/ro"

        let plain = try FailedCallFilterKernelTests.rules(dir, "plain.yaml", "evt.type = openat and fd.name startswith \(real)")
        let reads = try FailedCallFilterKernelTests.rules(dir, "reads.yaml", "evt.type = openat and evt.arg.name startswith \(dir)")
        let a = RuleLoading.interest(plain), b = RuleLoading.interest(reads)
        #expect(a.openNameWriteOnly.contains(Self.openat), "\(a)")
        #expect(!b.openNameWriteOnly.contains(Self.openat), "\(b)")
        #expect(!a.union(b).openNameWriteOnly.contains(Self.openat))

        let (capture, recorder) = try FailedCallFilterKernelTests.startCapture(a)
        defer { capture.stop() }
        let me = UInt32(getpid())

        /// Opens `path` with `flags` and closes it; waits for the record of the open (by the path
        /// the kernel resolved and the fd) and returns (path as passed, resolved path, flags argument, inode).
        var round = 0
        func open(_ path: String, _ flags: Int32, sourceLocation: SourceLocation = #_sourceLocation) throws -> (raw: String, opened: String, flags: UInt64, ino: UInt64) {
            round += 1
            // A fresh descriptor number per call (held open until the record is in), so records are told apart.
            let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
            try #require(fd >= 0, "open \(path): errno \(errno)", sourceLocation: sourceLocation)
            defer { close(fd) }
            var st = stat()
            fstat(fd, &st)
            let want = Self.realPath(path)
            let match: (Event) -> (String, String, UInt64, UInt64)? = { e in
                e.pid == me && e.type == Self.openat && e.ret == Int64(fd) && e.openedPath.vigilString == want
                    && e.fileRef.ino == UInt64(st.st_ino) && e.timestampBootNs > 0
                    ? (e.str0.vigilString, e.openedPath.vigilString, e.arg(2), e.fileRef.ino) : nil
            }
            try #require(recorder.wait { match($0) != nil }, "no record of the open of \(path)", sourceLocation: sourceLocation)
            let found = recorder.events(match)
            recorder.records.withLock { $0.removeAll() }
            return found.last!
        }

        // No rule reads the path as passed: read-only opens go without it, the resolved path
        // and the file are there; write opens carry it.
        let ro = try open(files[0], O_RDONLY)
        #expect(ro.raw == "" && ro.opened == real + "/ro", "\(ro)")
        #expect(ro.flags & UInt64(O_ACCMODE) == UInt64(O_RDONLY) && ro.flags & UInt64(O_CLOEXEC) != 0)
        let rw = try open(files[1], O_RDWR)
        #expect(rw.raw == files[1] && rw.opened == real + "/rw", "\(rw)")
        let wr = try open(files[2], O_WRONLY | O_TRUNC)
        #expect(wr.raw == files[2], "\(wr)")
        let creat = try open(files[3], O_RDONLY | O_CREAT)
        #expect(creat.raw == "" && creat.opened == real + "/again", "\(creat)")
        // A long resolved path: whole, without the path as passed.
        let long = try open(longFile, O_RDONLY)
        #expect(long.raw == "" && long.opened == Self.realPath(longFile) && long.opened.utf8.count > 128, "\(long)")
        // A long path as passed of a short resolved one: not read either.
        let lr = try open(longRaw, O_RDONLY)
        #expect(lr.raw == "" && lr.opened == real + "/ro", "\(lr)")

        // A rule reads evt.arg.name: every open carries the path as passed (long ones whole).
        try capture.setInterest(b)
        let ro2 = try open(files[0], O_RDONLY)
        #expect(ro2.raw == files[0] && ro2.opened == real + "/ro", "\(ro2)")
        let lr2 = try open(longRaw, O_RDONLY)
        #expect(lr2.raw == longRaw && lr2.opened == real + "/ro", "\(lr2)")
        let long2 = try open(longFile, O_RDONLY)
        #expect(long2.raw == longFile && long2.opened == Self.realPath(longFile), "\(long2)")
        let rw2 = try open(files[1], O_RDWR)
        #expect(rw2.raw == files[1], "\(rw2)")

        // While a reload switches between the two (their union), it is carried too; narrowed again, it is not.
        try capture.setInterest(a.union(b))
        let ro3 = try open(files[0], O_RDONLY)
        #expect(ro3.raw == files[0], "\(ro3)")
        try capture.setInterest(a)
        let ro4 = try open(files[0], O_RDONLY)
        #expect(ro4.raw == "" && ro4.opened == real + "/ro", "\(ro4)")
        #expect(capture.kernelStats().ringFull == 0)
    }
}
