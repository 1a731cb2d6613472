#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VigilABI
import VigilCapture
import VigilDecode

/// The cgroup v2 path of an exec record, walked up the kernfs nodes (bpf/paths.bpf.h): a
/// kubelet-shaped nesting of names of many lengths arrives whole.
@Suite(.serialized) struct CgroupPathKernelTests {
    /// The cgroup v2 mount point, from /proc/self/mountinfo.
    static func unifiedRoot() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard let dash = parts.firstIndex(of: "-"), dash + 1 < parts.count, parts[dash + 1] == "cgroup2", parts.count > 4 else { continue }
            return String(parts[4])
        }
        return nil
    }

    @Test(.enabled(if: kernelTestsEnabled, "needs root to load BPF programs (set VIGIL_CI=1 to force)"))
    func aDeepCgroupPathArrivesWhole() throws {
        let s = try SharedCapture.get()
        let root = try #require(Self.unifiedRoot(), "no cgroup v2 mount")
        let relative = "vigil-cgpath-\(getpid())/kubepods.slice/kubepods-burstable.slice/"
            + "kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/"
            + "cri-containerd-" + String(repeating: "0123456789abcdef", count: 4) + ".scope/x"
        var made: [String] = []
        defer { for d in made.reversed() { rmdir(root + "/" + d) } }
        var cur = ""
        for part in relative.split(separator: "/") {
            cur += (cur.isEmpty ? "" : "/") + part
            try #require(mkdir(root + "/" + cur, 0o755) == 0 || errno == EEXIST, "mkdir \(cur): errno \(errno)")
            made.append(cur)
        }
        let marker = "vigil-cgpath-marker-\(getpid())"
        let pid = spawn([bytes("/bin/sh"), bytes("-c"), bytes("echo $$ > \(root)/\(relative)/cgroup.procs && exec /bin/echo \(marker)")])
        try #require(pid > 0)
        #expect(waitExit(pid) == 0)
        let r = try #require(s.recorder.wait { e in
            e.type == EventType(name: "execve") && e.pid == UInt32(pid) && argvList(e).contains(bytes(marker))
        }, "no exec record of echo in the cgroup")
        try r.withEvent { e in #expect(e.cgroupPath.vigilString == relative) }.get()
    }
}
