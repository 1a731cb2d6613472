import Testing
@testable import VigilCapture

@Suite struct BPFObjectLocatorTests {
    /// The checkout this test was built from (Tests/VigilCaptureTests/<file> -> three levels up).
    static let checkout: String = {
        var p = #filePath
        for _ in 0..<3 { p = BPFCapture.parent(p) }
        return p
    }()

    /// The executable (the test bundle here, `vigil` in use) sits in `.build/<triple>/<config>/`:
    /// the checkout's `build/bpf` is found from it whatever the working directory.
    @Test func checkoutObjectIsFoundFromTheExecutable() throws {
        let exe = try #require(BPFCapture.executableDirectory())
        #expect(exe.hasPrefix(Self.checkout + "/.build/"))
        let paths = BPFCapture.objectSearchPaths()
        let fromExe = try #require(paths.firstIndex(of: Self.checkout + "/build/bpf/vigil.bpf.o"))
        #expect(paths.contains("/usr/lib/vigil/vigil.bpf.o"))
        #expect(paths.firstIndex(of: exe + "/vigil.bpf.o").map { $0 < fromExe } == true)
        #expect(Set(paths).count == paths.count)
    }

    @Test func parentDirectories() {
        #expect(BPFCapture.parent("/a/b/c") == "/a/b")
        #expect(BPFCapture.parent("/a") == "/")
        #expect(BPFCapture.parent("/") == "/")
        #expect(BPFCapture.parent("x") == ".")
    }
}
