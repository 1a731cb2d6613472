import Foundation
import Synchronization
import Testing
import VigilCapture
import VigilDecode
@testable import VigilState
#if canImport(Glibc)
import Glibc
#endif

/// Keeps exec records whose in-band cgroup path contains a marker.
private final class ExecRecorder: RecordConsumer, @unchecked Sendable {
    let marker: [UInt8]
    let records = Mutex<[OwnedRecord]>([])
    init(marker: String) { self.marker = Array(marker.utf8) }

    func consume(_ ev: Event) {
        guard ev.isExec else { return }
        let path = ev.cgroupPath
        guard path.count >= marker.count else { return }
        let bytes = Array(path)
        var found = false
        for i in 0...(bytes.count - marker.count) where bytes[i] == marker[0] {
            if Array(bytes[i..<(i + marker.count)]) == marker { found = true; break }
        }
        if found { let copy = OwnedRecord(copying: ev.bytes); records.withLock { $0.append(copy) } }
    }
}

@Suite(.serialized) struct EnrichmentKernelTests {
    /// Live BPF capture: a process moved into kubelet-named cgroups execs and exits within
    /// milliseconds; its exec record's cgroup id and in-band path attribute it to the container
    /// on first sight, with no lookup (the cgroup is removed before the enricher sees the event).
    @Test(.enabled(if: EnrichTestEnv.rootTestsEnabled, "needs root for BPF and cgroups (set VIGIL_CI=1 to force)"))
    func shortLivedContainerExecAttributedFromKernelRecord() throws {
        let tree = try TestCgroupTree()
        var cleaned = false
        defer { if !cleaned { tree.cleanup() } }
        struct Case { let rel: String; let id: String; let uid: String; let runtime: String }
        var cases: [Case] = []
        for (i, fmt) in ["kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%@.slice/cri-containerd-%@.scope",
                         "kubepods.slice/kubepods-pod%@.slice/crio-%@.scope",
                         "kubepods/burstable/pod%@/%@"].enumerated() {
            let id = EnrichTestEnv.randomHexID(), uid = EnrichTestEnv.randomUID()
            let u = i < 2 ? uid.replacingOccurrences(of: "-", with: "_") : uid
            let rel = try tree.make(String(format: fmt, u, id))
            cases.append(Case(rel: rel, id: id, uid: uid, runtime: ["containerd", "cri-o", "unknown"][i]))
        }
        let recorder = ExecRecorder(marker: tree.base)
        var opts = BPFCaptureOptions()
        opts.ignoreSelf = false
        let capture = try BPFCapture(options: opts)
        try capture.start(recorder)
        defer { capture.stop() }
        var inodes: [UInt64] = []
        for c in cases {
            inodes.append(try #require(CgroupResolver.cgroupID(ofDirectory: tree.root + c.rel)))
            let p = try tree.spawn(in: c.rel, script: "exec /bin/true")
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
        #expect(EnrichTestEnv.eventually(10) { recorder.records.withLock { $0.count } >= cases.count })
        capture.stop()
        tree.cleanup() // the cgroups are gone: only the record itself can attribute the events
        cleaned = true
        let enricher = ContainerEnricher(configuration: .init(cgroupRoot: "/nonexistent"))
        for (i, c) in cases.enumerated() {
            let rec = try #require(recorder.records.withLock { list in
                list.first { r in (try? r.withEvent { ev in ev.cgroupID == inodes[i] }.get()) == true }
            }, "no exec record with cgroup id \(inodes[i]) for \(c.rel)")
            let (lookup, path) = try rec.withEvent { ev in
                (enricher.container(forCgroupID: ev.cgroupID, cgroupPathHint: ev.cgroupPath, pid: ev.pid),
                 String(decoding: ev.cgroupPath, as: UTF8.self))
            }.get()
            #expect(c.rel.hasSuffix(path.hasPrefix("/") ? path : "/" + path), "in-band path \(path) vs \(c.rel)")
            let info = try #require(lookup.info)
            #expect(info.fullID == c.id && info.id == String(c.id.prefix(12)) && info.podUID == c.uid && info.runtime == c.runtime)
        }
    }
}
