import Foundation
import Testing
@testable import VigilState
import VigilCore

/// `container.mount*`: the bind mounts of the runtime's bundle, read the way the runtimes write it.
@Suite struct ContainerMountTests {
    /// The `mounts` of a containerd CRI bundle for a pod container (the runtime's own file systems,
    /// kubelet's files, a hostPath volume, the service account token).
    static func containerdMounts(hostPath: String) -> String {
        """
        "mounts":[
         {"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
         {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
         {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
         {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},
         {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
         {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]},
         {"destination":"/etc/hosts","type":"bind","source":"/var/lib/kubelet/pods/0e1f/etc-hosts","options":["rbind","rprivate","rw"]},
         {"destination":"/dev/termination-log","type":"bind","source":"/var/lib/kubelet/pods/0e1f/containers/app/1a2b","options":["rbind","rprivate","rw"]},
         {"destination":"/var/run/docker.sock","type":"bind","source":"\(hostPath)","options":["rbind","rprivate","rw"]},
         {"destination":"/host/proc","source":"/proc","options":["rbind","rslave","ro"]},
         {"destination":"/var/run/secrets/kubernetes.io/serviceaccount","type":"bind","source":"/var/lib/kubelet/pods/0e1f/volumes/kubernetes.io~projected/kube-api-access-x","options":["rbind","rprivate","ro"]},
         {"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/ab/shm","options":["rbind","ro","nosuid","nodev","noexec"]}
        ]
        """
    }

    static func spec(_ mounts: String, annotations: String) -> String {
        #"{"ociVersion":"1.1.0","process":{"capabilities":{"bounding":["CAP_CHOWN"]}},"root":{"path":"rootfs"},"#
            + mounts + #","annotations":{"# + annotations + #"},"linux":{"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}}"#
    }

    @Test func containerdBundleMountsAreItsBindMountsInOrder() throws {
        let root = EnrichTestEnv.tempDir("mounts-ctrd")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(id)/config.json", Self.spec(Self.containerdMounts(hostPath: "/run/containerd/containerd.sock"),
            annotations: #""io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-name":"p","io.kubernetes.cri.sandbox-namespace":"n""#))
        let m = try #require(try RuntimeMetadataStore(containerdRoots: [root], crioRoots: []).lookup(containerID: id))
        #expect(m.mounts.map(\.destination) == ["/etc/hosts", "/dev/termination-log", "/var/run/docker.sock", "/host/proc",
                                                "/var/run/secrets/kubernetes.io/serviceaccount", "/dev/shm"])
        let sock = m.mounts[2]
        #expect(sock.source == "/run/containerd/containerd.sock" && sock.readWrite && sock.propagation == "rprivate")
        #expect(sock.mode == "rbind,rprivate,rw")
        let proc = m.mounts[3]
        #expect(proc.source == "/proc" && !proc.readWrite && proc.propagation == "rslave")
        #expect(proc.falcoText == "/proc:/host/proc:rbind,rslave,ro:false:rslave")
        #expect(m.mounts.first(sourceMatching: "/proc*")?.destination == "/host/proc")
        #expect(m.mounts.first(destinationMatching: "/var/run/secrets/*")?.source.hasSuffix("kube-api-access-x") == true)
        #expect(m.mounts.first(sourceMatching: "/var/lib/kubelet") == nil)
    }

    @Test func crioAndPodmanBundlesGiveMountsToo() throws {
        let root = EnrichTestEnv.tempDir("mounts-crio")
        defer { EnrichTestEnv.removeTree(root) }
        let crio = EnrichTestEnv.randomHexID(), podman = EnrichTestEnv.randomHexID()
        let mounts = #""mounts":[{"destination":"/etc","type":"bind","source":"/etc","options":["rw","rbind","rshared"]},"#
            + #"{"destination":"/proc","type":"proc","source":"proc","options":["nosuid"]}]"#
        try EnrichTestEnv.write("\(root)/\(crio)/userdata/config.json", Self.spec(mounts,
            annotations: #""io.kubernetes.cri-o.ContainerType":"container","io.kubernetes.pod.name":"p","io.kubernetes.pod.namespace":"n""#))
        try EnrichTestEnv.write("\(root)/\(podman)/userdata/config.json", Self.spec(mounts, annotations: #""io.container.manager":"libpod""#))
        let store = RuntimeMetadataStore(containerdRoots: [], crioRoots: [root])
        for id in [crio, podman] {
            let m = try #require(try store.lookup(containerID: id, runtimeHint: "cri-o"))
            #expect(m.mounts == [ContainerMount(source: "/etc", destination: "/etc", mode: "rw,rbind,rshared", readWrite: true, propagation: "rshared")])
        }
    }

    @Test func dockerMountPointsAreMounts() throws {
        let root = EnrichTestEnv.tempDir("mounts-docker")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(id)/config.v2.json", """
        {"ID":"\(id)","Name":"/web","Config":{"Image":"nginx"},"MountPoints":{
         "/var/run/docker.sock":{"Source":"/var/run/docker.sock","Destination":"/var/run/docker.sock","RW":false,"Mode":"ro","Propagation":"rprivate"},
         "/data":{"Source":"/srv/data","Destination":"/data","RW":true,"Mode":"","Propagation":"rprivate"}}}
        """)
        let m = try #require(try RuntimeMetadataStore(containerdRoots: [], crioRoots: [], dockerRoots: [root]).lookup(containerID: id, runtimeHint: "docker"))
        #expect(m.mounts.map(\.falcoText) == ["/srv/data:/data::true:rprivate", "/var/run/docker.sock:/var/run/docker.sock:ro:false:rprivate"])
    }

    @Test func oddMountEntriesAreSkippedNotFatal() throws {
        let root = EnrichTestEnv.tempDir("mounts-odd")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID()
        let mounts = #""mounts":[7,"x",{"destination":5},{"type":"bind","source":"/a"},{"destination":"/b","type":"bind"},"#
            + #"{"destination":"/c","type":"bind","source":"/c","options":[1,"ro",null]},{"destination":"/d\n","type":"bind","source":"/e\u0000f"}]"#
        try EnrichTestEnv.write("\(root)/\(id)/config.json", Self.spec(mounts, annotations: #""a":"b""#))
        let m = try #require(try RuntimeMetadataStore(containerdRoots: [root], crioRoots: []).lookup(containerID: id))
        #expect(m.mounts.map(\.destination) == ["/c", "/d\n"])
        #expect(m.mounts[0].readWrite == false && m.mounts[0].mode == "ro")
    }

    /// The enricher carries the bundle's mounts into the container the rules see.
    @Test func enricherCarriesMounts() throws {
        let root = EnrichTestEnv.tempDir("mounts-enrich")
        defer { EnrichTestEnv.removeTree(root) }
        let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        try EnrichTestEnv.write("\(root)/\(id)/config.json", Self.spec(Self.containerdMounts(hostPath: "/var/run/docker.sock"),
            annotations: #""io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-name":"web","io.kubernetes.cri.sandbox-namespace":"shop","io.kubernetes.cri.sandbox-uid":"\#(uid)""#))
        var cfg = ContainerEnricher.Configuration(cgroupRoot: "/nonexistent")
        cfg.containerdRoots = [root]
        let enricher = ContainerEnricher(configuration: cfg)
        enricher.start()
        defer { enricher.stop() }
        let path = "/kubepods/besteffort/pod\(uid)/\(id)"
        _ = path.utf8CString.withUnsafeBytes { raw in
            enricher.container(forCgroupID: 9101, cgroupPathHint: UnsafeRawBufferPointer(rebasing: raw.dropLast()))
        }
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 9101).isComplete })
        let c = try #require(enricher.container(forCgroupID: 9101).info)
        #expect(c.mounts?.first(sourceMatching: "/var/run/docker.sock")?.destination == "/var/run/docker.sock")
        #expect(c.mounts?.count == 6)
    }
}
