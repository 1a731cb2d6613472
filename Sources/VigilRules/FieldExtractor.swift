#if canImport(Glibc)
import Glibc
#endif
import VigilABI
import VigilCore
import VigilDecode
import VigilState

/// A field reference resolved against the catalog, ready to extract. Plain
/// data (pointers into the rule set's permanent store), so the matcher copies
/// it without reference counting.
struct FieldSpec: @unchecked Sendable {
    let id: FieldID
    let type: FieldType
    /// Ancestor level (`proc.aname[N]`), `evt.arg[N]` index; -1 when none.
    let index: Int
    /// Cache slot (-1: not cached).
    var slot: Int
    /// `k8s.pod.label[KEY]` key bytes.
    let key: UnsafePointer<UInt8>?
    let keyLen: Int
    /// For `evt.arg.NAME`: the argument's index per event type (-1 when the type has no such argument).
    let argTable: UnsafePointer<Int8>?
    /// Transformer codes (index in `Transformer.allCases` + 1), outermost first; 0 = none.
    let t0: UInt8, t1: UInt8, t2: UInt8

    init(id: FieldID, type: FieldType, index: Int = -1, slot: Int = -1, key: UnsafePointer<UInt8>? = nil, keyLen: Int = 0,
         argTable: UnsafePointer<Int8>? = nil, transformers: [Transformer] = []) {
        self.id = id; self.type = type; self.index = index; self.slot = slot; self.key = key; self.keyLen = keyLen
        self.argTable = argTable
        let codes = transformers.map { UInt8(Transformer.allCases.firstIndex(of: $0)! + 1) }
        t0 = codes.count > 0 ? codes[0] : 0
        t1 = codes.count > 1 ? codes[1] : 0
        t2 = codes.count > 2 ? codes[2] : 0
    }

    static let none = FieldSpec(id: .unsupported, type: .string)

    @inline(__always) var hasTransformers: Bool { t0 != 0 }
    /// Transformers, innermost first (application order).
    var transformers: [Transformer] {
        [t2, t1, t0].filter { $0 != 0 }.map { Transformer.allCases[Int($0) - 1] }
    }
    var outermost: Transformer? { t0 == 0 ? nil : Transformer.allCases[Int(t0) - 1] }
    /// The value type after transformers.
    var resultType: FieldType { outermost == .len ? .int64 : (outermost == nil ? type : .string) }
}

/// Extracts field values from an ``EventContext``. All strings go to the
/// scratch arena; nothing is allocated on the heap once the arena is warm.
enum FieldExtractor {
    /// The value of `f` for the current event, cached per event in `s`.
    @inline(__always)
    static func value(_ f: FieldSpec, _ ctx: UnsafePointer<EventContext>, _ s: RuleScratch) -> FV {
        withUnsafePointer(to: f) { value($0, ctx, s) }
    }

    /// ``value(_:_:_:)`` for a spec read in place (a check's, in the permanent store).
    @inline(__always)
    static func value(_ f: UnsafePointer<FieldSpec>, _ ctx: UnsafePointer<EventContext>, _ s: RuleScratch) -> FV {
        let slot = s.slots + f.pointee.slot
        if slot.pointee.gen == s.gen { return slot.pointee.value }
        s.fieldsExtracted &+= 1
        var v: FV
        // The record's flags most open rules start with, without the call into ``extract``
        // (a large function: its prologue costs more than these reads).
        switch f.pointee.id {
        case .evtIsOpenRead: v = .bool(ctx.pointee.event.isOpenRead)
        case .evtIsOpenWrite: v = .bool(ctx.pointee.event.isOpenWrite)
        case .evtRawres: v = .int(ctx.pointee.event.ret)
        case .evtIsCompat: v = .bool(ctx.pointee.event.isCompat)
        case .fdNlink:  // as ``extract`` gives it (tested with every open's trace)
            if let fd = fdPointer(ctx, s), fd.pointee.ino != 0 { v = .int(Int64(fd.pointee.nlink)) } else { v = .unset }
        default: v = extract(f.pointee, level: f.pointee.index, ctx, s)
        }
        if f.pointee.hasTransformers { v = transform(v, f.pointee, s) }
        slot.pointee = RuleScratch.Slot(gen: s.gen, value: v)
        return v
    }

    static func transform(_ v0: FV, _ f: FieldSpec, _ s: RuleScratch) -> FV {
        var v = v0
        for code in [f.t2, f.t1, f.t0] where code != 0 {
            let t = Transformer.allCases[Int(code) - 1]
            guard v.isSet else { return v }
            if v.kind != .str { v = render(v, s) }
            let b = v.bytes
            switch t {
            case .tolower, .toupper:
                var w = ArenaWriter(s.arena, max: b.count)
                for c in b {
                    if t == .tolower { w.put(c >= 65 && c <= 90 ? c + 32 : c) } else { w.put(c >= 97 && c <= 122 ? c - 32 : c) }
                }
                v = w.value
            case .basename:
                var k = b.count
                while k > 0 && b[k - 1] != 47 { k -= 1 }
                v = .str(b.baseAddress.map { $0 + k }, b.count - k)
            case .len:
                v = .int(Int64(b.count))
            case .b64:
                v = base64Decode(b, s) ?? .unset
            }
        }
        return v
    }

    static func base64Decode(_ b: UnsafeBufferPointer<UInt8>, _ s: RuleScratch) -> FV? {
        func val(_ c: UInt8) -> UInt32? {
            switch c {
            case 65...90: UInt32(c - 65)
            case 97...122: UInt32(c - 71)
            case 48...57: UInt32(c + 4)
            case 43, 45: 62
            case 47, 95: 63
            default: nil
            }
        }
        var w = ArenaWriter(s.arena, max: b.count)
        var acc: UInt32 = 0, bits = 0
        for c in b {
            if c == 61 || c == 10 || c == 13 { continue }
            guard let x = val(c) else { return nil }
            acc = acc << 6 | x; bits += 6
            if bits >= 8 { bits -= 8; w.put(UInt8((acc >> UInt32(bits)) & 0xff)) }
        }
        return w.value
    }

    /// Renders a non-string value as text in the arena.
    static func render(_ v: FV, _ s: RuleScratch) -> FV {
        switch v.kind {
        case .str, .unset: return v
        case .int: var w = ArenaWriter(s.arena, max: 24); w.putInt(v.i); return w.value
        case .bool: var w = ArenaWriter(s.arena, max: 5); if v.i != 0 { w.putStatic("true") } else { w.putStatic("false") }; return w.value
        case .ip: var w = ArenaWriter(s.arena, max: 48); w.putIP(v.bytes, v6: v.len == 16); return w.value
        }
    }

    // MARK: processes

    @inline(__always) static func ancestor(_ ctx: UnsafePointer<EventContext>, _ level: Int) -> ProcessInfo? {
        guard var p = ctx.pointee.process else { return nil }
        var k = level
        while k > 0 {
            guard let q = ctx.pointee.processes.parent(of: p) else { return nil }
            p = q; k -= 1
        }
        return p
    }

    static func cmdline(_ p: ProcessInfo, _ s: RuleScratch) -> FV {
        var n = p.name.utf8.count
        for a in p.args { n += a.utf8.count + 1 }
        var w = ArenaWriter(s.arena, max: n)
        w.put(p.name)
        for a in p.args { w.put(32); w.put(a) }
        return w.value
    }

    static func args(_ p: ProcessInfo, _ s: RuleScratch) -> FV {
        var n = 0
        for a in p.args { n += a.utf8.count + 1 }
        var w = ArenaWriter(s.arena, max: n)
        for (k, a) in p.args.enumerated() { if k > 0 { w.put(32) }; w.put(a) }
        return w.value
    }

    static func capNames(_ mask: UInt64, _ s: RuleScratch) -> FV {
        var w = ArenaWriter(s.arena, max: 1024)
        var first = true
        for (bit, name) in Capabilities.names.enumerated() where mask & (1 << UInt64(bit)) != 0 {
            if !first { w.put(32) }
            first = false
            w.put(name)
        }
        return w.value
    }

    // MARK: extraction

    static func extract(_ f: FieldSpec, level: Int, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch) -> FV {
        let ev = cp.pointee.event
        var proc: ProcessInfo? { cp.pointee.process }  // read only by the cases that need it
        switch f.id {
        // proc
        case .procPid: return .int(Int64(proc?.pid ?? ev.pid))
        case .procPpid: return proc.map { .int(Int64($0.ppid)) } ?? .int(Int64(ev.ppid))
        case .procName:
            if let p = proc { return s.arena.copy(p.name) }
            return s.arena.copy(ev.comm)
        case .procExe: return proc.map { s.arena.copy($0.exe) } ?? .unset
        case .procExepath: return proc.map { s.arena.copy($0.exePath) } ?? .unset
        case .procArgs: return proc.map { args($0, s) } ?? .unset
        case .procCmdline: return proc.map { s.cmdlineMemo.value($0, s) } ?? .unset
        case .procCmdnargs: return proc.map { .int(Int64($0.args.count)) } ?? .unset
        case .procCmdlenargs: return proc.map { p in .int(Int64(p.args.reduce(0) { $0 + $1.utf8.count })) } ?? .unset
        case .procPname: return ancestor(cp, 1).map { s.arena.copy($0.name) } ?? .unset
        case .procPexe: return ancestor(cp, 1).map { s.arena.copy($0.exe) } ?? .unset
        case .procPexepath: return ancestor(cp, 1).map { s.arena.copy($0.exePath) } ?? .unset
        case .procPcmdline: return ancestor(cp, 1).map { cmdline($0, s) } ?? .unset
        case .procAname: return ancestor(cp, level).map { s.arena.copy($0.name) } ?? .unset
        case .procApid: return ancestor(cp, level).map { .int(Int64($0.pid)) } ?? .unset
        case .procAexe: return ancestor(cp, level).map { s.arena.copy($0.exe) } ?? .unset
        case .procAexepath: return ancestor(cp, level).map { s.arena.copy($0.exePath) } ?? .unset
        case .procAcmdline: return ancestor(cp, level).map { cmdline($0, s) } ?? .unset
        case .procCwd:
            guard let p = proc, !p.cwd.isEmpty else { return .unset }
            return s.arena.copy(p.cwd)
        case .procTty: return proc.map { .int(Int64($0.tty)) } ?? .unset
        case .procDuration:
            guard let p = proc, p.startTimeBootNs > 0, ev.timestampBootNs >= p.startTimeBootNs else { return .unset }
            return .int(Int64(ev.timestampBootNs - p.startTimeBootNs))
        case .procPpidDuration:
            guard let p = ancestor(cp, 1), p.startTimeBootNs > 0, ev.timestampBootNs >= p.startTimeBootNs else { return .unset }
            return .int(Int64(ev.timestampBootNs - p.startTimeBootNs))
        case .procStartTs: return proc.map { .int(Int64($0.startTimeBootNs)) } ?? .unset
        case .procSname:
            guard let p = proc else { return .unset }
            return cp.pointee.processes[p.sid].map { s.arena.copy($0.name) } ?? .unset
        case .procSid: return proc.map { .int(Int64($0.sid)) } ?? .unset
        case .procVpgid: return proc.map { .int(Int64($0.pgid)) } ?? .unset
        case .procVpgidName:
            guard let p = proc else { return .unset }
            return cp.pointee.processes[p.pgid].map { s.arena.copy($0.name) } ?? .unset
        case .procVpgidExe:
            guard let p = proc else { return .unset }
            return cp.pointee.processes[p.pgid].map { s.arena.copy($0.exe) } ?? .unset
        case .procIsVpgidLeader: return proc.map { .bool($0.pgid != 0 && $0.pgid == $0.pid) } ?? .unset
        case .procIsSidLeader: return proc.map { .bool($0.sid != 0 && $0.sid == $0.pid) } ?? .unset
        case .procVpid: return proc.map { .int(Int64($0.vpid != 0 ? $0.vpid : $0.pid)) } ?? .unset
        case .procPvpid:
            guard let p = ancestor(cp, 1) else { return .unset }
            return .int(Int64(p.vpid != 0 ? p.vpid : p.pid))
        case .procIsExeUpperLayer: return proc.map { .bool($0.exeUpperLayer) } ?? .unset
        case .procIsExeFromMemfd: return proc.map { .bool($0.exeFromMemfd) } ?? .unset
        case .procIsExe32bit: return proc.map { .bool($0.exeIA32) } ?? .unset
        case .procIsExeWritable:
            if ev.isExec { return .bool(ev.execInfo.exe_flags & UInt32(VIGIL_EXE_WRITABLE) != 0) }
            return .unset
        case .procExeIno: return proc.flatMap { $0.exeIno == 0 ? nil : FV.int(Int64($0.exeIno)) } ?? .unset
        case .procExeInoCtime: return proc.flatMap { $0.exeCtimeNs == 0 ? nil : FV.int(Int64($0.exeCtimeNs)) } ?? .unset
        case .procExeInoMtime: return proc.flatMap { $0.exeMtimeNs == 0 ? nil : FV.int(Int64($0.exeMtimeNs)) } ?? .unset
        case .procExeInoCtimeDurationProcStart:
            guard let p = proc, p.exeCtimeNs > 0, p.startTimeBootNs > 0, ev.timestampBootNs >= p.startTimeBootNs else { return .unset }
            let startEpoch = Int64(cp.pointee.wallTimeNs) - Int64(ev.timestampBootNs - p.startTimeBootNs)
            return .int(startEpoch - Int64(p.exeCtimeNs))
        case .procLoginshellid:
            var k = 0
            var found: UInt32?
            var p = proc
            while let q = p, k < 64 {
                if shellNames.contains(q.name) { found = q.pid }
                p = cp.pointee.processes.parent(of: q); k += 1
            }
            return found.map { .int(Int64($0)) } ?? .unset
        case .procEnv:
            guard let p = proc, p.envCaptured else { return .unset }
            if f.keyLen > 0 { return envValue(p, f, s) ?? .unset }
            return envText(p, s)
        case .procAenv:
            if f.keyLen > 0 {
                // proc.aenv[NAME]: the first value from the parent up, at most 20 levels.
                var k = 1
                while k <= 20, let a = ancestor(cp, k) {
                    if a.envCaptured, let v = envValue(a, f, s) { return v }
                    k += 1
                }
                return .unset
            }
            guard let a = ancestor(cp, max(level, 0)), a.envCaptured else { return .unset }
            return envText(a, s)
        case .procIsEnvTruncated:
            guard let p = proc, p.envCaptured else { return .unset }
            return .bool(p.envTruncated)
        // thread
        case .threadTid: return .int(Int64(ev.tid))
        case .threadVtid: return .int(Int64(ev.tid))
        case .threadCapEffective: return proc.map { capNames($0.capEffective, s) } ?? .unset
        case .threadCapPermitted: return proc.map { capNames($0.capPermitted, s) } ?? .unset
        // user / group
        case .userUid: return .int(Int64(proc?.uid ?? ev.uid))
        case .userName:
            guard let n = s.userName(proc?.uid ?? ev.uid, cp) else { return .unset }
            return s.arena.copy(n)
        case .userLoginuid:
            guard let p = proc else { return .unset }
            return .int(p.loginUID == .max ? -1 : Int64(p.loginUID))
        case .userLoginname:
            guard let p = proc, p.loginUID != .max, let n = s.userName(p.loginUID, cp) else { return .unset }
            return s.arena.copy(n)
        case .userHomedir:
            let uid = proc?.uid ?? ev.uid
            return s.userEntry(uid, cp).map { s.arena.copyOwned($0.home) } ?? .unset
        case .userShell:
            let uid = proc?.uid ?? ev.uid
            return s.userEntry(uid, cp).map { s.arena.copyOwned($0.shell) } ?? .unset
        case .groupGid: return .int(Int64(proc?.gid ?? ev.gid))
        case .groupName:
            guard let n = s.groupName(proc?.gid ?? ev.gid, cp) else { return .unset }
            return s.arena.copy(n)
        // evt
        case .evtType: return staticString(typeNameBytes(ev.type))
        case .evtNum: return .int(Int64(s.eventNumber))
        case .evtTime, .evtTimeS, .evtTimeIso, .evtDatetime: return formatTime(cp.pointee.wallTimeNs, f.id, s)
        case .evtRawtime: return .int(Int64(cp.pointee.wallTimeNs))
        case .evtHostname: return s.arena.copy(s.hostname)
        case .evtDir: return staticString(dirExit)
        case .evtRes:
            let r = ev.ret
            if r >= 0 { return staticString(successBytes) }
            return errnoName(Int32(-r), s)
        case .evtRawres: return .int(ev.ret)
        case .evtFailed: return .bool(ev.ret < 0)
        case .evtIsOpenRead: return .bool(ev.isOpenRead)
        case .evtIsCompat: return .bool(ev.isCompat)
        case .evtIsIoUring: return .bool(ev.isIoUring)
        case .evtIsOpenWrite: return .bool(ev.isOpenWrite)
        case .evtIsOpenExec: return .bool(ev.isOpenExec)
        case .evtIsOpenCreate: return .bool((ev.openFlags ?? 0) & 0o100 != 0)
        case .evtArg: return eventArg(f, ev, raw: false, cp, s)
        case .evtRawarg: return eventArg(f, ev, raw: true, cp, s)
        case .evtArgs: return eventArgs(ev, cp, s)
        case .evtCpu: return .int(Int64(ev.cpu))
        case .evtSource: return staticString(syscallBytes)
        case .evtPid: return .int(Int64(ev.pid))
        case .evtTid: return .int(Int64(ev.tid))
        // fd
        case .fdNum:
            if fdPointer(cp, s) != nil || cp.pointee.fdNum >= 0 { return .int(Int64(cp.pointee.fdNum)) }
            return .unset
        case .fdType: return fdPointer(cp, s)?.pointee.kind.typeNameBytes.map { staticString($0) } ?? .unset
        case .fdTypechar: return fdPointer(cp, s)?.pointee.kind.typeCharBytes.map { staticString($0) } ?? .unset
        case .fdName:
            guard let fd = fdPointer(cp, s) else { return .unset }
            let v = fdName(fd, s)
            return v.len > 0 ? v : .unset
        case .fdNlink:
            guard let fd = fdPointer(cp, s), fd.pointee.ino != 0 else { return .unset }
            return .int(Int64(fd.pointee.nlink))
        case .fdSameFileAs:
            guard let fd = fdPointer(cp, s), fd.pointee.ino != 0, fd.pointee.kind.isKind(.file) else { return .unset }
            let key = UnsafeBufferPointer(start: f.key, count: f.keyLen)
            // The same name is the same file. Another name is a hard link, or the same link seen
            // through a bind mount (one link, another path): compared by inode either way (rules
            // on hot paths test fd.nlink or a name first, as the default rules do).
            if Bytes.equal(fdName(fd, s).bytes, key) { return .bool(true) }
            // As the process sees it (its root); once it has exited (a zombie's root cannot be
            // read, a reaped one has no /proc entry), as the agent sees it. Kept between events
            // and dropped when a target's directory changes (SameFileTargets).
            guard let t = s.sameFileTargets.lookup(key, pid: cp.pointee.event.pid, start: cp.pointee.process?.startTimeBootNs ?? 0,
                                                    exeIno: cp.pointee.process?.exeIno ?? 0, gen: s.gen,
                                                    timeNs: cp.pointee.event.timestampBootNs) else { return .bool(false) }
            return .bool(t.ino == fd.pointee.ino && UInt32(truncatingIfNeeded: t.dev) == fd.pointee.dev)
        case .fdIno:
            guard let fd = fdPointer(cp, s), fd.pointee.ino != 0 else { return .unset }
            return .int(Int64(bitPattern: fd.pointee.ino))
        case .fdDev:
            guard let fd = fdPointer(cp, s), fd.pointee.ino != 0 else { return .unset }
            return .int(Int64(fd.pointee.dev))
        case .fdNameraw:
            guard let fd = fdPointer(cp, s) else { return .unset }
            let raw = fd.pointee.nameRaw  // one read: each read copies the FDInfo
            if raw.isEmpty { return fdName(fd, s) }
            return s.arena.copy(raw)
        case .fdDirectory, .fdFilename:
            guard let fdp = fdPointer(cp, s) else { return .unset }
            let kind = fdp.pointee.kind
            guard kind.isKind(.file) || kind.isKind(.directory) || kind.isKind(.memfd) else { return .unset }
            let v = fdName(fdp, s)
            if v.len == 0 { return .unset }
            if f.id == .fdDirectory && kind.isKind(.directory) { return v }
            let b = v.bytes
            var k = b.count
            while k > 0 && b[k - 1] != 47 { k -= 1 }
            if f.id == .fdFilename { return .str(v.p.map { $0 + k }, b.count - k) }
            if k == 0 { return .unset }
            let dirLen = k > 1 ? k - 1 : 1
            let p = s.arena.alloc(dirLen)
            memcpy(p, b.baseAddress!, dirLen)
            return .str(UnsafePointer(p), dirLen)
        case .fdIp, .fdSip, .fdCip, .fdLip, .fdRip, .fdNet, .fdSnet, .fdCnet, .fdLnet, .fdRnet:
            guard let fdp = fdPointer(cp, s), fdp.pointee.kind.isKind(.ipv4) || fdp.pointee.kind.isKind(.ipv6) else { return .unset }
            let server: Bool
            switch f.id {
            case .fdCip, .fdCnet: server = false
            case .fdLip, .fdLnet: server = fdp.pointee.isServerSide
            case .fdRip, .fdRnet: server = !fdp.pointee.isServerSide
            default: server = true
            }
            let ip = server ? fdp.pointee.serverIP : fdp.pointee.clientIP
            let n = fdp.pointee.kind.isKind(.ipv4) ? 4 : 16
            guard ip.count >= n else { return .unset }
            let p = s.arena.alloc(16)
            ip.withUnsafeBufferPointer { _ = memcpy(p, $0.baseAddress!, n) }
            return FV(kind: .ip, len: Int32(n), i: 0, p: UnsafePointer(p))
        case .fdPort, .fdSport, .fdCport, .fdLport, .fdRport:
            guard let fdp = fdPointer(cp, s), fdp.pointee.kind.isKind(.ipv4) || fdp.pointee.kind.isKind(.ipv6) else { return .unset }
            switch f.id {
            case .fdCport: return .int(Int64(fdp.pointee.clientPort))
            case .fdLport: return .int(Int64(fdp.pointee.isServerSide ? fdp.pointee.serverPort : fdp.pointee.clientPort))
            case .fdRport: return .int(Int64(fdp.pointee.isServerSide ? fdp.pointee.clientPort : fdp.pointee.serverPort))
            default: return .int(Int64(fdp.pointee.serverPort))
            }
        case .fdL4proto:
            guard let fdp = fdPointer(cp, s) else { return .unset }
            switch fdp.pointee.l4proto {
            case 6: return staticString(tcpBytes)
            case 17: return staticString(udpBytes)
            case 1, 58: return staticString(icmpBytes)
            case 255: return staticString(rawBytes)
            default: return fdp.pointee.kind.isKind(.ipv4) || fdp.pointee.kind.isKind(.ipv6) ? staticString(rawBytes) : .unset
            }
        case .fdSockfamily:
            guard let fdp = fdPointer(cp, s) else { return .unset }
            if fdp.pointee.kind.isKind(.ipv4) || fdp.pointee.kind.isKind(.ipv6) { return staticString(ipBytes) }
            if fdp.pointee.kind.isKind(.unix) { return staticString(unixBytes) }
            return .unset
        case .fdIsServer: return fdPointer(cp, s).map { .bool($0.pointee.isServerSide) } ?? .unset
        case .fdConnected: return fdPointer(cp, s).map { .bool($0.pointee.connected) } ?? .unset
        case .fdNameChanged:
            let t = ev.type.name
            return .bool(t == "connect" || t == "rename" || t == "renameat" || t == "renameat2")
        case .fdCipName, .fdSipName, .fdLipName, .fdRipName:
            guard let fdp = fdPointer(cp, s), fdp.pointee.kind.isKind(.ipv4) || fdp.pointee.kind.isKind(.ipv6) else { return .unset }
            let server: Bool
            switch f.id {
            case .fdCipName: server = false
            case .fdLipName: server = fdp.pointee.isServerSide
            case .fdRipName: server = !fdp.pointee.isServerSide
            default: server = true
            }
            let ip = server ? fdp.pointee.serverIP : fdp.pointee.clientIP
            let n = fdp.pointee.kind.isKind(.ipv4) ? 4 : 16
            guard ip.count >= n else { return .unset }
            var w = ArenaWriter(s.arena, max: DNSNameCache.maxNameBytes)
            let found = ip.withUnsafeBufferPointer { DNSNameCache.shared.name(of: UnsafeBufferPointer(rebasing: $0[0..<n]), into: &w) }
            return found ? w.value : .unset
        case .fdTypes: return fdTypes(f, proc, s)
        case .staticField: return .str(f.key, f.keyLen)
        // container
        case .containerId: return s.arena.copy(cp.pointee.container?.id ?? "host")
        case .containerFullId: return s.arena.copy(cp.pointee.container?.fullID ?? "host")
        case .containerName:
            guard let c = cp.pointee.container else { return s.arena.copy("host") }
            if let n = c.name { return s.arena.copy(n) }
            return c.id == "host" ? s.arena.copy("host") : .unset
        case .containerImage: return cp.pointee.container?.image.map { s.arena.copy($0) } ?? .unset
        case .containerImageRepository:
            guard let c = cp.pointee.container else { return .unset }
            if let r = c.imageRepository { return s.arena.copy(r) }
            return c.image.map { s.arena.copyOwned(splitImage($0).repo) } ?? .unset
        case .containerImageTag:
            guard let c = cp.pointee.container else { return .unset }
            if let t = c.imageTag { return s.arena.copy(t) }
            return c.image.flatMap { splitImage($0).tag }.map { s.arena.copyOwned($0) } ?? .unset
        case .containerImageDigest: return cp.pointee.container?.imageDigest.map { s.arena.copy($0) } ?? .unset
        case .containerType: return s.arena.copy(cp.pointee.container?.runtime ?? "host")
        case .containerPrivileged: return cp.pointee.container?.privileged.map { .bool($0) } ?? .unset
        case .containerStartTs: return cp.pointee.container?.startTimeNs.map { .int(Int64($0)) } ?? .unset
        case .containerDuration:
            guard let st = cp.pointee.container?.startTimeNs, cp.pointee.wallTimeNs >= st else { return .unset }
            return .int(Int64(cp.pointee.wallTimeNs - st))
        case .containerMounts:
            guard let c = cp.pointee.container, c.id != "host", !c.id.isEmpty, let m = c.mounts else { return .unset }
            return s.arena.copyOwned(m.map(\.falcoText).joined(separator: ","))
        case .containerMount, .containerMountSource, .containerMountDest, .containerMountMode, .containerMountRdwr,
             .containerMountPropagation:
            guard let c = cp.pointee.container, let m = c.mounts, let mount = mount(m, f) else { return .unset }
            switch f.id {
            case .containerMount: return s.arena.copyOwned(mount.falcoText)
            case .containerMountSource: return s.arena.copy(mount.source)
            case .containerMountDest: return s.arena.copy(mount.destination)
            case .containerMountMode: return s.arena.copy(mount.mode)
            case .containerMountRdwr: return s.arena.copy(mount.readWrite ? "true" : "false")
            default: return s.arena.copy(mount.propagation)
            }
        // k8s
        case .k8sPodName: return cp.pointee.container?.pod.map { s.arena.copy($0.name) } ?? .unset
        case .k8sPodUid:
            if let p = cp.pointee.container?.pod { return s.arena.copy(p.uid) }
            return cp.pointee.container?.podUID.map { s.arena.copy($0) } ?? .unset
        case .k8sPodLabel:
            guard let labels = cp.pointee.container?.pod?.labels else { return .unset }
            let key = UnsafeBufferPointer(start: f.key, count: f.keyLen)
            for (k, v) in labels {
                var k = k
                if k.withUTF8({ Bytes.equal($0, key) }) { return s.arena.copy(v) }
            }
            return .unset
        case .k8sPodLabels:
            guard let p = cp.pointee.container?.pod else { return .unset }
            let text = p.labels.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ", ")
            return s.arena.copyOwned(text)
        case .k8sNsName: return cp.pointee.container?.pod.map { s.arena.copy($0.namespace) } ?? .unset
        case .k8sPodSa: return cp.pointee.container?.pod?.serviceAccount.map { s.arena.copy($0) } ?? .unset
        case .k8sWorkloadName: return cp.pointee.container?.pod?.workloadName.map { s.arena.copy($0) } ?? .unset
        case .k8sWorkloadKind: return cp.pointee.container?.pod?.workloadKind.map { s.arena.copy($0) } ?? .unset
        case .k8sNodeName: return cp.pointee.container?.pod?.nodeName.map { s.arena.copy($0) } ?? .unset
        case .unsupported: return .unset
        }
    }

    // MARK: environment and mounts

    /// `proc.env`: the entries joined by spaces, as Falco prints them.
    static func envText(_ p: ProcessInfo, _ s: RuleScratch) -> FV {
        var block = p.envBlock
        return block.withUTF8 { u -> FV in
            var w = ArenaWriter(s.arena, max: u.count)
            var last: UInt8 = 32
            for c in u {
                if c == 0 { if last != 32 { w.put(32) }; last = 32 } else { w.put(c); last = c }
            }
            return w.value
        }
    }

    /// The value of the variable named by `f`'s key in `p`'s environment (first `NAME=` entry),
    /// answered from ``RuleScratch/envCache`` when `p`'s block equals the last one searched
    /// (processes mostly inherit their environment unchanged), else by ``envRange(_:_:)``.
    static func envValue(_ p: ProcessInfo, _ f: FieldSpec, _ s: RuleScratch) -> FV? {
        guard let kp = f.key, f.keyLen > 0 else { return nil }
        let key = UnsafeBufferPointer(start: kp, count: f.keyLen)
        let cache = s.envCache
        // Absent from the block already found current in this event: no need to read it.
        if cache.isCurrent(p, event: s.eventNumber), let r = cache.result(key), r.start < 0 { return nil }
        var block = p.envBlock
        return block.withUTF8 { u -> FV? in
            cache.use(u, of: p, event: s.eventNumber)
            let r: (start: Int, end: Int)
            if let known = cache.result(key) {
                r = known
            } else {
                r = envRange(u, key) ?? (-1, -1)
                cache.store(key, start: r.start, end: r.end)
            }
            guard r.start >= 0 else { return nil }
            return s.arena.copy(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(u)[r.start..<r.end]))
        }
    }

    /// Where the value of the first `key=` entry of the environment block `u` (NUL-separated
    /// entries) is, or nil. The block is searched for the name's first byte with memchr(3)
    /// (vectorized; most entries do not start with it), not entry by entry: a candidate counts
    /// only at an entry's start and followed by the rest of the name and `=`.
    static func envRange(_ u: UnsafeBufferPointer<UInt8>, _ key: UnsafeBufferPointer<UInt8>) -> (start: Int, end: Int)? {
        guard let base = u.baseAddress, let kb = key.baseAddress else { return nil }
        let n = u.count, kn = key.count
        guard kn > 0 else { return nil }
        let first = Int32(kb[0])
        var i = 0
        while i + kn < n {
            guard let hit = memchr(base + i, first, n - i - kn) else { return nil }
            let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if (at == 0 || base[at - 1] == 0) && base[at + kn] == 61 && memcmp(base + at, kb, kn) == 0 {
                let v = at + kn + 1
                let end = memchr(base + v, 0, n - v).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? n
                return (v, end)
            }
            i = at + 1
        }
        return nil
    }

    /// `container.mount*[N]` by number, or by glob (fnmatch(3), no flags): on the source for
    /// every field but `container.mount.source`, which is looked up by destination (as Falco).
    static func mount(_ m: [ContainerMount], _ f: FieldSpec) -> ContainerMount? {
        if f.index >= 0 { return f.index < m.count ? m[f.index] : nil }
        guard let kp = f.key else { return nil }
        let pattern = UnsafeRawPointer(kp).assumingMemoryBound(to: CChar.self)
        let byDest = f.id == .containerMountSource
        return m.first { fnmatch(pattern, byDest ? $0.destination : $0.source, 0) == 0 }
    }


    /// The event's fd in place (no copy of its strings and arrays), or nil.
    /// A single-payload Optional stores its payload at offset 0.
    /// The fd's name (possibly empty) for the current event, read once per event: reading it
    /// copies the FDInfo (its name lives in shared storage), and fd.name, fd.directory,
    /// fd.filename and fd.nameraw all start from it.
    @inline(__always) static func fdName(_ fd: UnsafePointer<FDInfo>, _ s: RuleScratch) -> FV {
        if s.fdNameGen == s.gen { return s.fdNameValue }
        let v = s.arena.copy(FDInfo.name(at: fd))
        s.fdNameGen = s.gen
        s.fdNameValue = v
        return v
    }

    /// Whether the event has an fd is looked up once per event (`s.gen`): testing the Optional
    /// copies the whole FDInfo (retaining its strings), which fd fields would otherwise pay each.
    @inline(__always) static func fdPointer(_ cp: UnsafePointer<EventContext>, _ s: RuleScratch) -> UnsafePointer<FDInfo>? {
        let op = (UnsafeRawPointer(cp) + s.fdOffset).assumingMemoryBound(to: Optional<FDInfo>.self)
        if s.fdPresenceGen != s.gen {
            s.fdPresenceGen = s.gen
            if case .none = op.pointee { s.fdPresent = false } else { s.fdPresent = true }
        }
        return s.fdPresent ? UnsafeRawPointer(op).assumingMemoryBound(to: FDInfo.self) : nil
    }

    /// Splits an image reference into repository and tag (`docker.io/library/nginx:1.25`).
    static func splitImage(_ image: String) -> (repo: String, tag: String?) {
        var ref = image
        if let at = ref.firstIndex(of: "@") { ref = String(ref[..<at]) }
        if let colon = ref.lastIndex(of: ":"), !ref[colon...].contains("/") {
            return (String(ref[..<colon]), String(ref[ref.index(after: colon)...]))
        }
        return (ref, nil)
    }

    static let shellNames: Set<String> = ["ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash", "fish"]

    // MARK: static strings

    static let successBytes = StaticBytes("SUCCESS")
    static let dirExit = StaticBytes("<")
    static let tcpBytes = StaticBytes("tcp")
    static let udpBytes = StaticBytes("udp")
    static let icmpBytes = StaticBytes("icmp")
    static let rawBytes = StaticBytes("raw")
    static let ipBytes = StaticBytes("ip")
    static let unixBytes = StaticBytes("unix")
    static let syscallBytes = StaticBytes("syscall")
    static let atFdcwdBytes = StaticBytes("AT_FDCWD")
    /// `fd.types`: the distinct types of the process's tracked fds, comma-separated in
    /// ``FDInfo/Kind`` order (a list field); `fd.types[N]`: the type of fd N.
    static func fdTypes(_ f: FieldSpec, _ proc: ProcessInfo?, _ s: RuleScratch) -> FV {
        guard let p = proc else { return .unset }
        if f.index >= 0 {
            guard f.index <= Int(Int32.max), let fd = p.fds[Int32(f.index)] else { return .unset }
            return staticString(fdTypeNames[Int(fd.kind.rawValue)])
        }
        var mask: UInt32 = 0
        for fd in p.fds.values { mask |= 1 << UInt32(fd.kind.rawValue & 31) }
        if mask == 0 { return .unset }
        var w = ArenaWriter(s.arena, max: 256)
        var first = true
        for k in 0..<fdTypeNames.count where mask & (1 << UInt32(k)) != 0 {
            if !first { w.put(44) }
            first = false
            w.put(UnsafeRawBufferPointer(start: fdTypeNames[k].p, count: fdTypeNames[k].n))
        }
        return w.value
    }

    static let fdTypeNames: [StaticBytes] = (0...FDInfo.Kind.unknown.rawValue).map { StaticBytes(FDInfo.Kind(rawValue: $0)!.typeName) }
    static let fdTypeChars: [StaticBytes] = (0...FDInfo.Kind.unknown.rawValue).map { StaticBytes(FDInfo.Kind(rawValue: $0)!.typeChar) }
    static let typeNames: [StaticBytes] = (0..<EventType.count).map { StaticBytes(EventType(rawValue: UInt16($0)).name) }
    @inline(__always) static func typeNameBytes(_ t: EventType) -> StaticBytes { typeNames[Int(t.rawValue) & (EventType.count - 1)] }
    @inline(__always) static func staticString(_ b: StaticBytes) -> FV { .str(b.p, b.n) }

    static let errnoNames: [String] = {
        var n = [String](repeating: "", count: 134)
        let t: [(Int, String)] = [(1, "EPERM"), (2, "ENOENT"), (3, "ESRCH"), (4, "EINTR"), (5, "EIO"), (6, "ENXIO"), (7, "E2BIG"),
                                  (8, "ENOEXEC"), (9, "EBADF"), (10, "ECHILD"), (11, "EAGAIN"), (12, "ENOMEM"), (13, "EACCES"),
                                  (14, "EFAULT"), (16, "EBUSY"), (17, "EEXIST"), (18, "EXDEV"), (19, "ENODEV"), (20, "ENOTDIR"),
                                  (21, "EISDIR"), (22, "EINVAL"), (23, "ENFILE"), (24, "EMFILE"), (25, "ENOTTY"), (26, "ETXTBSY"),
                                  (27, "EFBIG"), (28, "ENOSPC"), (29, "ESPIPE"), (30, "EROFS"), (31, "EMLINK"), (32, "EPIPE"),
                                  (36, "ENAMETOOLONG"), (38, "ENOSYS"), (39, "ENOTEMPTY"), (40, "ELOOP"), (95, "EOPNOTSUPP"),
                                  (97, "EAFNOSUPPORT"), (98, "EADDRINUSE"), (99, "EADDRNOTAVAIL"), (101, "ENETUNREACH"),
                                  (104, "ECONNRESET"), (110, "ETIMEDOUT"), (111, "ECONNREFUSED"), (113, "EHOSTUNREACH"),
                                  (115, "EINPROGRESS"), (114, "EALREADY"), (106, "EISCONN"), (107, "ENOTCONN"), (88, "ENOTSOCK")]
        for (k, v) in t { n[k] = v }
        return n
    }()
    static let errnoBytes: [StaticBytes] = errnoNames.map { StaticBytes($0) }

    static func errnoName(_ e: Int32, _ s: RuleScratch) -> FV {
        if e > 0 && Int(e) < errnoBytes.count && errnoBytes[Int(e)].n > 0 { return staticString(errnoBytes[Int(e)]) }
        var w = ArenaWriter(s.arena, max: 16)
        w.put(69); w.putInt(Int64(e))
        return w.value
    }

    // MARK: time

    /// `evt.time` (`HH:MM:SS.nnnnnnnnn`), `evt.time.s` (`HH:MM:SS`), `evt.datetime`
    /// (`YYYY-MM-DD HH:MM:SS.nnnnnnnnn`) and `evt.time.iso8601` (RFC 3339): slices of ``RFC3339``'s text.
    static func formatTime(_ ns: UInt64, _ id: FieldID, _ s: RuleScratch) -> FV {
        var w = ArenaWriter(s.arena, max: RFC3339.maxLength)
        w.n = RFC3339.write(ns, into: w.start)  // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
        let p = w.start
        // Every slice stays NUL-terminated, like other arena strings.
        switch id {
        case .evtTimeIso: return w.value
        case .evtDatetime: p[10] = UInt8(ascii: " "); p[29] = 0; return .str(UnsafePointer(p), 29)
        case .evtTimeS: p[19] = 0; return .str(UnsafePointer(p + 11), 8)
        default: p[29] = 0; return .str(UnsafePointer(p + 11), 18)
        }
    }

    // MARK: event arguments

    /// The schema argument a field refers to for this event's type.
    @inline(__always) static func argSpec(_ f: FieldSpec, _ ev: Event) -> ArgumentSpec? {
        let schema = SyscallSchema.of(ev.type)
        let k = f.index >= 0 ? f.index : (f.argTable.map { Int($0[Int(ev.type.rawValue) & (EventType.count - 1)]) } ?? -1)
        guard k >= 0 && k < schema.arguments.count else { return nil }
        return schema.arguments[k]
    }

    static func eventArg(_ f: FieldSpec, _ ev: Event, raw: Bool, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch) -> FV {
        guard let spec = argSpec(f, ev), let v = ev.value(of: spec) else { return .unset }
        if raw { return v.integer.map { FV.int($0) } ?? argValue(v, cp, s) }
        // A path as the program passed it (`mv x ./evil` in /usr/bin, `renameat(dfd, "evil")`,
        // `/proc/self/cwd/evil`) reads as the path it names, as Falco's evt.arg does, and a new
        // symlink's target as the file it will name; a normal absolute path outside /proc is
        // kept as it is (no copy).
        if case .bytes(let b, .path) = v, b.count > 0, PathArgumentResolver.needsResolving(b) {
            guard let r = PathArgumentResolver.resolve(b, argument: spec, ev, cp.pointee.process) else { return s.arena.copy(b) }
            return s.arena.copyOwned(r)
        }
        return argValue(v, cp, s)
    }

    /// Falco's `evt.arg.NAME` value: resolved names (flags, errno, users) where there are
    /// some, numbers as numbers, strings as bytes. Flag renderings are memoised per scratch.
    static func argValue(_ v: ArgumentValue, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch) -> FV {
        switch v {
        case .int(let x, let f):
            switch f {
            case .fd where x == LinuxConstants.atFDCWD: return staticString(atFdcwdBytes)
            case .fd, .errno: return x < 0 ? errnoName(Int32(truncatingIfNeeded: -x), s) : .int(x)
            default: return .int(x)
            }
        case .uint(let x, let f):
            switch f {
            case .uid: return s.userName(UInt32(truncatingIfNeeded: x), cp).map { s.arena.copyOwned($0) } ?? .int(Int64(bitPattern: x))
            case .gid: return s.groupName(UInt32(truncatingIfNeeded: x), cp).map { s.arena.copyOwned($0) } ?? .int(Int64(bitPattern: x))
            case .mode: return s.renderedFlags(.fileMode, x)
            case .hex: var w = ArenaWriter(s.arena, max: 20); w.putHex(x); return w.value
            case .octal:
                var w = ArenaWriter(s.arena, max: 24)
                w.put(48)
                var digits: [UInt8] = []
                var y = x
                repeat { digits.append(UInt8(48 + y % 8)); y /= 8 } while y > 0
                if !(digits.count == 1 && digits[0] == 48) { for d in digits.reversed() { w.put(d) } }
                return w.value
            default: return .int(Int64(bitPattern: x))
            }
        case .flags(let x, let set): return s.renderedFlags(set, x)
        case .bytes(let b, let f):
            if f == .argv {
                var w = ArenaWriter(s.arena, max: b.count)
                var n = b.count
                while n > 0 && b[n - 1] == 0 { n -= 1 }
                for k in 0..<n { w.put(b[k] == 0 ? 32 : b[k]) }
                return w.value
            }
            return s.arena.copy(b)
        case .sockaddr, .tuple:
            return s.arena.copyOwned(v.rawText)
        }
    }

    /// `evt.args`: every argument as `name=value`, space separated.
    static func eventArgs(_ ev: Event, _ cp: UnsafePointer<EventContext>, _ s: RuleScratch) -> FV {
        // The resolver lives only for this call; it holds the scratch it reads (owned, not unowned).
        let resolver = ArgumentResolver(userName: { s.userName($0, cp) }, groupName: { s.groupName($0, cp) })
        return s.arena.copyOwned(ev.formattedArguments(resolver))
    }
}

/// A NUL-terminated immortal byte string (for constant field values).
struct StaticBytes: @unchecked Sendable {
    let p: UnsafePointer<UInt8>
    let n: Int
    init(_ s: String) {
        let a = Array(s.utf8)
        let m = UnsafeMutablePointer<UInt8>.allocate(capacity: a.count + 1)
        for (k, c) in a.enumerated() { m[k] = c }
        m[a.count] = 0
        p = UnsafePointer(m); n = a.count
    }
}


extension FDInfo.Kind {
    /// `self == k`, comparing the cases' tags (the synthesized `==` of another module's enum is
    /// called through its `Equatable` witness).
    @inline(__always) func isKind(_ k: FDInfo.Kind) -> Bool { unsafeBitCast(self, to: UInt8.self) == unsafeBitCast(k, to: UInt8.self) }
    /// Falco's `fd.type` name as constant bytes.
    var typeNameBytes: StaticBytes? { FieldExtractor.fdTypeNames[Int(rawValue)] }
    var typeCharBytes: StaticBytes? { FieldExtractor.fdTypeChars[Int(rawValue)] }
}
