import Testing
@testable import VigilState

/// ``ProcessTable/splitArgv(_:)`` (one memchr scan) gives what the split it replaced gave, for
/// every shape of argv the kernel can send: terminated or cut, empty arguments, empty argv[0].
@Suite struct ArgvSplitTests {
    /// The straightforward split the table used before (the reference).
    static func reference(_ argv: [UInt8]) -> (String, [String]) {
        var args: [String] = []
        var exe = ""
        if argv.count > 0 {
            var first = true
            for part in argv.split(separator: 0, omittingEmptySubsequences: false) {
                let s = String(decoding: part, as: UTF8.self)
                if first { exe = s; first = false } else { args.append(s) }
            }
            if argv[argv.count - 1] == 0, !args.isEmpty, args[args.count - 1].isEmpty { args.removeLast() }
        }
        return (exe, args)
    }

    static func split(_ argv: [UInt8]) -> (String, [String]) {
        argv.withUnsafeBytes { let r = ProcessTable.splitArgv($0); return (r.exe, r.args) }
    }

    @Test func edgeCases() {
        let cases: [[UInt8]] = [[], [0], [0, 0], [0, 0, 0], Array("a".utf8), Array("a\0".utf8), Array("a\0\0".utf8),
                                Array("a\0b".utf8), Array("a\0b\0".utf8), Array("\0b\0".utf8), Array("true\0vigil-exec-storm-bench\0".utf8),
                                Array("sh\0-c\0\0x\0".utf8), [0xFF, 0, 0xC3, 0x28, 0]]
        for c in cases {
            let (e1, a1) = Self.split(c), (e2, a2) = Self.reference(c)
            #expect(e1 == e2 && a1 == a2, "\(c)")
        }
    }

    @Test func randomArgvMatchesTheReference() {
        var s: UInt64 = 0x1234_5678_9ABC_DEF1
        for _ in 0..<20_000 {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            let n = Int(s % 24)
            var bytes: [UInt8] = []
            var t = s
            for _ in 0..<n {
                t = t &* 6364136223846793005 &+ 1442695040888963407
                // NULs often, some non-ASCII and invalid UTF-8.
                let b = UInt8(truncatingIfNeeded: t >> 56)
                bytes.append(b % 4 == 0 ? 0 : (b % 7 == 0 ? 0xE2 : 97 + b % 26))
            }
            let (e1, a1) = Self.split(bytes), (e2, a2) = Self.reference(bytes)
            #expect(e1 == e2 && a1 == a2, "\(bytes)")
        }
    }
}
