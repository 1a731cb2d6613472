// Enrichment micro-benchmarks: cost of the per-event container lookup on the decoding thread.
//
//   swift build -c release --product vigil-bench-enrich && .build/release/vigil-bench-enrich
//
// Reports ns per operation for: a cache hit (the per-event path), a bare Dictionary probe
// without a lock (the floor), a first exec learned from its in-band cgroup path, and the
// resident memory of a full cache. Ratios are against the bare probe, measured in the same run.
#if canImport(Glibc)
import Glibc
#endif
import VigilCore
import VigilState
import Foundation

@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

func nowNs() -> UInt64 { Timestamp.monotonicNanoseconds() }

func rssKiB() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix("VmRSS:") { return Int(s.split(separator: " ").dropFirst().first ?? "0") ?? 0 }
    }
    return 0
}

func hex(_ n: Int) -> String {
    let s = String(n, radix: 16)
    return String(repeating: "0", count: 64 - s.count) + s
}

/// Runs in a plain function: top-level code would add main-actor checks to every global access.
func run() {
    let containers = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 200
    let lookups = 20_000_000
    var cfg = ContainerEnricher.Configuration(cgroupRoot: "/nonexistent")
    cfg.containerdRoots = []; cfg.crioRoots = []; cfg.dockerRoots = []
    let enricher = ContainerEnricher(configuration: cfg)

    // First execs: learned from in-band paths (parse + insert), no file system.
    var paths: [[UInt8]] = []
    for i in 0..<containers {
        let uid = "0000aaaa_bbbb_cccc_dddd_\(String(repeating: "0", count: 12 - String(i).count))\(i)"
        paths.append(Array("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(uid).slice/cri-containerd-\(hex(i + 1)).scope".utf8))
    }
    var t0 = nowNs()
    for i in 0..<containers {
        let l = paths[i].withUnsafeBytes { enricher.container(forCgroupID: UInt64(10_000 + i), cgroupPathHint: $0) }
        blackHole(l)
    }
    let learnNs = Double(nowNs() - t0) / Double(containers)

    // Cache hits: the per-event path.
    var ids = (0..<lookups).map { UInt64(10_000 + ($0 &* 7919) % containers) }
    t0 = nowNs()
    var found = 0
    for id in ids {
        if case .partial = enricher.container(forCgroupID: id) { found &+= 1 }
    }
    let hitNs = Double(nowNs() - t0) / Double(lookups)

    // The decoding thread's front cache.
    let front = ContainerLookupCache(enricher)
    t0 = nowNs()
    var frontFound = 0
    for id in ids {
        if case .partial = front.container(forCgroupID: id) { frontFound &+= 1 }
    }
    let frontNs = Double(nowNs() - t0) / Double(lookups)

    // Floor: a bare Dictionary probe with no lock, no counters.
    var bare: [UInt64: ContainerInfo] = [:]
    for i in 0..<containers { bare[UInt64(10_000 + i)] = ContainerInfo.host }
    t0 = nowNs()
    var bareFound = 0
    for id in ids { if bare[id] != nil { bareFound &+= 1 } }
    let bareNs = Double(nowNs() - t0) / Double(lookups)
    ids = []

    // Memory of a full default-size cache (16384 containers with identities).
    let rss0 = rssKiB()
    let big = ContainerEnricher(configuration: cfg)
    for i in 0..<16384 {
        let p = Array("kubepods/besteffort/pod0000aaaa-bbbb-cccc-dddd-\(String(repeating: "0", count: 12 - String(i).count))\(i)/\(hex(i + 1))".utf8)
        blackHole(p.withUnsafeBytes { big.container(forCgroupID: UInt64(1_000_000 + i), cgroupPathHint: $0) })
    }
    let rss1 = rssKiB()

    print("enrich bench: \(containers) containers, \(lookups) lookups (found \(found), bare found \(bareFound))")
    print(String(format: "  enricher cache hit (locked):   %6.1f ns/lookup", hitNs))
    print(String(format: "  front cache hit (per event):   %6.1f ns/lookup (found \(frontFound))", frontNs))
    print(String(format: "  bare Dictionary probe (floor): %6.1f ns/lookup   locked/floor %.1fx, front/floor %.2fx", bareNs, hitNs / bareNs, frontNs / bareNs))
    print(String(format: "  first exec learned in band:    %6.0f ns/container", learnNs))
    print("  cache of 16384 containers:     \(rss1 - rss0) KiB RSS (\((rss1 - rss0) * 1024 / 16384) B/container); evictions \(big.metrics.cacheEvictions.value)")
}

run()
