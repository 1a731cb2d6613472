#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilABI
import VigilCapture
import VigilDecode
import VigilState

/// Spawns `path` with raw argv and environment bytes (invalid UTF-8 allowed); returns its pid.
func spawnRaw(_ path: String, argv: [[UInt8]], env: [[UInt8]]) -> pid_t {
    func cArray(_ list: [[UInt8]]) -> [UnsafeMutablePointer<CChar>?] {
        var out: [UnsafeMutablePointer<CChar>?] = list.map { a in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: a.count + 1)
            for (i, b) in a.enumerated() { p[i] = CChar(bitPattern: b) }
            p[a.count] = 0
            return p
        }
        out.append(nil)
        return out
    }
    var cargs = cArray(argv)
    var cenv = cArray(env)
    defer { for p in cargs { p?.deallocate() }; for p in cenv { p?.deallocate() } }
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    return posix_spawn(&pid, path, &actions, nil, &cargs, &cenv) == 0 ? pid : -1
}

/// The environment entries of an exec record, as the kernel copied them.
func envList(_ e: Event) -> [[UInt8]] {
    Array(e.environmentRaw).split(separator: 0, omittingEmptySubsequences: true).map { Array($0) }
}

/// `proc.env` capture at exec (issue 12): copied from the new image only while asked for,
/// bounded, truncation flagged; real processes on this kernel.
extension KernelCaptureTests {
    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func environmentIsCopiedAtExecOnlyWhileAskedFor() throws {
        let s = try SharedCapture.get()
        let all = s.capture.interest
        defer { try? s.capture.setInterest(all) }
        let marker = bytes("vigil-env-\(UInt32.random(in: 0...UInt32.max))")

        // Off (the default): the record says nothing was copied.
        #expect(s.capture.environmentBytes == 0)
        let off = spawnRaw("/bin/true", argv: [bytes("true"), marker, bytes("off")], env: [bytes("LD_PRELOAD=/nonexistent/vigil.so")])
        #expect(waitExit(off) == 0)
        let r0 = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(off) }, "no exec record for \(off)")
        try r0.withEvent { e in
            #expect(!e.environmentCaptured)
            #expect(e.environmentRaw.count == 0)
        }.get()

        try s.capture.setInterest(all.union([.environmentCapture]))
        #expect(s.capture.environmentBytes == Int(VIGIL_ENV_DEFAULT))

        // LD_PRELOAD among ordinary variables: every entry, in order, exactly.
        let env1 = [bytes("HOME=/root"), bytes("LD_PRELOAD=/nonexistent/vigil-hook.so"), bytes("PATH=/usr/bin:/bin"), marker + bytes("=1")]
        let p1 = spawnRaw("/bin/true", argv: [bytes("true"), marker, bytes("preload")], env: env1)
        #expect(waitExit(p1) == 0)
        let r1 = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(p1) }, "no exec record for \(p1)")
        try r1.withEvent { e in
            #expect(e.environmentCaptured)
            #expect(!e.environmentTruncated)
            #expect(envList(e) == env1)
            // The state keeps it for the process (Falco's proc.env) and its forked children.
            let table = ProcessTable()
            let p = try #require(table.apply(e).process)
            #expect(p.envCaptured)
            #expect(p.envValue("LD_PRELOAD") == "/nonexistent/vigil-hook.so")
            #expect(p.env.count == 4)
        }.get()

        // Hostile bytes: newlines, quotes, escapes, invalid UTF-8, '=' in values, an entry without '='.
        let hostile: [[UInt8]] = [bytes("A=line1\nline2"), bytes("Q=\"x'y\\z"), [0x42, 0x3D, 0xFF, 0xFE, 0xC3], bytes("E=\u{1b}[31m"),
                                  bytes("K=a=b=c"), bytes("NOEQUALS"), marker + bytes("=2")]
        let p2 = spawnRaw("/bin/true", argv: [bytes("true"), marker, bytes("hostile")], env: hostile)
        #expect(waitExit(p2) == 0)
        let r2 = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(p2) }, "no exec record for \(p2)")
        try r2.withEvent { e in
            #expect(envList(e) == hostile)
            let p = try #require(ProcessTable().apply(e).process)
            #expect(p.envValue("K") == "a=b=c")
            #expect(p.envValue("NOEQUALS") == nil)
        }.get()

        // Longer than the bound: cut at capture.max_env_bytes, flagged, the kept part exact.
        var long: [[UInt8]] = []
        for i in 0..<64 { long.append(bytes("VAR\(i)=") + [UInt8](repeating: 0x61 + UInt8(i % 26), count: 300)) }
        long.append(bytes("LD_PRELOAD=/late/hidden.so"))
        let p3 = spawnRaw("/bin/true", argv: [bytes("true"), marker, bytes("long")], env: long)
        #expect(waitExit(p3) == 0)
        let r3 = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(p3) }, "no exec record for \(p3)")
        try r3.withEvent { e in
            #expect(e.environmentCaptured)
            #expect(e.environmentTruncated)
            #expect(e.isTruncated)
            #expect(e.environmentRaw.count == Int(VIGIL_ENV_DEFAULT))
            let got = envList(e)
            let full = got.count - 1  // the last entry is cut
            #expect(full > 0 && Array(got.prefix(full)) == Array(long.prefix(full)))
            #expect(long[full].starts(with: got[full]))
            #expect(!got.contains(bytes("LD_PRELOAD=/late/hidden.so")))
            let p = try #require(ProcessTable().apply(e).process)
            #expect(p.envTruncated)
        }.get()

        // No environment at all: captured, empty.
        let p4 = spawnRaw("/bin/true", argv: [bytes("true"), marker, bytes("none")], env: [])
        #expect(waitExit(p4) == 0)
        let r4 = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(p4) }, "no exec record for \(p4)")
        try r4.withEvent { e in
            #expect(e.environmentCaptured)
            #expect(!e.environmentTruncated)
            #expect(e.environmentRaw.count == 0)
        }.get()

        // Turned off again (the rule that needed it was unloaded).
        try s.capture.setInterest(all)
        #expect(s.capture.environmentBytes == 0)
        let p5 = spawnRaw("/bin/true", argv: [bytes("true"), marker, bytes("off-again")], env: [bytes("X=1")])
        #expect(waitExit(p5) == 0)
        let r5 = try #require(s.recorder.wait { $0.isExec && $0.pid == UInt32(p5) }, "no exec record for \(p5)")
        try r5.withEvent { e in #expect(!e.environmentCaptured) }.get()
        #expect(s.capture.stats().decodeErrors == 0)
    }
}
