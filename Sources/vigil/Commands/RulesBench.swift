#if canImport(Glibc)
import Glibc
#endif
import VigilCore
import VigilDecode
import VigilRules
import VigilState

/// `vigil rules bench`: rule evaluation throughput on one core over a synthetic
/// mix of exec, open, connect and other events (field extraction + matching,
/// alert rendering for the matches).
enum RulesBench {
    static func run(_ args: [String]) -> Int32 {
        if args.contains("-h") || args.contains("--help") {
            print("""
            Usage: vigil rules bench [-r PATH]... [--events N] [--seconds S] [--top K] [--format text|json]
                   [--explain EVENT_TYPE]

            Loads the rules (default: rules/ plus ../shared/falco-rules/falco_rules.yaml when present),
            builds N distinct synthetic events (55% open/openat, 8% exec, 10% connect, 27% other:
            close, dup, socket, accept, unlink, rename, setuid, chmod, ...), and evaluates them
            round-robin on one pinned core for S seconds. Reports events/s, ns/event, matches, and
            the rules that cost most (each rule timed alone over the events of its types).
            --explain TYPE prints, instead, the conditions evaluated for events of TYPE (openat,
            execve, ...) in evaluation order with each test's estimated cost, and exits.
            """)
            return 0
        }
        let a = RulesCommand.Args(args, valued: ["--events", "--seconds", "--top", "--explain"])
        if let e = a.error { writeStderr("vigil rules bench: \(e)\n"); return 2 }
        var paths = a.rules + a.positional
        if paths.isEmpty {
            paths = ["rules/"]
            let falco = (getenv("VIGIL_FALCO_RULES_DIR").map { String(cString: $0) } ?? "../shared/falco-rules") + "/falco_rules.yaml"
            if access(falco, R_OK) == 0 { paths.insert(falco, at: 0) }
        }
        let nEvents = Int(a.options["--events"] ?? "") ?? 8192
        let seconds = Double(a.options["--seconds"] ?? "") ?? 3
        let top = Int(a.options["--top"] ?? "") ?? 8
        var options = RuleLoadOptions()
        options.matching = .all
        let rules: RuleSet
        do { (rules, _) = try RuleSet.load(paths: paths, options: options) } catch {
            for d in error.errors { writeStderr(d.description + "\n") }
            return 1
        }
        if let name = a.options["--explain"] {
            guard let t = EventType(name: name) else { writeStderr("vigil rules bench: --explain: unknown event type '\(name)'\n"); return 2 }
            print(rules.describeEvaluation(for: t), terminator: "")
            return 0
        }
        let pinned = pinToCPU(0)
        let mix = SyntheticMix(count: nEvents)
        let scratch = rules.makeScratch(hostname: "bench")
        let contexts = mix.contexts

        // Warm-up (arena, user names, flag renderings); which rules match the mix.
        var matches = 0
        var perRule: [String: Int] = [:]
        for c in contexts { rules.evaluate(c, scratch: scratch) { a in matches += 1; perRule[a.rule, default: 0] += 1 } }

        // Timed run.
        matches = 0
        var alertBytes = 0
        var processed = 0
        // Thread CPU time: the machine may be shared; the rate is per CPU-second of this thread.
        let wall0 = now()
        let start = cpuNow()
        let deadline = start + UInt64(seconds * 1e9)
        var t = start
        let nodes0 = scratch.nodesEvaluated, checks0 = scratch.checksEvaluated
        contexts.withUnsafeBufferPointer { buf in
            repeat {
                for k in 0..<buf.count {
                    rules.evaluate(buf.baseAddress! + k, scratch: scratch) { alert in matches += 1; alertBytes &+= alert.message.utf8.count }
                }
                processed += buf.count
                t = cpuNow()
            } while t < deadline
        }
        let nodesPerEvent = Double(scratch.nodesEvaluated - nodes0) / Double(processed)
        let checksPerEvent = Double(scratch.checksEvaluated - checks0) / Double(processed)
        let elapsed = Double(t - start) / 1e9
        let wallElapsed = Double(now() - wall0) / 1e9
        let eps = Double(processed) / elapsed
        let nsPerEvent = elapsed * 1e9 / Double(processed)

        // Per-rule standalone cost.
        var costs: [(name: String, ns: Double, events: Int)] = []
        for (k, r) in rules.rules.enumerated() where r.enabled {
            let evs = contexts.filter { r.eventTypes.contains($0.event.type) }
            if evs.isEmpty { continue }
            var n = 0
            let s0 = cpuNow()
            var sink = 0
            for _ in 0..<4 { for c in evs { if rules.matches(rule: k, c, scratch: scratch) { sink += 1 }; n += 1 } }
            let dt = Double(cpuNow() - s0)
            costs.append((r.name, dt / Double(n), n / 4))
            _ = sink
        }
        costs.sort { $0.ns * Double($0.events) > $1.ns * Double($1.events) }
        let perType = Dictionary(grouping: contexts, by: { $0.event.type.name }).mapValues(\.count)

        if a.json {
            let w = JSONWriter()
            w.beginObject()
            w.key("rules_files"); w.beginArray(); for p in paths { w.string(p) }; w.endArray()
            w.key("rules_enabled"); w.int(Int64(rules.summary.enabled))
            w.key("distinct_events"); w.int(Int64(contexts.count))
            w.key("events"); w.int(Int64(processed))
            w.key("cpu_seconds"); w.double(elapsed)
            w.key("wall_seconds"); w.double(wallElapsed)
            w.key("events_per_second"); w.double(eps)
            w.key("ns_per_event"); w.double(nsPerEvent)
            w.key("matches"); w.int(Int64(matches))
            w.key("nodes_per_event"); w.double(nodesPerEvent)
            w.key("checks_per_event"); w.double(checksPerEvent)
            w.key("pinned_cpu0"); w.bool(pinned)
            w.key("costliest_rules"); w.beginArray()
            for c in costs.prefix(top) {
                w.beginObject(); w.key("rule"); w.string(c.name); w.key("ns_per_evaluation"); w.double(c.ns)
                w.key("share_of_events"); w.double(Double(c.events) / Double(contexts.count)); w.endObject()
            }
            w.endArray()
            w.endObject()
            print(w.text)
        } else {
            var out = "rules: \(rules.summary.enabled) enabled from \(paths.joined(separator: " "))\n"
            out += "events: \(contexts.count) distinct (" + perType.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")\n"
            out += "one core\(pinned ? " (pinned to CPU 0)" : ""): \(processed) events in \(fmt(elapsed)) s of thread CPU time (\(fmt(wallElapsed)) s wall; load average \(loadAverage()))\n"
            out += "throughput: \(fmt(eps / 1e6)) M events/s, \(fmt(nsPerEvent)) ns/event, \(matches) matches (\(fmt(Double(matches) * 100 / Double(processed)))% of events)\n"
            out += "work: \(fmt(nodesPerEvent)) condition nodes and \(fmt(checksPerEvent)) field comparisons per event\n"
            out += "matching rules in the mix: " + perRule.sorted { $0.value > $1.value }.prefix(top).map { "\($0.key) (\($0.value))" }.joined(separator: ", ") + "\n"
            out += "costliest rules (standalone ns per evaluation x share of events):\n"
            for c in costs.prefix(top) {
                out += "  \(fmt(c.ns).padding(8)) ns x \(fmt(Double(c.events) * 100 / Double(contexts.count)).padding(6))%  \(c.name)\n"
            }
            print(out, terminator: "")
        }
        return 0
    }

    static func loadAverage() -> String {
        guard let b = readAll("/proc/loadavg") else { return "?" }
        return String(b.split(separator: " ").first ?? "?")
    }

    static func readAll(_ path: String) -> String? {
        (try? FileReader.readText(path, limit: 256, truncate: true)).map { String($0.prefix { $0 != "\n" }) }
    }

    static func fmt(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return String(r)
    }

    static func cpuNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func now() -> UInt64 { Timestamp.monotonicNanoseconds() }

    /// Pins the calling thread to `cpu` (sched_setaffinity with a hand-built mask).
    static func pinToCPU(_ cpu: Int) -> Bool {
        var mask = [UInt8](repeating: 0, count: 128)
        mask[cpu / 8] |= UInt8(1 << (cpu % 8))
        // sched_setaffinity is a GNU extension the Glibc module does not export: look it up.
        typealias SetAffinity = @convention(c) (Int32, Int, UnsafeRawPointer) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity") else { return false }
        let f = unsafeBitCast(sym, to: SetAffinity.self)
        return mask.withUnsafeBytes { f(0, 128, $0.baseAddress!) == 0 }
    }
}

/// A deterministic synthetic event mix with process, fd and container state.
final class SyntheticMix {
    private var storage: UnsafeMutableRawPointer
    private(set) var contexts: [EventContext] = []
    let table = ProcessTable()

    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
    }

    init(count: Int, seed: UInt64 = 0x5eed) {
        var rng = Rng(s: seed)
        // Processes: servers, shells, tools, with ancestry.
        let programs: [(String, [String])] = [
            ("/usr/sbin/nginx", ["-g", "daemon off;"]), ("/usr/bin/python3", ["/app/server.py"]), ("/usr/bin/java", ["-jar", "/app/app.jar"]),
            ("/usr/bin/node", ["/srv/index.js"]), ("/usr/lib/postgresql/15/bin/postgres", ["-D", "/var/lib/postgresql"]),
            ("/usr/bin/envoy", ["-c", "/etc/envoy/envoy.yaml"]), ("/usr/local/bin/coredns", ["-conf", "/etc/coredns/Corefile"]), ("/usr/bin/curl", ["-s", "https://example.com"]),
            ("/usr/bin/cat", ["/etc/hosts"]), ("/usr/bin/ls", ["-la"]), ("/usr/local/bin/kubelet", ["--config", "/var/lib/kubelet/config.yaml"]),
            ("/usr/bin/containerd-shim-runc-v2", ["-namespace", "k8s.io"]), ("/usr/bin/redis-server", ["*:6379"]),
            ("/usr/sbin/sshd", ["-D"]), ("/usr/bin/dockerd", ["-H", "fd://"]), ("/usr/bin/prometheus", ["--config.file=/etc/prometheus.yml"]),
        ]
        let initProc = ProcessInfo(pid: 1, ppid: 0, name: "systemd", exe: "/sbin/init", exePath: "/lib/systemd/systemd", startTimeBootNs: 1)
        table.insert(initProc)
        let shim = ProcessInfo(pid: 900, ppid: 1, name: "containerd-shim", exe: "/usr/bin/containerd-shim-runc-v2",
                               exePath: "/usr/bin/containerd-shim-runc-v2", args: ["-namespace", "k8s.io"], startTimeBootNs: 2)
        table.insert(shim)
        var procs: [ProcessInfo] = []
        for k in 0..<64 {
            let (path, args) = programs[k % programs.count]
            let name = String(path.split(separator: "/").last!.prefix(15))
            let parent: UInt32 = k < 8 ? 900 : (k < 16 ? 1 : UInt32(1000 + rng.int(k)))
            let p = ProcessInfo(pid: UInt32(1000 + k), ppid: parent, name: name, exe: path, exePath: path, args: args,
                                cwd: "/srv/", uid: k % 3 == 0 ? 0 : 1000, gid: 0, loginUID: k % 5 == 0 ? 1000 : .max,
                                tty: k % 7 == 0 ? 34816 : 0, capEffective: k % 4 == 0 ? 0x1fffffffff : 0x20000420,
                                startTimeBootNs: 1_000_000_000 + UInt64(k))
            table.insert(p); procs.append(p)
        }
        let pod = PodInfo(name: "web-5d8f7c9b4-x2x7q", namespace: "shop", uid: "1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0",
                          labels: ["app": "web"], serviceAccount: "default")
        let ctr = ContainerInfo(id: "3f9a2b7c1d4e", fullID: "3f9a2b7c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
                                runtime: "containerd", name: "web", image: "docker.io/library/nginx:1.25",
                                imageRepository: "docker.io/library/nginx", imageTag: "1.25", startTimeNs: 1_700_000_000_000_000_000,
                                privileged: false, podUID: pod.uid, pod: pod)
        // Benign activity, with one suspicious event in 512 (so alerts are rendered, as in production).
        let readFiles = ["/etc/passwd", "/etc/hosts", "/etc/resolv.conf", "/proc/self/stat", "/proc/meminfo", "/sys/fs/cgroup/cpu.max",
                         "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/srv/static/index.html",
                         "/app/config.yaml", "/var/lib/postgresql/base/16384/2619", "/etc/ssl/certs/ca-certificates.crt", "/dev/null",
                         "/usr/share/zoneinfo/UTC", "/etc/nsswitch.conf", "/proc/self/cgroup", "/srv/app/node_modules/express/index.js"]
        let writeFiles = ["/var/log/nginx/access.log", "/tmp/upload-1234", "/srv/data/cache.bin", "/var/lib/postgresql/pg_wal/000000010000000000000001",
                          "/dev/null", "/app/logs/app.log"]
        let readFlags = ["O_RDONLY|O_CLOEXEC", "O_RDONLY", "O_RDONLY|O_DIRECTORY|O_CLOEXEC", "O_RDONLY|O_NONBLOCK|O_CLOEXEC"]
        let writeFlags = ["O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC", "O_RDWR|O_CREAT|O_CLOEXEC", "O_WRONLY|O_APPEND"]
        let execs: [(String, [String])] = [
            ("/usr/bin/python3", ["/app/worker.py"]), ("/usr/bin/node", ["/srv/index.js"]), ("/usr/bin/ls", ["-la", "/srv"]),
            ("/usr/bin/date", ["+%s"]), ("/usr/bin/sleep", ["1"]), ("/usr/bin/cat", ["/etc/hosts"]), ("/usr/bin/curl", ["-s", "http://localhost:8080/healthz"]),
            ("/usr/bin/du", ["-sh", "/tmp"]), ("/usr/bin/pg_isready", ["-q"]), ("/usr/local/bin/entrypoint", ["start"]),
        ]
        var records: [[UInt8]] = []
        var meta: [(ProcessInfo, FDInfo?, Int32, ContainerInfo)] = []
        for i in 0..<count {
            let p = procs[rng.int(procs.count)]
            let inCtr = p.pid % 2 == 0
            let h = RecordEncoder.Header(timestampBootNs: 10_000_000_000 + UInt64(i), pid: p.pid, ppid: p.ppid, uid: p.uid, gid: p.gid, comm: p.name)
            let roll = rng.int(100)
            var fd: FDInfo?
            var fdNum: Int32 = -1
            var bytes: [UInt8]
            if i % 512 == 511 {
                // Suspicious: a shell reading /etc/shadow.
                bytes = (try? RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: 5,
                                                     arguments: [("name", "/etc/shadow"), ("flags", "O_RDONLY"), ("dirfd", "-100")])) ?? []
                fd = FDInfo(kind: .file, name: "/etc/shadow", nameRaw: "/etc/shadow")
                fdNum = 5
            } else if roll < 55 {
                let write = rng.int(10) < 2
                let path = write ? rng.pick(writeFiles) : rng.pick(readFiles)
                let flags = write ? rng.pick(writeFlags) : rng.pick(readFlags)
                let type = rng.int(10) < 8 ? "openat" : "open"
                let ret: Int64 = rng.int(20) == 0 ? -2 : Int64(3 + rng.int(60))
                var args: [(name: String, value: String)] = [("name", path), ("flags", flags), ("mode", write ? "0644" : "0")]
                if type == "openat" { args.append(("dirfd", "-100")) }
                bytes = (try? RecordEncoder.syscall(h, type: EventType(name: type)!, ret: ret, arguments: args)) ?? []
                fd = FDInfo(kind: flags.contains("O_DIRECTORY") ? .directory : .file, name: path, nameRaw: path)
                fdNum = ret >= 0 ? Int32(ret) : -1
            } else if roll < 63 {
                let (path, args) = rng.pick(execs)
                var x = RecordEncoder.Exec(exePath: path, argv: [path] + args, cwd: "/srv")
                x.loginUID = p.loginUID
                bytes = RecordEncoder.exec(h, x)
            } else if roll < 73 {
                let port = rng.pick([443, 80, 5432, 6379, 53, 8080, 9090, 27017])
                bytes = (try? RecordEncoder.syscall(h, type: EventType(name: "connect")!, ret: 0, arguments: [("fd", "7")])) ?? []
                fd = FDInfo(kind: .ipv4, name: "10.0.0.5:40000->10.96.0.\(port % 250):\(port)", l4proto: port == 53 ? 17 : 6,
                            clientIP: [10, 0, 0, 5] + [UInt8](repeating: 0, count: 12), clientPort: 40000,
                            serverIP: [10, 96, 0, UInt8(port % 250)] + [UInt8](repeating: 0, count: 12), serverPort: UInt16(port), connected: true)
                fdNum = 7
            } else {
                let other: [(String, [(name: String, value: String)])] = [
                    ("close", [("fd", "5")]), ("close", [("fd", "6")]), ("dup2", [("oldfd", "5"), ("newfd", "9")]),
                    ("socket", [("domain", "AF_INET"), ("type", "SOCK_STREAM"), ("proto", "0")]),
                    ("accept4", [("flags", "0")]), ("unlinkat", [("dirfd", "-100"), ("name", "/tmp/upload-1234"), ("flags", "0")]),
                    ("renameat2", [("olddirfd", "-100"), ("oldpath", "/srv/data/a.tmp"), ("newdirfd", "-100"), ("newpath", "/srv/data/a"), ("flags", "0")]),
                    ("setuid", [("uid", "1000")]), ("fchmodat", [("dirfd", "-100"), ("filename", "/srv/data/run.sh"), ("mode", "0644")]),
                    ("mkdirat", [("dirfd", "-100"), ("path", "/tmp/x"), ("mode", "0700")]), ("clone", []),
                    ("symlinkat", [("target", "/srv/releases/42"), ("linkdirfd", "-100"), ("linkpath", "/srv/current")]),
                ]
                let (t, args) = rng.pick(other)
                bytes = (try? RecordEncoder.syscall(h, type: EventType(name: t)!, ret: t == "socket" ? 9 : 0, arguments: args)) ?? []
                if t == "accept4" {
                    fd = FDInfo(kind: .ipv4, name: "10.0.0.9:51000->10.0.0.5:8080", l4proto: 6,
                                clientIP: [10, 0, 0, 9] + [UInt8](repeating: 0, count: 12), clientPort: 51000,
                                serverIP: [10, 0, 0, 5] + [UInt8](repeating: 0, count: 12), serverPort: 8080, isServerSide: true, connected: true)
                    fdNum = 5
                } else if t == "dup2" {
                    fd = FDInfo(kind: .pipe, name: "pipe:[4026532]")
                    fdNum = 9
                }
            }
            if bytes.isEmpty { continue }
            records.append(bytes)
            meta.append((p, fd, fdNum, inCtr ? ctr : .host))
        }
        let total = records.reduce(0) { $0 + (($1.count + 7) & ~7) }
        storage = .allocate(byteCount: max(total, 8), alignment: 8)
        var off = 0
        for (k, r) in records.enumerated() {
            r.withUnsafeBytes { storage.advanced(by: off).copyMemory(from: $0.baseAddress!, byteCount: r.count) }
            let buf = UnsafeRawBufferPointer(start: storage.advanced(by: off), count: r.count)
            if case .success(let ev) = Event.decode(buf) {
                let (p, fd, n, c) = meta[k]
                contexts.append(EventContext(event: ev, process: p, fd: fd, fdNum: n, container: c, processes: table,
                                             wallTimeNs: 1_750_000_000_000_000_000 + UInt64(k)))
            }
            off += (r.count + 7) & ~7
        }
    }

    deinit { storage.deallocate() }
}
