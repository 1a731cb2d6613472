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
