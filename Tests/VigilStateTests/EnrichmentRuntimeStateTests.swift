import Foundation
import Testing
@testable import VigilState
import VigilCore

/// containerd / CRI-O on-disk state, written the way the runtimes write it.
enum RuntimeStateFixture {
    static func containerdSpec(id: String, pod: String, ns: String, uid: String, name: String, image: String,
                               type: String = "container", privileged: Bool = false) -> String {
        let caps = privileged
            ? "\"CAP_CHOWN\",\"CAP_SYS_ADMIN\",\"CAP_NET_ADMIN\",\"CAP_SYS_PTRACE\",\"CAP_SYS_MODULE\""
            : "\"CAP_CHOWN\",\"CAP_NET_BIND_SERVICE\",\"CAP_KILL\""
        let masked = privileged ? "" : "\"/proc/acpi\",\"/proc/kcore\",\"/proc/keys\""
        let ro = privileged ? "" : "\"/proc/bus\",\"/proc/sys\""
        return """
        {"ociVersion":"1.1.0","process":{"user":{"uid":0,"gid":0},"args":["/docker-entrypoint.sh","nginx"],"cwd":"/",
         "capabilities":{"bounding":[\(caps)],"effective":[\(caps)],"permitted":[\(caps)]}},
         "root":{"path":"rootfs"},"hostname":"\(pod)",
         "annotations":{"io.kubernetes.cri.container-type":"\(type)","io.kubernetes.cri.container-name":"\(name)",
          "io.kubernetes.cri.image-name":"\(image)","io.kubernetes.cri.sandbox-id":"\(String(repeating: "ab", count: 32))",
          "io.kubernetes.cri.sandbox-name":"\(pod)","io.kubernetes.cri.sandbox-namespace":"\(ns)","io.kubernetes.cri.sandbox-uid":"\(uid)"},
         "linux":{"resources":{"memory":{}},"cgroupsPath":"kubepods-besteffort-pod.slice:cri-containerd:\(id)",
          "namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],
          "maskedPaths":[\(masked)],"readonlyPaths":[\(ro)]}}
        """
    }

    static func crioSpec(id: String, pod: String, ns: String, uid: String, name: String, image: String) -> String {
        let labels = "{\\\"io.kubernetes.container.name\\\":\\\"\(name)\\\",\\\"io.kubernetes.pod.name\\\":\\\"\(pod)\\\",\\\"io.kubernetes.pod.namespace\\\":\\\"\(ns)\\\",\\\"io.kubernetes.pod.uid\\\":\\\"\(uid)\\\"}"
        return """
        {"ociVersion":"1.0.2-dev","process":{"capabilities":{"bounding":["CAP_CHOWN"]}},
         "annotations":{"io.kubernetes.cri-o.ContainerType":"container","io.kubernetes.cri-o.ImageName":"\(image)",
          "io.kubernetes.cri-o.Created":"2024-05-01T12:34:56.123456789Z","io.kubernetes.cri-o.Labels":"\(labels)",
          "io.kubernetes.pod.name":"\(pod)","io.kubernetes.pod.namespace":"\(ns)","io.kubernetes.pod.uid":"\(uid)",
          "io.kubernetes.cri-o.SandboxID":"\(String(repeating: "cd", count: 32))"},
         "linux":{"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}}
        """
    }
}

@Suite struct EnrichmentRuntimeStateTests {
    @Test func containerdBundle() throws {
        let root = EnrichTestEnv.tempDir("ctrd")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        try EnrichTestEnv.write("\(root)/\(id)/config.json", RuntimeStateFixture.containerdSpec(
            id: id, pod: "web-5d8f7c9b6d-x2x7q", ns: "shop", uid: uid, name: "nginx", image: "docker.io/library/nginx:1.25"))
        let store = RuntimeMetadataStore(containerdRoots: [root], crioRoots: [])
        let m = try #require(try store.lookup(containerID: id))
        #expect(m.runtime == "containerd" && m.containerName == "nginx" && m.image == "docker.io/library/nginx:1.25")
        #expect(m.podName == "web-5d8f7c9b6d-x2x7q" && m.podNamespace == "shop" && m.podUID == uid && m.containerType == "container")
        #expect(m.privileged == false)
        let st = try #require(m.startTimeNs)
        #expect(abs(Double(st) / 1e9 - Date().timeIntervalSince1970) < 60)
        #expect(try store.lookup(containerID: EnrichTestEnv.randomHexID()) == nil)
        #expect(try store.lookup(containerID: "../../etc") == nil)
    }

    @Test func privilegedFromSpec() throws {
        let root = EnrichTestEnv.tempDir("ctrdpriv")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(id)/config.json", RuntimeStateFixture.containerdSpec(
            id: id, pod: "p", ns: "n", uid: "u", name: "c", image: "i", privileged: true))
        #expect(try RuntimeMetadataStore(containerdRoots: [root], crioRoots: []).lookup(containerID: id)?.privileged == true)
        // CAP_SYS_ADMIN added but masked paths kept: not privileged.
        let spec: [String: Any] = ["process": ["capabilities": ["bounding": ["CAP_SYS_ADMIN"]]], "linux": ["maskedPaths": ["/proc/kcore"]]]
        #expect(RuntimeMetadataStore.isPrivileged(spec: spec) == false)
        #expect(RuntimeMetadataStore.isPrivileged(spec: [:]) == nil)
    }

    @Test func crioState() throws {
        let root = EnrichTestEnv.tempDir("crio")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        try EnrichTestEnv.write("\(root)/\(id)/userdata/config.json", RuntimeStateFixture.crioSpec(
            id: id, pod: "db-0", ns: "data", uid: uid, name: "postgres", image: "quay.io/org/postgres:16@sha256:beef"))
        let m = try #require(try RuntimeMetadataStore(containerdRoots: [], crioRoots: [root]).lookup(containerID: id, runtimeHint: "cri-o"))
        #expect(m.runtime == "cri-o" && m.containerName == "postgres" && m.podName == "db-0" && m.podNamespace == "data" && m.podUID == uid)
        #expect(m.image == "quay.io/org/postgres:16@sha256:beef")
        #expect(m.startTimeNs == 1_714_566_896_123_456_789)
        #expect(m.privileged == false)
    }

    @Test func dockerState() throws {
        let root = EnrichTestEnv.tempDir("docker")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(id)/config.v2.json", """
        {"ID":"\(id)","Created":"2024-05-01T12:34:56.5Z","Name":"/web","Image":"sha256:\(String(repeating: "a", count: 64))",
         "Config":{"Image":"nginx:1.25","Labels":{"maintainer":"x"}},"State":{"Running":true,"Pid":4242}}
        """)
        try EnrichTestEnv.write("\(root)/\(id)/hostconfig.json", #"{"Privileged":true,"NetworkMode":"bridge"}"#)
        let m = try #require(try RuntimeMetadataStore(containerdRoots: [], crioRoots: [], dockerRoots: [root]).lookup(containerID: id, runtimeHint: "docker"))
        #expect(m.runtime == "docker" && m.containerName == "web" && m.image == "nginx:1.25" && m.privileged == true)
        #expect(m.startTimeNs == 1_714_566_896_500_000_000 && m.podName == nil)
    }

    @Test func garbageStateIsAClearError() throws {
        let root = EnrichTestEnv.tempDir("garbage")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(id)/config.json", "{not json")
        #expect {
            _ = try RuntimeMetadataStore(containerdRoots: [root], crioRoots: []).lookup(containerID: id)
        } throws: { e in "\(e)".contains("\(root)/\(id)/config.json") && "\(e)".contains("invalid JSON") }
    }

    /// In-band attribution first (partial), then the bundle fills in pod and container: complete.
    @Test func enricherCombinesCgroupAndBundle() throws {
        let root = EnrichTestEnv.tempDir("combine")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        try EnrichTestEnv.write("\(root)/\(id)/config.json", RuntimeStateFixture.containerdSpec(
            id: id, pod: "web-abc", ns: "shop", uid: uid, name: "nginx", image: "nginx:1.25@sha256:0123"))
        var cfg = ContainerEnricher.Configuration(cgroupRoot: "/nonexistent")
        cfg.containerdRoots = [root]
        cfg.nodeName = "node-7"
        let enricher = ContainerEnricher(configuration: cfg)
        enricher.start()
        defer { enricher.stop() }
        let path = "/kubepods/besteffort/pod\(uid)/\(id)" // cgroupfs driver: runtime learned from the bundle
        let first = path.utf8CString.withUnsafeBytes { raw in
            enricher.container(forCgroupID: 9001, cgroupPathHint: UnsafeRawBufferPointer(rebasing: raw.dropLast()))
        }
        #expect(first.info?.fullID == id)
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 9001).isComplete })
        let c = try #require(enricher.container(forCgroupID: 9001).info)
        #expect(c.runtime == "containerd" && c.name == "nginx" && c.image == "nginx:1.25@sha256:0123")
        #expect(c.imageRepository == "nginx" && c.imageTag == "1.25" && c.imageDigest == "sha256:0123")
        #expect(c.pod?.name == "web-abc" && c.pod?.namespace == "shop" && c.pod?.uid == uid && c.privileged == false)
        #expect(c.startTimeNs != nil && c.pod?.nodeName == "node-7")
    }
}

@Suite struct EnrichmentHoldingAreaTests {
    @Test func releasesWhenCompleteOrLate() throws {
        let root = EnrichTestEnv.tempDir("hold")
        defer { EnrichTestEnv.removeTree(root) }
        var cfg = ContainerEnricher.Configuration(cgroupRoot: "/nonexistent")
        cfg.containerdRoots = [root]
        let enricher = ContainerEnricher(configuration: cfg)
        let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        // Identified in band, but the bundle does not exist yet and the worker is not running.
        enricher.learn(cgroupID: 1234, path: "kubepods.slice/kubepods-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(id).scope")
        #expect(!enricher.container(forCgroupID: 1234).isComplete)
        // A pod container whose runtime state never appears (and no API): stays incomplete.
        enricher.learn(cgroupID: 55, path: "kubepods/besteffort/pod\(EnrichTestEnv.randomUID())/\(EnrichTestEnv.randomHexID())")
        var area = MetadataHoldingArea<String>(configuration: .init(maxWaitNs: 1_000_000_000, retryIntervalNs: 1_000_000, capacity: 2),
                                              metrics: enricher.metrics)
        let heldA = area.hold("a", cgroupID: 1234, nowNs: 0)
        let heldB = area.hold("b", cgroupID: 55, nowNs: 0) // never complete: goes out late
        let heldC = area.hold("c", cgroupID: 1234, nowNs: 0) // full
        #expect(heldA && heldB && !heldC)
        #expect(enricher.metrics.holdOverflow.value == 1)
        var out: [(String, Bool)] = []
        area.poll(nowNs: 500_000_000, enricher: enricher) { e, _, late in out.append((e, late)) }
        #expect(out.isEmpty && area.count == 2)
        try EnrichTestEnv.write("\(root)/\(id)/config.json", RuntimeStateFixture.containerdSpec(
            id: id, pod: "job-x", ns: "batch", uid: uid, name: "worker", image: "busybox"))
        enricher.start()
        defer { enricher.stop() }
        enricher.learn(cgroupID: 1234, path: "ignored: already known")
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 1234).isComplete })
        area.poll(nowNs: 600_000_000, enricher: enricher) { e, l, late in out.append((e, late)); if e == "a" { #expect(l.info?.pod?.name == "job-x") } }
        #expect(out.count == 1 && out[0] == ("a", false))
        area.poll(nowNs: 1_100_000_000, enricher: enricher) { e, _, late in out.append((e, late)) }
        #expect(out.count == 2 && out[1] == ("b", true) && area.isEmpty)
        #expect(enricher.metrics.lateMetadata.value == 2 && enricher.metrics.heldThenResolved.value == 1)
    }
}
