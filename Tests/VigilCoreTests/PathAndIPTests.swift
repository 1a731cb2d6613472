import Testing
import VigilCore

@Suite struct PathResolverTests {
    @Test(arguments: [
        ("/a//b/./c/../d/", "/a/b/d"), ("/../../etc", "/etc"), ("/", "/"), ("//", "/"), ("/.", "/"),
        ("a/../../b", "../b"), ("./x/", "x"), ("", ""), ("/a/b/..", "/a"), ("/..a/.b/...", "/..a/.b/..."),
    ])
    func normalize(_ input: String, _ expected: String) {
        #expect(PathResolver.normalize(input) == expected)
        if expected.hasPrefix("/") {
            #expect(Array(expected.utf8).withUnsafeBytes { PathResolver.isNormalAbsolute($0) })
        }
    }

    @Test func resolveAgainstBase() {
        #expect(PathResolver.resolve("../etc/shadow", against: "/root/") == "/etc/shadow")
        #expect(PathResolver.resolve("x", against: "/") == "/x")
        let raw: [UInt8] = Array("sub/../f".utf8)
        #expect(raw.withUnsafeBytes { PathResolver.resolve($0, against: "/tmp") } == "/tmp/f")
        #expect(!Array("/a/./b".utf8).withUnsafeBytes { PathResolver.isNormalAbsolute($0) })
    }

    /// isNormalAbsolute (which scans for slashes eight bytes at a time) says exactly whether an
    /// absolute path is its own normal form, for every path of up to 11 bytes over `/`, `.`, `a`
    /// (so slashes fall at every offset of a word, and in the bytes after the last whole word).
    @Test func isNormalAbsoluteIsExact() {
        let alphabet: [UInt8] = [UInt8(ascii: "/"), UInt8(ascii: "."), UInt8(ascii: "a")]
        var checked = 0, normal = 0
        for length in 1...11 {
            var digits = [Int](repeating: 0, count: length)
            repeat {
                let bytes = digits.map { alphabet[$0] }
                if bytes[0] == UInt8(ascii: "/") {
                    let text = String(decoding: bytes, as: UTF8.self)
                    let expected = PathResolver.normalize(text) == text
                    let got = bytes.withUnsafeBytes { PathResolver.isNormalAbsolute($0) }
                    if got != expected { Issue.record("\(text): \(got), its normal form is \(PathResolver.normalize(text))") }
                    checked += 1
                    if expected { normal += 1 }
                }
                var k = length - 1
                while k >= 0 { digits[k] += 1; if digits[k] < 3 { break }; digits[k] = 0; k -= 1 }
                if k < 0 { break }
            } while true
        }
        #expect(checked > 80_000 && normal > 1_000, "\(checked) paths, \(normal) normal")
        // Past a whole word too: a bad segment at each offset of a long path.
        let long = Array("/usr/lib/x86_64-linux-gnu/libc.so.6".utf8)
        #expect(long.withUnsafeBytes { PathResolver.isNormalAbsolute($0) })
        for k in 1..<long.count where long[k] == UInt8(ascii: "/") {
            for bad in ["/./", "//", "/../"] {
                var b = long
                b.replaceSubrange(k...k, with: Array(bad.utf8))
                #expect(!b.withUnsafeBytes { PathResolver.isNormalAbsolute($0) }, "\(String(decoding: b, as: UTF8.self))")
            }
        }
    }
}

@Suite struct IPTextTests {
    @Test(arguments: [
        ("10.0.0.1", "10.0.0.1"), ("::1", "::1"), ("fe80:0:0:0:1:0:0:2", "fe80::1:0:0:2"), ("2001:db8:0:0:0:0:0:0", "2001:db8::"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"), ("2001:DB8::0:1", "2001:db8::1"), ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
    ])
    func roundTrip(_ text: String, _ canonical: String) throws {
        let bytes = try #require(IPText.parse(text))
        let family = bytes.count == 4 ? IPText.inet : IPText.inet6
        #expect(bytes.withUnsafeBytes { IPText.string(family: family, address: $0.baseAddress!) } == canonical)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.256", "::1::2", "12345::", "localhost", "1.2.3.4/8", "fe80::1%eth0"])
    func rejects(_ text: String) {
        #expect(IPText.parse(text) == nil)
    }

    @Test func otherFamiliesHaveNoText() {
        let b = [UInt8](repeating: 0, count: 16)
        #expect(b.withUnsafeBytes { IPText.string(family: 1, address: $0.baseAddress!) } == "")
    }
}

@Suite struct CommandLineFlagTests {
    @Test func splitsOnlyLongFlagsWithAValue() {
        #expect(CommandLineFlag.split("--config=/etc/v.yaml") == ("--config", "/etc/v.yaml"))
        #expect(CommandLineFlag.split("--o=a=b") == ("--o", "a=b"))
        #expect(CommandLineFlag.split("--empty=") == ("--empty", ""))
        #expect(CommandLineFlag.split("--flag") == ("--flag", nil))
        #expect(CommandLineFlag.split("-o=x") == ("-o=x", nil))
        #expect(CommandLineFlag.split("k=v") == ("k=v", nil))
    }
}
