import Foundation
import Testing
@testable import VigilState

/// podman's cgroups and on-disk state, as podman 4 writes them (Tests/ContainerTests runs real podman).
@Suite struct EnrichmentPodmanTests {
    static func spec(privileged: Bool = false) -> String {
        """
        {"ociVersion":"1.0.2-dev","process":{"args":["cat","/etc/shadow"],"capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"]}},
         "annotations":{"io.container.manager":"libpod","io.kubernetes.cri-o.Created":"2026-12-05T20:28:31.944042615Z",
          "io.kubernetes.cri-o.TTY":"false","io.podman.annotations.autoremove":"TRUE","io.podman.annotations.init":"FALSE",
          "io.podman.annotations.privileged":"\(privileged ? "TRUE" : "FALSE")","org.opencontainers.image.stopSignal":"15"},
         "linux":{"cgroupsPath":"/libpod_parent/libpod-x","maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}}
        """
    }

    static func index(id: String, name: String, image: String) -> String {
        let meta = "{\\\"image-name\\\":\\\"\(image)\\\",\\\"image-id\\\":\\\"2fbf\\\",\\\"name\\\":\\\"\(name)\\\",\\\"created-at\\\":1796502511}"
        return """
        [{"id":"\(String(repeating: "0", count: 64))","names":["other"],"metadata":"{}"},
         {"id":"\(id)","names":["\(name)"],"image":"2fbf","layer":"6885","metadata":"\(meta)","created":"2026-12-05T20:28:31.990119871Z"}]
        """
    }

    @Test func cgroupPaths() {
        let id = EnrichTestEnv.randomHexID()
        // cgroupfs manager (what podman uses without systemd), systemd manager, and the monitor.
        #expect(CgroupPathParser.parse("/libpod_parent/libpod-\(id)") == ContainerIdentity(runtime: "podman", fullID: id))
        #expect(CgroupPathParser.parse("/machine.slice/libpod-\(id).scope") == ContainerIdentity(runtime: "podman", fullID: id))
        #expect(CgroupPathParser.parse("/machine.slice/libpod-\(id).scope/container") == ContainerIdentity(runtime: "podman", fullID: id))
        #expect(CgroupPathParser.parse("/libpod_parent/conmon") == nil)
        #expect(CgroupPathParser.parse("/libpod_parent/libpod-conmon-\(id)") == nil)
        #expect(CgroupPathParser.parse("/libpod_parent/libpod-nothex") == nil)
    }

    @Test func stateFromSpecAndContainersIndex() throws {
        let root = EnrichTestEnv.tempDir("podman")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(id)/userdata/config.json", Self.spec())
        try EnrichTestEnv.write("\(root)/containers.json", Self.index(id: id, name: "shadow-reader", image: "localhost/vigil-test/workload:v1"))
        // A run root without config.json (podman keeps it in the storage root) comes first, as in the default roots.
        let runRoot = EnrichTestEnv.tempDir("podmanrun")
        defer { EnrichTestEnv.removeTree(runRoot) }
        try EnrichTestEnv.write("\(runRoot)/\(id)/userdata/hostname", "x")
        let store = RuntimeMetadataStore(containerdRoots: [], crioRoots: [runRoot, root])
        let m = try #require(try store.lookup(containerID: id, runtimeHint: "podman"))
        #expect(m.runtime == "podman" && m.containerName == "shadow-reader" && m.image == "localhost/vigil-test/workload:v1")
        #expect(m.privileged == false && m.podName == nil && m.containerType == "container")
        #expect(m.startTimeNs == 1_796_502_511_944_042_615)
        // With no runtime hint (a bare id) the CRI-O roots still find it, as podman.
        #expect(try store.lookup(containerID: id)?.runtime == "podman")
    }

    @Test func privilegedAndMissingRecord() throws {
        let root = EnrichTestEnv.tempDir("podmanpriv")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(id)/userdata/config.json", Self.spec(privileged: true))
        // No containers.json (or no record for this id): runtime and start time, no name or image.
        let m = try #require(try RuntimeMetadataStore(containerdRoots: [], crioRoots: [root]).lookup(containerID: id, runtimeHint: "podman"))
        #expect(m.runtime == "podman" && m.privileged == true && m.containerName == nil && m.image == nil)
        try EnrichTestEnv.write("\(root)/containers.json", Self.index(id: EnrichTestEnv.randomHexID(), name: "x", image: "y"))
        #expect(try RuntimeMetadataStore(containerdRoots: [], crioRoots: [root]).lookup(containerID: id)?.containerName == nil)
    }

    @Test func brokenIndexNamesTheFile() throws {
        let root = EnrichTestEnv.tempDir("podmanbad")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(id)/userdata/config.json", Self.spec())
        try EnrichTestEnv.write("\(root)/containers.json", "{\"not\": \"an array\"}")
        #expect {
            _ = try RuntimeMetadataStore(containerdRoots: [], crioRoots: [root]).lookup(containerID: id, runtimeHint: "podman")
        } throws: { error in
            "\(error)".contains("\(root)/containers.json") && "\(error)".contains("not a JSON array")
        }
    }
}
