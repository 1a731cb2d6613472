import Foundation
import Testing
import VigilDecode
@testable import VigilState
#if canImport(Glibc)
import Glibc
import VigilCore
#endif

@Suite struct EnrichmentCgroupPathTests {
    let id = "3f9a2b7c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
    let uid = "1b2c3d4e-5f60-4718-93a4-b5c6d7e8f90a"
    var uidU: String { uid.replacingOccurrences(of: "-", with: "_") }

    @Test func systemdDriverAllRuntimesAndQoS() throws {
        for (scope, runtime) in [("cri-containerd-\(id).scope", "containerd"), ("crio-\(id).scope", "cri-o"), ("docker-\(id).scope", "docker")] {
            for qos in ["burstable", "besteffort"] {
                let p = "/kubepods.slice/kubepods-\(qos).slice/kubepods-\(qos)-pod\(uidU).slice/\(scope)"
                let c = try #require(CgroupPathParser.parse(p), "\(p)")
                #expect(c == ContainerIdentity(runtime: runtime, fullID: id, podUID: uid, qos: PodQoSClass(rawValue: qos)))
                #expect(c.shortID == String(id.prefix(12)))
            }
            let g = try #require(CgroupPathParser.parse("kubepods.slice/kubepods-pod\(uidU).slice/\(scope)"))
            #expect(g == ContainerIdentity(runtime: runtime, fullID: id, podUID: uid, qos: .guaranteed))
        }
    }

    @Test func cgroupfsDriverAllQoS() throws {
        for qos in ["burstable", "besteffort"] {
            let c = try #require(CgroupPathParser.parse("/kubepods/\(qos)/pod\(uid)/\(id)"))
            #expect(c == ContainerIdentity(runtime: "unknown", fullID: id, podUID: uid, qos: PodQoSClass(rawValue: qos)))
        }
        let g = try #require(CgroupPathParser.parse("/kubepods/pod\(uid)/\(id)"))
        #expect(g == ContainerIdentity(runtime: "unknown", fullID: id, podUID: uid, qos: .guaranteed))
    }

    @Test func nestedPrefixesAndSubCgroups() throws {
        // kind-style prefix, and a container that made its own child cgroups.
        let p = "/kubelet.slice/kubelet-kubepods.slice/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(uidU).slice/cri-containerd-\(id).scope/init.scope"
        let c = try #require(CgroupPathParser.parse(p))
        #expect(c.fullID == id && c.podUID == uid && c.runtime == "containerd" && c.qos == .besteffort)
        // Truncated in-band path (components from the leaf only).
        let t = try #require(CgroupPathParser.parse("kubepods-burstable-pod\(uidU).slice/crio-\(id).scope"))
        #expect(t.fullID == id && t.runtime == "cri-o")
    }

    @Test func hostAndNonKubernetesPaths() throws {
        for p in ["/", "", "/user.slice/user-0.slice/session-1.scope", "/system.slice/containerd.service", "/init.scope",
                  "/kubepods.slice/kubepods-burstable.slice", "/kubepods.slice/kubepods-pod\(uidU).slice/crio-conmon-\(id).scope",
                  "/system.slice/docker-notanid.scope"] {
            #expect(CgroupPathParser.parse(p) == nil, "\(p)")
        }
        let d = try #require(CgroupPathParser.parse("/system.slice/docker-\(id).scope"))
        #expect(d.runtime == "docker" && d.podUID == nil && d.qos == nil)
        let d2 = try #require(CgroupPathParser.parse("/docker/\(id)"))
        #expect(d2.runtime == "docker" && d2.fullID == id)
    }

    @Test func mountinfoHybridAndUnified() {
        let hybrid = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:5 - cgroup2 cgroup2 rw
        """
        let m = CgroupMounts.parse(mountinfo: hybrid)
        #expect(m.unified == "/sys/fs/cgroup/unified")
        #expect(m.v1["cpu"] == "/sys/fs/cgroup/cpu,cpuacct" && m.v1["name=systemd"] == "/sys/fs/cgroup/systemd")
        let unified = CgroupMounts.parse(mountinfo: "25 21 0:22 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n")
        #expect(unified.unified == "/sys/fs/cgroup" && unified.v1.isEmpty)
        let escaped = CgroupMounts.parse(mountinfo: "25 21 0:22 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n")
        #expect(escaped.unified == "/mnt/my cg")
        let v1only = CgroupMounts.parse(mountinfo: "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n")
        #expect(v1only.unified == nil && v1only.v1Fallback == "/sys/fs/cgroup/systemd")
        // This machine: found from mountinfo, never hard-coded.
        #expect(EnrichTestEnv.mounts.unified != nil)
    }

    @Test func imageReferences() {
        #expect(ImageReference(parsing: "docker.io/library/nginx:1.25") == ImageReference(repository: "docker.io/library/nginx", tag: "1.25"))
        #expect(ImageReference(parsing: "nginx") == ImageReference(repository: "nginx"))
        #expect(ImageReference(parsing: "registry:5000/team/app:1.2@sha256:abcd") == ImageReference(repository: "registry:5000/team/app", tag: "1.2", digest: "sha256:abcd"))
        #expect(ImageReference(parsing: "registry:5000/team/app") == ImageReference(repository: "registry:5000/team/app"))
        #expect(ImageReference(parsing: "docker-pullable://nginx@sha256:ff") == ImageReference(repository: "nginx", digest: "sha256:ff"))
        #expect(ImageReference(parsing: "sha256:ff").digest == "sha256:ff")
    }

    @Test func rfc3339() {
        #expect(parseRFC3339Nanos("1970-01-01T00:00:01Z") == 1_000_000_000)
        #expect(parseRFC3339Nanos("2024-05-01T12:34:56.123456789Z") == 1_714_566_896_123_456_789)
        #expect(parseRFC3339Nanos("2024-05-01T14:34:56.5+02:00") == 1_714_566_896_500_000_000)
        #expect(parseRFC3339Nanos("garbage") == nil)
    }

    @Test func cacheEvictsWithSecondChance() {
        var c = ContainerCache(capacity: 4)
        func entry() -> ContainerCacheEntry {
            ContainerCacheEntry(info: .host, complete: true, referenced: false, identity: nil, path: nil, runtimeMetadata: nil, runtimeLookupDone: true)
        }
        for i in 1...4 { c.insert(UInt64(i), entry()) }
        _ = c.lookup(1) // referenced: survives the next eviction
        let evicted = c.insert(5, entry())
        #expect(evicted)
        #expect(c.count == 4 && c.evictions == 1)
        #expect(c.peek(1) != nil && c.peek(2) == nil)
        for i in 6...100 { c.insert(UInt64(i), entry()) }
        #expect(c.count == 4 && c.evictions == 96)
        c.remove(100)
        c.insert(100, entry())
        c.insert(101, entry())
        #expect(c.count == 4)
    }
}

@Suite struct EnrichmentInBandTests {
    /// The first exec of a container is attributed from the record's in-band cgroup path alone:
    /// the cgroup id does not exist on this machine, so no file-system lookup could have found it.
    @Test func firstExecAttributedInBand() throws {
        let enricher = ContainerEnricher(configuration: .init(cgroupRoot: "/nonexistent-cgroup-root"))
        let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        let path = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(id).scope"
        let rec = OwnedRecord(bytes: RecordEncoder.exec(.init(pid: 4242, cgroupID: 0xfeed_0000_0001),
                                                        .init(exePath: "/bin/sh", argv: ["sh"], cgroupPath: path)))
        let lookup = try rec.withEvent { ev in enricher.container(forCgroupID: ev.cgroupID, cgroupPathHint: ev.cgroupPath, pid: ev.pid) }.get()
        let c = try #require(lookup.info)
        #expect(c.id == String(id.prefix(12)) && c.fullID == id && c.runtime == "containerd" && c.podUID == uid)
        // Later syscalls of the same cgroup carry no path: a cache hit.
        let again = enricher.container(forCgroupID: 0xfeed_0000_0001)
        #expect(again.info === c)
        #expect(enricher.metrics.cacheHits.value == 1 && enricher.metrics.learnedInBand.value == 1)
        // A host exec.
        let host = enricher.container(forCgroupID: 77, cgroupPathHint: UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(host.info == nil) // unknown id, no path: pending
        enricher.learn(cgroupID: 78, path: "/user.slice/user-0.slice/session-3.scope")
        #expect(enricher.container(forCgroupID: 78).info === ContainerInfo.host)
    }
}

@Suite(.serialized) struct EnrichmentRealCgroupTests {
    static let enabled = EnrichTestEnv.rootTestsEnabled

    /// Both kubelet drivers, every QoS class, every runtime naming; a process moved into each
    /// cgroup (one that exits within milliseconds); its cgroup id resolves to the container.
    @Test(.enabled(if: enabled, "needs root to create cgroups (set VIGIL_CI=1 to force)"))
    func realCgroupsResolveToContainers() throws {
        let tree = try TestCgroupTree()
        defer { tree.cleanup() }
        var cases: [(rel: String, runtime: String, id: String, uid: String, qos: PodQoSClass)] = []
        for qos in [PodQoSClass.guaranteed, .burstable, .besteffort] {
            for (scopeFmt, runtime) in [("cri-containerd-%@.scope", "containerd"), ("crio-%@.scope", "cri-o"), ("docker-%@.scope", "docker")] {
                let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
                let u = uid.replacingOccurrences(of: "-", with: "_")
                let podSlice = qos == .guaranteed ? "kubepods-pod\(u).slice" : "kubepods-\(qos.rawValue).slice/kubepods-\(qos.rawValue)-pod\(u).slice"
                let rel = try tree.make("kubepods.slice/\(podSlice)/\(String(format: scopeFmt, id))")
                cases.append((rel, runtime, id, uid, qos))
            }
            let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
            let qosDir = qos == .guaranteed ? "" : qos.rawValue + "/"
            let rel = try tree.make("kubepods/\(qosDir)pod\(uid)/\(id)")
            cases.append((rel, "unknown", id, uid, qos))
        }
        let enricher = ContainerEnricher(configuration: .init())
        enricher.start()
        defer { enricher.stop() }
        var pids: [(Process, Int)] = []
        for (i, c) in cases.enumerated() {
            // Every third process exits within milliseconds; the others live a little.
            let p = try tree.spawn(in: c.rel, script: i % 3 == 0 ? "exit 0" : "sleep 0.3")
            pids.append((p, i))
        }
        for (p, i) in pids {
            let c = cases[i]
            let cgid = try #require(CgroupResolver.cgroupID(ofDirectory: tree.root + c.rel))
            var lookup = enricher.container(forCgroupID: cgid, pid: UInt32(p.processIdentifier))
            #expect(EnrichTestEnv.eventually { lookup = enricher.container(forCgroupID: cgid, pid: UInt32(p.processIdentifier)); return lookup.info != nil })
            let info = try #require(lookup.info, "cgroup \(c.rel) not resolved")
            #expect(info.fullID == c.id, "\(c.rel)")
            #expect(info.id == String(c.id.prefix(12)))
            #expect(info.podUID == c.uid)
            #expect(info.runtime == c.runtime)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "moving pid into \(c.rel) failed")
        }
        #expect(enricher.metrics.resolved.value >= UInt64(cases.count))
        // A host process: its own cgroup resolves to the host.
        let selfPath = try #require(CgroupResolver.cgroupPath(ofPID: UInt32(getpid())))
        let selfID = try #require(CgroupResolver.cgroupID(ofDirectory: tree.root + (selfPath == "/" ? "" : selfPath)))
        var hostLookup = enricher.container(forCgroupID: selfID, pid: UInt32(getpid()))
        #expect(EnrichTestEnv.eventually { hostLookup = enricher.container(forCgroupID: selfID); return hostLookup.info != nil })
        #expect(hostLookup.info?.id == "host" && hostLookup.isComplete)
    }

    /// A process able to create cgroups nests fake kubelet names deep enough that the kernel's
    /// 8-component in-band path shows only its own names: the path is not trusted, the id is
    /// resolved from the full path, and the real container wins.
    @Test(.enabled(if: enabled, "needs root to create cgroups (set VIGIL_CI=1 to force)"))
    func deepNestedFakeNamesDoNotSpoofIdentity() throws {
        let tree = try TestCgroupTree()
        defer { tree.cleanup() }
        let real = EnrichTestEnv.randomHexID(), fake = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        let u = uid.replacingOccurrences(of: "-", with: "_")
        let nested = "kubepods.slice/kubepods-pod\(u).slice/cri-containerd-\(real).scope/a/b/c/d/kubepods.slice/kubepods-pod\(u).slice/docker-\(fake).scope"
        let rel = try tree.make(nested)
        let cgid = try #require(CgroupResolver.cgroupID(ofDirectory: tree.root + rel))
        let leaf8 = rel.split(separator: "/").suffix(8).joined(separator: "/")
        let enricher = ContainerEnricher(configuration: .init())
        enricher.start()
        defer { enricher.stop() }
        let first = leaf8.utf8CString.withUnsafeBytes { raw in
            enricher.container(forCgroupID: cgid, cgroupPathHint: UnsafeRawBufferPointer(rebasing: raw.dropLast()))
        }
        #expect(first.info == nil) // not attributed from the possibly truncated path
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: cgid).info != nil })
        let c = try #require(enricher.container(forCgroupID: cgid).info)
        #expect(c.fullID == real && c.runtime == "containerd")
    }

    /// Cgroups created right after a walk are still found (no stale snapshot), one after another.
    @Test(.enabled(if: enabled, "needs root to create cgroups (set VIGIL_CI=1 to force)"))
    func newCgroupsAfterAWalkResolve() throws {
        let tree = try TestCgroupTree()
        defer { tree.cleanup() }
        let enricher = ContainerEnricher(configuration: .init())
        enricher.start()
        defer { enricher.stop() }
        for _ in 0..<5 {
            let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
            let rel = try tree.make("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(id).scope")
            let cgid = try #require(CgroupResolver.cgroupID(ofDirectory: tree.root + rel))
            _ = enricher.container(forCgroupID: cgid) // no pid, no path: found by walking
            #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: cgid).info?.fullID == id })
        }
        #expect(enricher.metrics.unresolved.value == 0)
    }

    /// An id judged unresolved is re-learned when an exec brings its path in band.
    @Test func unresolvedIsRelearnedFromInBandPath() throws {
        let enricher = ContainerEnricher(configuration: .init(cgroupRoot: "/nonexistent"))
        enricher.start()
        defer { enricher.stop() }
        _ = enricher.container(forCgroupID: 4_000_000_001)
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 4_000_000_001).info === ContainerInfo.unresolved })
        let id = EnrichTestEnv.randomHexID()
        let path = "system.slice/docker-\(id).scope"
        let l = path.utf8CString.withUnsafeBytes { raw in
            enricher.container(forCgroupID: 4_000_000_001, cgroupPathHint: UnsafeRawBufferPointer(rebasing: raw.dropLast()))
        }
        #expect(l.info?.fullID == id && l.info?.runtime == "docker")
    }

    /// A process that exited before the agent looked, and an id that never existed.
    @Test(.enabled(if: enabled, "needs root to create cgroups (set VIGIL_CI=1 to force)"))
    func goneProcessResolvesByWalkAndUnknownIdIsUnresolved() throws {
        let tree = try TestCgroupTree()
        defer { tree.cleanup() }
        let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        let rel = try tree.make("kubepods/besteffort/pod\(uid)/\(id)")
        let p = try tree.spawn(in: rel, script: "exit 0")
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let cgid = try #require(CgroupResolver.cgroupID(ofDirectory: tree.root + rel))
        let enricher = ContainerEnricher(configuration: .init())
        enricher.start()
        defer { enricher.stop() }
        #expect(enricher.container(forCgroupID: cgid, pid: UInt32(p.processIdentifier)).info == nil) // pending
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: cgid).info?.fullID == id })
        #expect(enricher.container(forCgroupID: cgid).info?.podUID == uid)
        _ = enricher.container(forCgroupID: 0x7fff_ffff_ffff_fff0)
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 0x7fff_ffff_ffff_fff0).isComplete })
        #expect(enricher.container(forCgroupID: 0x7fff_ffff_ffff_fff0).info === ContainerInfo.unresolved)
        #expect(enricher.metrics.unresolved.value == 1)
    }
}

@Suite struct EnrichmentFrontCacheTests {
    /// The decoding thread's front cache serves hits, and never stale data after a change.
    @Test func frontCacheFollowsGeneration() throws {
        let root = EnrichTestEnv.tempDir("front")
        defer { EnrichTestEnv.removeTree(root) }
        var cfg = ContainerEnricher.Configuration(cgroupRoot: "/nonexistent")
        cfg.containerdRoots = [root]
        let enricher = ContainerEnricher(configuration: cfg)
        let front = ContainerLookupCache(enricher)
        let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
        let path = "/kubepods/besteffort/pod\(uid)/\(id)"
        let first = path.utf8CString.withUnsafeBytes { raw in
            front.container(forCgroupID: 42, cgroupPathHint: UnsafeRawBufferPointer(rebasing: raw.dropLast()))
        }
        #expect(first.info?.fullID == id && !first.isComplete)
        let hit = front.container(forCgroupID: 42)
        #expect(hit.info === first.info) // served from the front cache
        #expect(front.container(forCgroupID: 43).info == nil) // unknown: pending, not cached
        // The bundle appears and the worker completes the container: the front cache must not serve the old value.
        try EnrichTestEnv.write("\(root)/\(id)/config.json", RuntimeStateFixture.containerdSpec(
            id: id, pod: "p", ns: "n", uid: uid, name: "c", image: "busybox"))
        enricher.start()
        defer { enricher.stop() }
        enricher.learn(cgroupID: 42, path: path) // already known: a no-op; the queued metadata lookup runs now
        #expect(EnrichTestEnv.eventually { front.container(forCgroupID: 42).isComplete })
        #expect(front.container(forCgroupID: 42).info?.pod?.name == "p")
    }
}
