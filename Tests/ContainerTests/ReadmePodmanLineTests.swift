import Foundation
import Testing

/// deploy/README.md's copy-paste `podman run` line grants exactly what the DaemonSet grants: the
/// same flags `make test-containers` runs the agent with (PodmanTests), and nothing more.
@Suite struct ReadmePodmanLineTests {
    /// The words of the README's `podman run ... localhost/vigil:dev` command (continuations joined).
    static func readmeCommand() throws -> [String] {
        let text = try String(contentsOfFile: CT.path("deploy/README.md"), encoding: .utf8)
        var lines: [String] = []
        var inside = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if !inside, line.hasPrefix("podman run -d --name vigil") { inside = true }
            guard inside else { continue }
            let continues = line.hasSuffix("\\")
            lines.append(continues ? String(line.dropLast()) : line)
            if !continues { break }
        }
        guard !lines.isEmpty else { throw ContainerTestError("deploy/README.md: no `podman run -d --name vigil` command") }
        return lines.joined(separator: " ").split(separator: " ").map(String.init)
    }

    @Test func readmeLineIsTheTestedLine() throws {
        let words = try Self.readmeCommand()
        let seccompWord = try #require(words.first { $0.hasPrefix("seccomp=") }, "the README line sets no seccomp profile")
        let profile = String(seccompWord.dropFirst("seccomp=".count))
        #expect(profile != "unconfined")
        let tested = try ContainerRuntimeTests.PodmanTests.agentFlags(try DaemonSetSpec.load(), seccompProfile: profile)
        // Every tested flag with its value, in the README line.
        var i = 0
        while i < tested.count {
            let flag = tested[i]
            if i + 1 < tested.count, !tested[i + 1].hasPrefix("-") {
                let value = tested[i + 1]
                let found = zip(words, words.dropFirst()).contains { $0 == flag && $1 == value }
                #expect(found, "deploy/README.md's podman line lacks `\(flag) \(value)`")
                i += 2
            } else {
                #expect(words.contains(flag), "deploy/README.md's podman line lacks \(flag)")
                i += 1
            }
        }
        // Nothing beyond them that widens the privileges.
        for word in words {
            #expect(!["--privileged", "--cap-add=ALL", "--security-opt=seccomp=unconfined", "--pid=host", "--network=host", "--net=host"].contains(word),
                    "deploy/README.md's podman line has \(word)")
        }
        let pairs: [(String, String)] = Array(zip(words, words.dropFirst()))
        let capAdds: [String] = pairs.filter { $0.0 == "--cap-add" }.map { $0.1 }
        let testedPairs: [(String, String)] = Array(zip(tested, tested.dropFirst()))
        let testedCapAdds: [String] = testedPairs.filter { $0.0 == "--cap-add" }.map { $0.1 }
        #expect(capAdds == testedCapAdds, "extra --cap-add in the README line: \(capAdds)")
        let volumes: [String] = pairs.filter { $0.0 == "-v" }.map { $0.1 }
        for v in volumes { #expect(v.hasSuffix(":ro"), "README podman line mounts \(v) writable") }
        #expect(words.last == CT.image, "the README line runs \(words.last ?? "?"), `make image` builds \(CT.image)")
    }
}
