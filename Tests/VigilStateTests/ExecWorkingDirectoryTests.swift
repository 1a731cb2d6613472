#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilDecode
@testable import VigilState

/// An exec keeps the working directory string the fork copied when its bytes say the stored
/// result would be the same (``ProcessTable/isDirectory(_:raw:)``); checked against the
/// straightforward computation (decode, then a `/` unless the text ends with one).
@Suite struct ExecWorkingDirectoryTests {
    static func straightforward(_ raw: [UInt8]) -> String {
        var cwd = raw.withUnsafeBytes { $0.vigilString }
        if !cwd.hasSuffix("/") { cwd += "/" }
        return cwd
    }

    @Test func keptStringIsTheComputedOneAndOnlyThen() {
        let raws: [[UInt8]] = [
            Array("/home/user".utf8), Array("/".utf8), Array("/home/user/".utf8), Array("//".utf8), [],
            Array("/tmp/é".utf8), Array("/tmp/\u{0600}".utf8), Array("/x/\u{0600}/".utf8),
            [0x2F, 0x61, 0xFF], [0x2F, 0xC3], [0x2F, 0xC3, 0x2F], Array("/a\u{301}".utf8), Array("a".utf8),
        ]
        // Stored strings a fork may have copied: each computed result, and near misses.
        var stored = raws.map(Self.straightforward)
        stored += ["", "/", "/home/user", "/home/user//", "/home/use/", "/tmp/é", "/tmp/e\u{301}/", "/\u{FFFD}/", "/a\u{FFFD}/"]
        var kept = 0
        for raw in raws {
            let want = Self.straightforward(raw)
            for s in stored {
                let keep = raw.withUnsafeBytes { ProcessTable.isDirectory(s, raw: $0) }
                if keep {
                    kept += 1
                    #expect(Array(s.utf8) == Array(want.utf8), "kept \(s.debugDescription) for \(raw)")
                }
                // Whenever the computed string is byte-for-byte the stored one and the raw
                // path does not end in '/', the stored one is kept (the fast path is taken).
                if Array(s.utf8) == Array(want.utf8), raw.last.map({ $0 != 0x2F }) ?? false, Array(s.utf8) == raw + [0x2F] {
                    #expect(keep, "not kept: \(s.debugDescription) for \(raw)")
                }
            }
        }
        #expect(kept >= 5)
    }

    @Test func execAfterForkStoresTheSameWorkingDirectories() {
        var s = Stream()
        s.exec(10, ppid: 1, "/bin/sh", ["sh"], cwd: "/home/user")
        for (k, cwd) in ["/home/user", "/home/user", "/", "/var/log/", "/var/log", "/tmp/é", "/tmp/é", "/home/user"].enumerated() {
            let child = UInt32(100 + k)
            s.fork(10, child: child)
            s.exec(child, ppid: 10, "/bin/true", ["true"], cwd: cwd)
            #expect(s.table[child]?.cwd == Self.straightforward(Array(cwd.utf8)), "\(cwd)")
            s.exec(10, ppid: 1, "/bin/sh", ["sh"], cwd: cwd)  // the parent moves on too
            #expect(s.table[10]?.cwd == Self.straightforward(Array(cwd.utf8)), "\(cwd)")
        }
    }
}
