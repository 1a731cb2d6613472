#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import VigilAgent
import VigilCore

/// Falco 0.42 configuration and fields end to end: `vigil run` on the live kernel with `engine:`,
/// `static_fields` (from the environment), `append_output`, a rule on `fd.sip.name` (resolved as
/// Falco's DNS manager does) and `fd.types`, and the JSON alert read from stdout.
@Suite(.serialized) struct FalcoCompatKernelTests {
    @Test(.enabled(if: agentKernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func falcoConfigAndFieldsOnTheLiveKernel() throws {
        let binary = try #require(RunCommandKernelTests.binary, "vigil binary not built (swift build)")
        let dir = makeTempDir()
        defer { removeTree(dir) }
        // A listener the shell connects to (kept open for the whole test).
        let lfd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(lfd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(lfd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &a) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(lfd, $0, &len) } }
        try #require(listen(lfd, 64) == 0)
        let target = UInt16(bigEndian: a.sin_port)
        let port = freePort()
        writeFile(dir + "/rules.yaml", """
            - rule: Compat connect to a named host
              desc: a connection to a host named in the rule
              condition: evt.type = connect and fd.sport = \(target) and fd.sip.name = localhost
              output: connect to %fd.sip.name port %fd.sport types=%fd.types
              priority: NOTICE
              tags: [compat]
            """)
        writeFile(dir + "/vigil.yaml", """
            rules_files: [rules.yaml]
            watch_config_files: false
            stdout_output: {enabled: true, format: json}
            webserver: {listen_address: 127.0.0.1, listen_port: \(port)}
            flood_control: {fold: {enabled: false}}
            engine:
              kind: modern_ebpf
              modern_ebpf: {buf_size_preset: 3, cpus_for_each_buffer: 2, drop_failed_exit: false}
            static_fields:
              cluster: ${VIGIL_COMPAT_KERNEL_CLUSTER}
            append_output:
              - match: {source: syscall, tags: [compat]}
                extra_output: "in %static.cluster"
                extra_fields:
                  - proc.pid
                  - where: "%static.cluster/%proc.name"
              - match: {rule: Some other rule}
                extra_output: never
            """)
        setenv("VIGIL_COMPAT_KERNEL_CLUSTER", "blue", 1)
        let vigil = try SpawnedVigil(binary: binary, args: ["run", "-c", dir + "/vigil.yaml"], dir: dir)
        defer { vigil.kill(SIGKILL); _ = vigil.wait(seconds: 5) }
        try vigil.requireReady(port: port)
        #expect(vigil.stderrLines.contains { $0.contains("cpus_for_each_buffer has no effect") })

        // Connect until the alert shows (localhost resolves at agent start, from /etc/hosts).
        var line: String?
        let deadline = Timestamp.monotonicNanoseconds() + 20_000_000_000
        while line == nil && Timestamp.monotonicNanoseconds() < deadline {
            _ = shell("bash -c 'exec 3<>/dev/tcp/127.0.0.1/\(target)'")
            _ = waitFor(1) { vigil.stdoutLines.contains { $0.contains("Compat connect to a named host") } }
            line = vigil.stdoutLines.first { $0.contains("Compat connect to a named host") }
        }
        let text = try #require(line, "no alert; stderr: \(vigil.stderrLines.suffix(5).joined(separator: "\n"))")
        let d = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(d.keys) == ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"])
        #expect(d["priority"] as? String == "Notice" && d["tags"] as? [String] == ["compat"])
        let output = try #require(d["output"] as? String)
        #expect(output.contains(": Notice connect to localhost port \(target) types=(") && output.hasSuffix(") in blue"), "\(output)")
        #expect(!output.contains("never"))
        let f = try #require(d["output_fields"] as? [String: Any])
        #expect(f["fd.sip.name"] as? String == "localhost")
        #expect((f["fd.sport"] as? NSNumber)?.intValue == Int(target))
        #expect((f["fd.types"] as? [String])?.contains("ipv4") == true, "\(f["fd.types"] ?? "nil")")
        #expect(f["static.cluster"] as? String == "blue")
        let pid = try #require((f["proc.pid"] as? NSNumber)?.intValue)
        #expect(pid > 1)
        let name = try #require((f["where"] as? String))
        #expect(name.hasPrefix("blue/"), "\(name)")
        #expect((f["evt.time"] as? NSNumber)?.uint64Value ?? 0 > 0)
    }
}
