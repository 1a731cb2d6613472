#if canImport(Glibc)
import Glibc
#endif
import VigilABI
import VigilCore
import VigilDecode
import VigilState
import VigilCore

/// One rule test case (see the rule-test format in rules/README.md):
/// synthetic events and the rules expected to fire or not.
package struct RuleTestCase {
    package var name: String
    package var mark: SourceMark
    /// Events in order (records plus the state each refers to).
    package var events: [SyntheticEvent]
    package var fire: [String]
    package var notFire: [String]
}

/// A synthetic event: record bytes and the state the rules read with it.
package struct SyntheticEvent {
    package var record: OwnedRecord
    package var process: ProcessInfo
    package var processes: ProcessTable
    package var fd: FDInfo?
    package var fdNum: Int32
    package var container: ContainerInfo?
    package var wallTimeNs: UInt64
    /// User/group names given in the test (`user:`), for user.name.
    package var userNames: [UInt32: String]
    package var groupNames: [UInt32: String]

    /// Calls `body` with the event's context.
    package func withContext<R>(_ body: (EventContext) throws -> R) rethrows -> R? {
        let r: Result<R, DecodeError>? = try? record.withEvent { ev in
            try body(EventContext(event: ev, process: process, fd: fd, fdNum: fdNum, container: container,
                                  processes: processes, wallTimeNs: wallTimeNs))
        }
        if case .success(let v)? = r { return v }
        return nil
    }
}

/// The outcome of one test case.
package struct RuleTestResult: Sendable {
    package var name: String
    package var mark: SourceMark
    package var fired: [String]
    /// Expected to fire but did not.
    package var missing: [String]
    /// Expected not to fire but did.
    package var unexpected: [String]
    /// Names in `fire`/`not_fire` that are not rules of the loaded set.
    package var unknownRules: [String]
    package var passed: Bool { missing.isEmpty && unexpected.isEmpty && unknownRules.isEmpty }
}

/// Reads rule-test YAML files and runs them against a ``RuleSet``.
package enum RuleTestRunner {
    /// Loads the test cases of one file (errors name file:line:column).
    package static func load(file: String) -> ([RuleTestCase], [Diagnostic]) {
        let bytes: [UInt8]
        do { bytes = try FileReader.read(file) } catch {
            return ([], [Diagnostic(.error, SourceMark(file: file, line: 0, column: 0), item: nil, "cannot read test file: \(error.message)")])
        }
        return load(text: bytes, file: file)
    }

    /// Loads test cases from YAML text.
    package static func load(text: [UInt8], file: String) -> ([RuleTestCase], [Diagnostic]) {
        var diags: [Diagnostic] = []
        let docs: [YAMLNode]
        do { docs = try YAMLDocumentParser.parse(text, file: file) } catch {
            return ([], [Diagnostic(.error, error.mark, item: nil, error.message)])
        }
        var cases: [RuleTestCase] = []
        var names = Set<String>()
        for doc in docs {
            guard let tests = doc["tests"]?.sequence else {
                diags.append(Diagnostic(.error, doc.mark, item: nil, "a rule-test file must be a mapping with a 'tests' list"))
                continue
            }
            for t in tests {
                var b = CaseBuilder(file: file)
                if let c = b.build(t) {
                    if names.contains(c.name) {
                        diags.append(Diagnostic(.error, t.mark, item: "test '\(c.name)'", "duplicate test name"))
                    } else { names.insert(c.name); cases.append(c) }
                }
                diags += b.diags
            }
        }
        return (cases, diags)
    }

    /// Expands test paths (files, or directories of `*.yaml`/`*.yml`).
    package static func files(_ paths: [String]) -> ([String], [Diagnostic]) { RuleLoader.expand(paths: paths) }

    /// Runs one case: every event is evaluated against all enabled rules (rule_matching is ignored).
    package static func run(_ c: RuleTestCase, rules: RuleSet, scratch: RuleScratch) -> RuleTestResult {
        var fired: [String] = []
        for e in c.events {
            for (k, v) in e.userNames { scratch.userNames[k] = v }
            for (k, v) in e.groupNames { scratch.groupNames[k] = v }
            _ = e.withContext { ctx in
                scratch.begin()
                for k in rules.candidates(for: ctx.event.type) where rules.matches(rule: k, ctx, scratch: scratch, newEvent: false) {
                    // Render the alert too, so output templates are exercised.
                    _ = rules.alert(rule: k, ctx, scratch: scratch)
                    if !fired.contains(rules.rules[k].name) { fired.append(rules.rules[k].name) }
                }
            }
        }
        let known = Set(rules.rules.map(\.name))
        let unknown = (c.fire + c.notFire).filter { !known.contains($0) }
        return RuleTestResult(name: c.name, mark: c.mark, fired: fired,
                              missing: c.fire.filter { known.contains($0) && !fired.contains($0) },
                              unexpected: c.notFire.filter { fired.contains($0) }, unknownRules: unknown)
    }
}

/// Builds one test case from its YAML node.
struct CaseBuilder {
    let file: String
    var diags: [Diagnostic] = []
    var item = ""
    var autoPid: UInt32 = 4242

    init(file: String) { self.file = file }

    mutating func err(_ n: YAMLNode, _ m: String) { diags.append(Diagnostic(.error, n.mark, item: item.isEmpty ? nil : item, m)) }

    func str(_ n: YAMLNode?) -> String? { n?.scalar }

    mutating func int(_ n: YAMLNode?, _ what: String) -> Int64? {
        guard let n else { return nil }
        guard let s = n.scalar, let v = Int64(s) ?? (s.hasPrefix("0x") ? Int64(s.dropFirst(2), radix: 16) : nil) else {
            err(n, "'\(what)' must be an integer"); return nil
        }
        return v
    }

    mutating func bool(_ n: YAMLNode?, _ what: String) -> Bool? {
        guard let n else { return nil }
        guard let b = n.bool else { err(n, "'\(what)' must be true or false"); return nil }
        return b
    }

    mutating func checkKeys(_ n: YAMLNode, _ allowed: Set<String>, _ what: String) {
        for (k, _) in n.mapping ?? [] where !allowed.contains(k.scalar ?? "") {
            err(k, "unknown key '\(k.scalar ?? "?")' in \(what) (known: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    mutating func build(_ t: YAMLNode) -> RuleTestCase? {
        guard t.mapping != nil else { err(t, "each test must be a mapping"); return nil }
        guard let name = t["name"]?.scalar, !name.isEmpty else { err(t, "test is missing 'name'"); return nil }
        item = "test '\(name)'"
        checkKeys(t, ["name", "event", "events", "expect", "desc"], "a test")
        var evNodes: [YAMLNode] = []
        if let e = t["event"] { evNodes.append(e) }
        if let es = t["events"] {
            guard let l = es.sequence else { err(es, "'events' must be a list"); return nil }
            evNodes += l
        }
        if evNodes.isEmpty { err(t, "test needs 'event' or 'events'"); return nil }
        guard let exp = t["expect"], exp.mapping != nil else { err(t, "test needs 'expect' with 'fire' and/or 'not_fire'"); return nil }
        checkKeys(exp, ["fire", "not_fire"], "expect")
        func names(_ k: String) -> [String]? {
            guard let n = exp[k] else { return [] }
            if let s = n.scalar { return [s] }
            guard let l = n.sequence, l.allSatisfy({ $0.scalar != nil }) else { err(n, "'\(k)' must be a list of rule names"); return nil }
            return l.map { $0.scalar! }
        }
        guard let fire = names("fire"), let notFire = names("not_fire") else { return nil }
        if fire.isEmpty && notFire.isEmpty { err(exp, "'expect' names no rule ('fire' or 'not_fire')") }
        let before = diags.count
        var events: [SyntheticEvent] = []
        for (k, e) in evNodes.enumerated() {
            if let ev = buildEvent(e, index: k) { events.append(ev) }
        }
        guard diags.count == before else { return nil }
        return RuleTestCase(name: name, mark: t.mark, events: events, fire: fire, notFire: notFire)
    }

    static let processKeys: Set<String> = ["pid", "ppid", "exepath", "name", "exe", "args", "cwd", "uid", "user", "gid", "group",
                                           "euid", "egid", "loginuid", "tty", "cap_effective", "cap_permitted", "is_exe_upper_layer",
                                           "is_exe_from_memfd", "is_exe_writable", "is_exe_32bit", "parents", "sid", "pgid", "vpid", "start_ns", "duration_ns",
                                           "exe_ino", "exe_ino_ctime", "exe_ino_mtime", "env", "env_truncated"]

    struct Names { var users: [UInt32: String] = [:]; var groups: [UInt32: String] = [:] }

    mutating func caps(_ n: YAMLNode?) -> UInt64? {
        guard let n else { return nil }
        if let s = n.scalar {
            if let v = UInt64(s) ?? (s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : nil) { return v }
            return capMask(s.split(whereSeparator: { $0 == " " || $0 == "|" || $0 == "," }).map(String.init), n)
        }
        guard let l = n.sequence else { err(n, "capabilities must be a list of CAP_ names or an integer mask"); return nil }
        return capMask(l.compactMap(\.scalar), n)
    }

    mutating func capMask(_ names: [String], _ n: YAMLNode) -> UInt64? {
        var m: UInt64 = 0
        for c in names {
            let name = c.uppercased().hasPrefix("CAP_") ? c.uppercased() : "CAP_" + c.uppercased()
            guard let i = Capabilities.names.firstIndex(of: name) else { err(n, "unknown capability '\(c)'"); return nil }
            m |= 1 << UInt64(i)
        }
        return m
    }

    mutating func process(_ n: YAMLNode, defaultPid: UInt32, names: inout Names, startNs: UInt64) -> ProcessInfo? {
        guard n.mapping != nil else { err(n, "a process must be a mapping"); return nil }
        checkKeys(n, CaseBuilder.processKeys, "process")
        let exepath = str(n["exepath"]) ?? ""
        var base = exepath
        if let slash = base.lastIndex(of: "/") { base = String(base[base.index(after: slash)...]) }
        let name = str(n["name"]) ?? String(base.utf8.prefix(15))!
        var args: [String] = []
        if let a = n["args"] {
            if let l = a.sequence { args = l.compactMap(\.scalar) }
            else if let s = a.scalar { args = s.split(separator: " ").map(String.init) }
        }
        let pid = UInt32(truncatingIfNeeded: int(n["pid"], "pid") ?? Int64(defaultPid))
        let uid = UInt32(truncatingIfNeeded: int(n["uid"], "uid") ?? 0)
        let gid = UInt32(truncatingIfNeeded: int(n["gid"], "gid") ?? 0)
        let login = int(n["loginuid"], "loginuid") ?? -1
        if let u = str(n["user"]) { names.users[uid] = u }
        if let g = str(n["group"]) { names.groups[gid] = g }
        var cwd = str(n["cwd"]) ?? "/"
        if !cwd.hasSuffix("/") { cwd += "/" }
        let p = ProcessInfo(pid: pid, ppid: 0, name: name, exe: str(n["exe"]) ?? exepath, exePath: exepath, args: args, cwd: cwd,
                            uid: uid, gid: gid, euid: UInt32(truncatingIfNeeded: int(n["euid"], "euid") ?? Int64(uid)),
                            egid: UInt32(truncatingIfNeeded: int(n["egid"], "egid") ?? Int64(gid)),
                            loginUID: login < 0 ? .max : UInt32(truncatingIfNeeded: login),
                            tty: UInt32(truncatingIfNeeded: int(n["tty"], "tty") ?? 0),
                            capEffective: caps(n["cap_effective"]) ?? 0, capPermitted: caps(n["cap_permitted"]) ?? 0,
                            startTimeBootNs: UInt64(int(n["start_ns"], "start_ns") ?? Int64(startNs)),
                            exeIno: UInt64(int(n["exe_ino"], "exe_ino") ?? 0),
                            exeCtimeNs: UInt64(int(n["exe_ino_ctime"], "exe_ino_ctime") ?? 0),
                            exeMtimeNs: UInt64(int(n["exe_ino_mtime"], "exe_ino_mtime") ?? 0),
                            exeUpperLayer: bool(n["is_exe_upper_layer"], "is_exe_upper_layer") ?? false,
                            exeFromMemfd: bool(n["is_exe_from_memfd"], "is_exe_from_memfd") ?? false,
                            pgid: UInt32(truncatingIfNeeded: int(n["pgid"], "pgid") ?? Int64(pid)),
                            sid: UInt32(truncatingIfNeeded: int(n["sid"], "sid") ?? 0),
                            vpid: UInt32(truncatingIfNeeded: int(n["vpid"], "vpid") ?? 0))
        if let d = int(n["duration_ns"], "duration_ns") { p.startTimeBootNs = startNs > UInt64(d) ? startNs - UInt64(d) : 1 }
        p.exeIA32 = bool(n["is_exe_32bit"], "is_exe_32bit") ?? false
        // env: a list of NAME=value entries or a mapping (the environment captured at exec).
        if let en = n["env"] {
            var entries: [String] = []
            if let l = en.sequence { entries = l.compactMap(\.scalar) }
            else if let m = en.mapping { for (k, v) in m { if let a = k.scalar { entries.append(a + "=" + (v.scalar ?? "")) } } }
            else { err(en, "'env' must be a list of NAME=value entries or a mapping") }
            p.envBlock = entries.joined(separator: "\0")
            p.envCaptured = true
            p.envTruncated = bool(n["env_truncated"], "env_truncated") ?? false
        }
        return p
    }

    static let eventKeys: Set<String> = ["type", "res", "args", "process", "fd", "container", "pod", "time_ns", "compat", "io_uring"]

    mutating func buildEvent(_ e: YAMLNode, index: Int) -> SyntheticEvent? {
        guard e.mapping != nil else { err(e, "an event must be a mapping"); return nil }
        checkKeys(e, CaseBuilder.eventKeys, "event")
        guard let tn = e["type"] else { err(e, "event is missing 'type'"); return nil }
        guard let typeName = tn.scalar, let type = EventType(name: typeName) else {
            err(tn, "unknown event type '\(tn.scalar ?? "?")'"); return nil
        }
        let res = int(e["res"], "res") ?? 0
        let bootNs: UInt64 = 1_000_000_000_000 + UInt64(index) * 1_000
        let wallNs: UInt64 = UInt64(int(e["time_ns"], "time_ns") ?? 1_750_000_000_000_000_000) + UInt64(index) * 1_000
        var names = Names()
        // The state the rules read comes from a real ProcessTable fed encoded records, as live:
        // an exec record per process (outermost ancestor first), records that open the event's
        // fd, then the event's own record.
        let table = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
        var stateTs = bootNs - 1_000_000
        let procNode = e["process"]
        guard let proc = procNode.map({ process($0, defaultPid: 4242, names: &names, startNs: bootNs - 5_000_000_000) })
                ?? ProcessInfo(pid: 4242, ppid: 0, name: "", startTimeBootNs: bootNs - 5_000_000_000) else { return nil }
        let exeWritable = bool(procNode?["is_exe_writable"], "is_exe_writable") == true
        // Ancestry: nearest parent first.
        var lineage = [proc]
        var nextPid = proc.pid > 100 ? proc.pid - 1 : 1000
        if let parents = procNode?["parents"] {
            guard let l = parents.sequence else { err(parents, "'parents' must be a list of processes"); return nil }
            for pn in l {
                guard let p = process(pn, defaultPid: nextPid, names: &names, startNs: bootNs - 60_000_000_000) else { return nil }
                if pn["parents"] != nil { err(pn, "'parents' is only allowed on the event's process") }
                lineage[lineage.count - 1].ppid = p.pid
                lineage.append(p)
                nextPid = p.pid > 2 ? p.pid - 1 : 1
            }
        }
        if let pp = procNode?["ppid"], let v = int(pp, "ppid"), proc.ppid == 0 { proc.ppid = UInt32(truncatingIfNeeded: v) }
        let isExec = type.name == "execve" || type.name == "execveat"
        func apply(_ bytes: [UInt8]) -> ProcessTable.ApplyResult? {
            try? OwnedRecord(bytes: bytes).withEvent { table.apply($0) }.get()
        }
        for (k, p) in lineage.enumerated().reversed() where k > 0 || !(isExec && res >= 0) {
            stateTs += 1_000
            _ = apply(Self.execRecord(p, type: EventType(name: "execve")!, ts: stateTs, exeWritable: k == 0 && exeWritable))
        }

        // Arguments.
        var args: [(name: String, value: String)] = []
        if let a = e["args"] {
            guard let m = a.mapping else { err(a, "'args' must be a mapping of argument name to value"); return nil }
            for (k, v) in m {
                guard let key = k.scalar else { continue }
                if let s = v.scalar { args.append((key, s)) }
                else if let l = v.sequence { args.append((key, l.compactMap(\.scalar).joined(separator: "|"))) }
                else { err(v, "argument '\(key)' must be a scalar") }
            }
        }
        let h = RecordEncoder.Header(timestampBootNs: bootNs, pid: proc.pid, tid: proc.pid, ppid: proc.ppid, uid: proc.uid,
                                     gid: proc.gid, comm: proc.name)
        var bytes: [UInt8]
        if isExec && res >= 0 {
            for (k, _) in args where k != "flags" {
                err(e["args"]!, "exec events take their values from 'process' (argument '\(k)' given)"); return nil
            }
            bytes = Self.execRecord(proc, type: type, ts: bootNs, exeWritable: exeWritable)
        } else if type == .procexit {
            bytes = RecordEncoder.exit(h, code: Int32(truncatingIfNeeded: res))
        } else {
            do { bytes = try RecordEncoder.syscall(h, type: type, ret: res, arguments: args) } catch {
                err(e["args"] ?? e, "\(error)"); return nil
            }
        }

        // Header flags: a 32-bit syscall, an io_uring operation.
        var hflags: UInt16 = 0
        if bool(e["compat"], "compat") == true { hflags |= UInt16(VIGIL_HF_COMPAT) }
        if bool(e["io_uring"], "io_uring") == true { hflags |= UInt16(VIGIL_HF_IO_URING) }
        if hflags != 0 && bytes.count >= 4 {
            let f = (UInt16(bytes[2]) | UInt16(bytes[3]) << 8) | hflags
            bytes[2] = UInt8(f & 0xff); bytes[3] = UInt8(f >> 8)
        }

        // The event's fd: opened through records before the event where a record can say it.
        var given: (FDInfo, Int32)?
        var givenNum: Int32?
        if let fn = e["fd"] {
            guard let g = buildFD(fn) else { return nil }
            given = g
            givenNum = g.1
            let (f, num) = g
            let fh = RecordEncoder.Header(timestampBootNs: stateTs + 1_000, pid: proc.pid, tid: proc.pid, ppid: proc.ppid,
                                          uid: proc.uid, gid: proc.gid, comm: proc.name)
            if let opener = Self.fdRecord(f, num: num, fn, fh) {
                if let opened = apply(opener), opened.fd != nil { given = nil }
            }
        }
        guard let applied = apply(bytes) else { err(e, "the event's record does not decode"); return nil }
        var fd = applied.fd
        var fdNum = applied.fdNum
        let live = table.processes[proc.pid] ?? applied.process
        if let (f, num) = given {
            // Kinds no record can open (pipes, eventfds, explicit names): placed in the table as given.
            live?.fds[num] = f
            fd = f; fdNum = num
        } else if fd == nil, let n = givenNum, let f = live?.fds[n] {
            fd = f; fdNum = n
        }
        guard let state = applied.process ?? live else { err(e, "the event has no process"); return nil }

        // Container and pod.
        var container: ContainerInfo?
        var pod: PodInfo?
        if let pn = e["pod"] {
            checkKeys(pn, ["name", "namespace", "uid", "labels", "annotations", "sa", "node", "workload_kind", "workload_name"], "pod")
            var labels: [String: String] = [:]
            for (k, v) in pn["labels"]?.mapping ?? [] { if let a = k.scalar, let b = v.scalar { labels[a] = b } }
            var ann: [String: String] = [:]
            for (k, v) in pn["annotations"]?.mapping ?? [] { if let a = k.scalar, let b = v.scalar { ann[a] = b } }
            pod = PodInfo(name: str(pn["name"]) ?? "pod", namespace: str(pn["namespace"]) ?? "default", uid: str(pn["uid"]) ?? "",
                          labels: labels, annotations: ann, serviceAccount: str(pn["sa"]), nodeName: str(pn["node"]),
                          workloadKind: str(pn["workload_kind"]), workloadName: str(pn["workload_name"]))
        }
        if let cn = e["container"] {
            checkKeys(cn, ["id", "name", "image", "repository", "tag", "digest", "privileged", "runtime", "start_ns", "mounts"], "container")
            // mounts: a list of {source, dest, mode, rw, propagation} (the bundle's bind mounts).
            var mounts: [ContainerMount] = []
            for m in cn["mounts"]?.sequence ?? [] {
                checkKeys(m, ["source", "dest", "mode", "rw", "propagation"], "mount")
                mounts.append(ContainerMount(source: str(m["source"]) ?? "", destination: str(m["dest"]) ?? "", mode: str(m["mode"]) ?? "",
                                             readWrite: bool(m["rw"], "rw") ?? true, propagation: str(m["propagation"]) ?? ""))
            }
            let full = str(cn["id"]) ?? "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            container = ContainerInfo(id: String(full.prefix(12)), fullID: full, runtime: str(cn["runtime"]) ?? "containerd",
                                      name: str(cn["name"]), image: str(cn["image"]), imageRepository: str(cn["repository"]),
                                      imageTag: str(cn["tag"]), imageDigest: str(cn["digest"]),
                                      startTimeNs: int(cn["start_ns"], "start_ns").map { UInt64($0) } ?? (wallNs - 3_600_000_000_000),
                                      privileged: bool(cn["privileged"], "privileged") ?? false, podUID: pod?.uid, pod: pod,
                                      mounts: mounts)
        } else if let pod {
            container = ContainerInfo(id: "0123456789ab", fullID: "0123456789abcdef", runtime: "containerd", podUID: pod.uid, pod: pod)
        } else {
            container = .host
        }
        return SyntheticEvent(record: OwnedRecord(bytes: bytes), process: state, processes: table, fd: fd, fdNum: fdNum,
                              container: container, wallTimeNs: wallNs, userNames: names.users, groupNames: names.groups)
    }

    /// The exec record that gives a process its state in the table (what the kernel sends).
    static func execRecord(_ p: ProcessInfo, type: EventType, ts: UInt64, exeWritable: Bool) -> [UInt8] {
        let h = RecordEncoder.Header(timestampBootNs: ts, pid: p.pid, tid: p.pid, ppid: p.ppid, uid: p.uid, gid: p.gid, comm: p.name)
        var flags: UInt32 = 0
        if p.exeUpperLayer { flags |= UInt32(VIGIL_EXE_UPPER_LAYER) }
        if p.exeFromMemfd { flags |= UInt32(VIGIL_EXE_FROM_MEMFD) }
        if exeWritable { flags |= UInt32(VIGIL_EXE_WRITABLE) }
        if p.exeIA32 { flags |= UInt32(VIGIL_EXE_IA32) }
        var x = RecordEncoder.Exec(type: type, exePath: p.exePath, argv: [p.exe] + p.args, cwd: p.cwd)
        x.exeFlags = flags; x.loginUID = p.loginUID; x.tty = p.tty; x.euid = p.euid; x.egid = p.egid
        x.capEffective = p.capEffective; x.capPermitted = p.capPermitted; x.exeIno = p.exeIno
        x.exeCtimeNs = p.exeCtimeNs; x.exeMtimeNs = p.exeMtimeNs; x.startTimeBootNs = p.startTimeBootNs
        x.pgid = p.pgid; x.sid = p.sid; x.vpid = p.vpid
        if p.envCaptured {
            x.env = p.env
            if p.envTruncated { x.exeFlags |= UInt32(VIGIL_EXE_ENV_TRUNCATED) }
        }
        return RecordEncoder.exec(h, x)
    }

    /// A record that opens `f` as fd `num` the way the process would (openat for files and
    /// directories, connect or accept4 for inet sockets); nil where none can (explicit names,
    /// pipes, eventfds...): those are placed in the table as given.
    static func fdRecord(_ f: FDInfo, num: Int32, _ n: YAMLNode, _ h: RecordEncoder.Header) -> [UInt8]? {
        switch f.kind {
        case .file, .directory:
            guard !f.nameRaw.isEmpty, n["nameraw"] == nil else { return nil }
            let flags: UInt64 = f.kind == .directory ? UInt64(LinuxConstants.O_DIRECTORY) : 0
            return RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: Int64(num),
                                         args: [UInt64(bitPattern: Int64(LinuxConstants.atFDCWD)), 0, flags], str0: f.nameRaw)
        case .ipv4, .ipv6:
            guard n["name"] == nil, f.connected,
                  let cip = IPAddress(bytes: f.kind == .ipv4 ? Array(f.clientIP.prefix(4)) : f.clientIP),
                  let sip = IPAddress(bytes: f.kind == .ipv4 ? Array(f.serverIP.prefix(4)) : f.serverIP) else { return nil }
            let family = f.kind == .ipv4 ? LinuxConstants.AF_INET : LinuxConstants.AF_INET6
            let client = (cip, f.clientPort), server = (sip, f.serverPort)
            if f.isServerSide {
                let t = SocketTuple.encode(family: family, l4proto: f.l4proto, local: server, remote: client)
                return RecordEncoder.syscall(h, type: EventType(name: "accept4")!, ret: Int64(num), args: [0, 0, 0, 0], tuple: t)
            }
            let t = SocketTuple.encode(family: family, l4proto: f.l4proto, local: client, remote: server)
            return RecordEncoder.syscall(h, type: EventType(name: "connect")!, ret: 0, args: [UInt64(num)], tuple: t)
        default:
            return nil
        }
    }

    static let kinds: [String: FDInfo.Kind] = [
        "file": .file, "directory": .directory, "ipv4": .ipv4, "ipv6": .ipv6, "unix": .unix, "pipe": .pipe, "event": .event,
        "signalfd": .signalfd, "eventpoll": .eventpoll, "inotify": .inotify, "timerfd": .timerfd, "netlink": .netlink,
        "bpf": .bpf, "memfd": .memfd, "userfaultfd": .userfaultfd, "unknown": .unknown,
    ]

    mutating func buildFD(_ n: YAMLNode) -> (FDInfo, Int32)? {
        guard n.mapping != nil else { err(n, "'fd' must be a mapping"); return nil }
        checkKeys(n, ["num", "type", "name", "nameraw", "l4proto", "cip", "cport", "sip", "sport", "server", "connected",
                      "ino", "dev", "nlink"], "fd")
        let num = Int32(truncatingIfNeeded: int(n["num"], "num") ?? 3)
        let cip = str(n["cip"]), sip = str(n["sip"])
        var kindName = str(n["type"])
        if kindName == nil { kindName = (cip ?? sip).map { $0.contains(":") ? "ipv6" : "ipv4" } ?? "file" }
        guard let kind = CaseBuilder.kinds[kindName!] else {
            err(n["type"] ?? n, "unknown fd type '\(kindName!)' (\(CaseBuilder.kinds.keys.sorted().joined(separator: ", ")))"); return nil
        }
        if kind == .ipv4 || kind == .ipv6 {
            func ip(_ s: String?, _ key: String) -> [UInt8]? {
                guard let s else { return [UInt8](repeating: 0, count: 16) }
                guard let m = IPMatch.parse(s, network: false) else { err(n[key]!, "invalid IP address '\(s)'"); return nil }
                return m.bytes + [UInt8](repeating: 0, count: 16 - m.bytes.count)
            }
            guard let c = ip(cip, "cip"), let sv = ip(sip, "sip") else { return nil }
            let cport = UInt16(truncatingIfNeeded: int(n["cport"], "cport") ?? 40000)
            let sport = UInt16(truncatingIfNeeded: int(n["sport"], "sport") ?? 0)
            var proto: UInt8 = 6
            if let p = str(n["l4proto"]) {
                switch p { case "tcp": proto = 6; case "udp": proto = 17; case "icmp": proto = 1; case "raw": proto = 255
                default: err(n["l4proto"]!, "l4proto must be tcp, udp, icmp or raw"); return nil }
            }
            let family = kind == .ipv6 ? LinuxConstants.AF_INET6 : LinuxConstants.AF_INET
            let name = str(n["name"]) ?? IPAddress.endpointsText(
                client: (IPAddress(bytes: Array(c.prefix(kind == .ipv6 ? 16 : 4))) ?? IPAddress(family: family, storage: (0, 0)), cport),
                server: (IPAddress(bytes: Array(sv.prefix(kind == .ipv6 ? 16 : 4))) ?? IPAddress(family: family, storage: (0, 0)), sport))
            return (FDInfo(kind: kind, name: name, flags: 0, l4proto: proto, clientIP: c, clientPort: cport, serverIP: sv,
                           serverPort: sport, isServerSide: bool(n["server"], "server") ?? false,
                           connected: bool(n["connected"], "connected") ?? true), num)
        }
        let name = str(n["name"]) ?? ""
        let raw = str(n["nameraw"]) ?? name
        var info = FDInfo(kind: kind, name: name, nameRaw: raw)
        info.ino = UInt64(truncatingIfNeeded: int(n["ino"], "ino") ?? 0)
        info.dev = UInt32(truncatingIfNeeded: int(n["dev"], "dev") ?? 0)
        info.nlink = UInt32(truncatingIfNeeded: int(n["nlink"], "nlink") ?? 0)
        return (info, num)
    }
}
