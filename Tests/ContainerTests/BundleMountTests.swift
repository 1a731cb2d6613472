import Foundation
import Testing
import VigilState
#if canImport(Glibc)
import Glibc
#endif

/// `container.mount*` from real runtime bundles: podman's `userdata/config.json` and containerd's
/// task bundle, written by the runtimes themselves for containers started with bind mounts.
extension ContainerRuntimeTests {
@Suite struct BundleMountTests {
    @Test func podmanBundleMountsAreTheContainersBindMounts() throws {
        guard CT.preconditions(["podman"]) else { return }
        let host = CT.scratch + "/mount-src-\(CT.randomID().prefix(8))"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: host) }
        let name = "vigil-mounts-\(CT.randomID().prefix(8))"
        let r = try CT.must(["podman", "run", "--detach", "--name", name] + PodmanTests.hostWorkarounds
                            + ["-v", "\(host):/data:ro", "-v", "\(host):/rw-data", CT.workloadImage, "sleep", "30"])
        defer { _ = try? CT.run(["podman", "rm", "-f", "-t", "0", name]) }
        let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let m = try #require(try RuntimeMetadataStore().lookup(containerID: id, runtimeHint: "podman"), "no podman state for \(id)")
        #expect(m.runtime == "podman")
        let data = try #require(m.mounts.first { $0.destination == "/data" }, "mounts: \(m.mounts)")
        #expect(data.source == host && !data.readWrite)
        let rw = try #require(m.mounts.first { $0.destination == "/rw-data" })
        #expect(rw.source == host && rw.readWrite)
        #expect(!m.mounts.contains { $0.destination == "/proc" || $0.destination == "/sys" })
        #expect(m.mounts.first(sourceMatching: host + "*")?.source == host)  // (podman orders mounts by destination)
    }

    @Test func containerdBundleMountsAreTheTasksBindMounts() throws {
        guard CT.preconditions(["containerd", "ctr", "runc"]) else { return }
        let containerd = PrivateContainerd()
        try containerd.start()
        defer { containerd.stop() }
        try containerd.importImage(CT.workloadImage)
        let host = CT.scratch + "/ctrd-mount-src-\(CT.randomID().prefix(8))"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: host) }
        let id = CT.randomID()
        try CT.must(containerd.ctr(["run", "--detach", "--mount", "type=bind,src=\(host),dst=/host-data,options=rbind:ro",
                                    CT.workloadImage, id, "sleep", "30"]))
        defer { containerd.remove(id) }
        let store = RuntimeMetadataStore(containerdRoots: [containerd.taskRoot + "/k8s.io"], crioRoots: [], dockerRoots: [])
        let m = try #require(try store.lookup(containerID: id), "no bundle for \(id) below \(containerd.taskRoot)/k8s.io")
        let mount = try #require(m.mounts.first { $0.destination == "/host-data" }, "mounts: \(m.mounts)")
        #expect(mount.source == host && !mount.readWrite && mount.mode.contains("rbind"))
        #expect(!m.mounts.contains { $0.destination == "/proc" })
    }
}
}
