#if canImport(Glibc)
import Glibc
#endif
import VigilCore
import VigilDecode

/// Reads processes from procfs: used to seed the ``ProcessTable`` at start-up
/// (so processes older than the agent have exe, args, parent, cwd, ids) and to
/// fill in a process first met in an event.
package final class ProcScanner {
    /// Where procfs is mounted.
    package let procRoot: String
    /// The cgroup v2 hierarchy (for cgroup ids).
    package let cgroups: CgroupFS
    let ticksPerSecond: UInt64
    /// Whether socket fds are described from `/proc/PID/net/*` (addresses, roles).
    package let resolveSockets: Bool
    /// Socket inode -> fd description, per network namespace (inode of /proc/PID/ns/net).
    var socketTables: [String: [UInt64: FDInfo]] = [:]

    package init(procRoot: String = "/proc", cgroups: CgroupFS? = nil, resolveSockets: Bool = true) {
        self.procRoot = procRoot
        self.resolveSockets = resolveSockets
        self.cgroups = cgroups ?? CgroupFS(mountinfo: procRoot + "/self/mountinfo")
        self.ticksPerSecond = SysFiles.clockTicks
    }

    /// The pids present now.
    package func pids() -> [UInt32] {
        SysFiles.list(procRoot).compactMap { UInt32($0) }.sorted()
    }

    /// Reads every process (fds included up to `maxFDsPerProcess`).
    package func scanAll(maxFDsPerProcess: Int = 4096) -> [ProcessInfo] {
        socketTables.removeAll()
        return pids().compactMap { readProcess(pid: $0, maxFDs: maxFDsPerProcess) }
    }

    /// Reads one process; nil when it is gone or unreadable.
    package func readProcess(pid: UInt32, maxFDs: Int = 4096) -> ProcessInfo? {
        let dir = procRoot + "/" + String(pid)
        guard let statText = SysFiles.readText(dir + "/stat", limit: 4096),
              let open = statText.firstIndex(of: "("), let close = statText.lastIndex(of: ")") else { return nil }
        let comm = String(statText[statText.index(after: open)..<close])
        let rest = statText[statText.index(after: close)...].split(separator: " ")
        func field(_ i: Int) -> UInt64 { i < rest.count ? UInt64(rest[i]) ?? 0 : 0 }
        let p = ProcessInfo(pid: pid, ppid: UInt32(truncatingIfNeeded: field(1)), name: comm, fromProcScan: true)
        p.pgid = UInt32(truncatingIfNeeded: field(2))
        p.sid = UInt32(truncatingIfNeeded: field(3))
        p.tty = UInt32(truncatingIfNeeded: field(4))
        p.threadCount = UInt32(truncatingIfNeeded: max(1, field(17)))
        p.startTimeBootNs = field(19) &* (1_000_000_000 / max(1, ticksPerSecond))

        if let status = SysFiles.readText(dir + "/status", limit: 16384) {
            for line in status.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = line[..<colon]
                let vals = line[line.index(after: colon)...].split(whereSeparator: { $0 == "\t" || $0 == " " })
                switch key {
                case "Uid":
                    if vals.count >= 2 { p.uid = UInt32(vals[0]) ?? 0; p.euid = UInt32(vals[1]) ?? 0 }
                case "Gid":
                    if vals.count >= 2 { p.gid = UInt32(vals[0]) ?? 0; p.egid = UInt32(vals[1]) ?? 0 }
                case "CapEff":
                    if let v = vals.first { p.capEffective = UInt64(v, radix: 16) ?? 0 }
                case "CapPrm":
                    if let v = vals.first { p.capPermitted = UInt64(v, radix: 16) ?? 0 }
                case "NSpid":
                    if let v = vals.last { p.vpid = UInt32(v) ?? 0 }
                default:
                    break
                }
            }
        }

        if let cmd = SysFiles.read(dir + "/cmdline", limit: 1 << 16), !cmd.isEmpty {
            var parts = cmd.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if cmd.last == 0, parts.last == "" { parts.removeLast() }
            if let first = parts.first {
                p.exe = first
                p.args = Array(parts.dropFirst())
            }
        }
        if var exe = SysFiles.readLink(dir + "/exe") {
            if exe.hasSuffix(" (deleted)") { exe.removeLast(10) }
            if exe.hasPrefix("/memfd:") { p.exeFromMemfd = true }
            p.exePath = exe
            if let st = SysFiles.statFile(dir + "/exe") {
                p.exeIno = UInt64(st.st_ino)
                p.exeCtimeNs = UInt64(st.st_ctim.tv_sec) &* 1_000_000_000 &+ UInt64(st.st_ctim.tv_nsec)
                p.exeMtimeNs = UInt64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ UInt64(st.st_mtim.tv_nsec)
            }
        }
        if p.exe.isEmpty { p.exe = p.exePath.isEmpty ? comm : p.exePath }
        if let cwd = SysFiles.readLink(dir + "/cwd") {
            p.cwd = cwd.hasSuffix("/") ? cwd : cwd + "/"
        }
        if let lu = SysFiles.readText(dir + "/loginuid", limit: 64) {
            p.loginUID = UInt32(lu.filter { $0.isNumber }) ?? .max
        }
        if let cg = SysFiles.readText(dir + "/cgroup", limit: 65536), let path = CgroupFS.v2Path(inProcCgroup: cg) {
            p.cgroupPath = path
            p.cgroupID = cgroups.cgroupID(path: path) ?? 0
        }
        if maxFDs > 0 { readFDs(p, dir: dir, max: maxFDs) }
        return p
    }

    /// Reads `/proc/PID/fd`: files, directories, pipes, memfds, anonymous inodes and sockets.
    func readFDs(_ p: ProcessInfo, dir: String, max: Int) {
        let names = SysFiles.list(dir + "/fd")
        guard !names.isEmpty else { return }
        var sockets: [UInt64: FDInfo]? = nil
        for n in names {
            guard p.fds.count < max, let fd = Int32(n), let target = SysFiles.readLink(dir + "/fd/" + n) else { continue }
            var info: FDInfo
            if target.hasPrefix("/") {
                if target.hasPrefix("/memfd:") {
                    var name = String(target.dropFirst())
                    if name.hasSuffix(" (deleted)") { name.removeLast(10) }
                    info = FDInfo(kind: .memfd, name: name, nameRaw: name)
                } else {
                    let isDir = SysFiles.statFile(dir + "/fd/" + n).map { ($0.st_mode & 0o170000) == 0o040000 } ?? false
                    info = FDInfo(kind: isDir ? .directory : .file, name: target, nameRaw: target)
                }
            } else if target.hasPrefix("pipe:") {
                info = FDInfo(kind: .pipe, name: "")
            } else if target.hasPrefix("socket:["), let ino = UInt64(target.dropFirst(8).dropLast()) {
                if sockets == nil { sockets = resolveSockets ? socketTable(dir: dir) : [:] }
                info = sockets?[ino] ?? FDInfo(kind: .unknown, name: "")
            } else if target.hasPrefix("anon_inode:") {
                let what = target.dropFirst(11)
                switch what {
                case "[eventpoll]": info = FDInfo(kind: .eventpoll, name: "")
                case "[eventfd]": info = FDInfo(kind: .event, name: "")
                case "[signalfd]": info = FDInfo(kind: .signalfd, name: "")
                case "[timerfd]": info = FDInfo(kind: .timerfd, name: "")
                case "inotify": info = FDInfo(kind: .inotify, name: "")
                case "[userfaultfd]": info = FDInfo(kind: .userfaultfd, name: "")
                default:
                    info = FDInfo(kind: what.hasPrefix("bpf") ? .bpf : .unknown, name: "")
                }
            } else {
                info = FDInfo(kind: .unknown, name: "")
            }
            // Open flags (O_CLOEXEC decides what survives the process's next exec).
            if let fi = SysFiles.readText(dir + "/fdinfo/" + n, limit: 4096) {
                for line in fi.split(separator: "\n") where line.hasPrefix("flags:") {
                    let v = line.dropFirst(6).trimmingCharacters(in: " \t")
                    if let f = UInt32(v, radix: 8) { info.flags = info.kind.isSocket ? (info.flags | (f & FDInfo.cloexecFlag)) : f }
                }
            }
            p.fds[fd] = info
        }
    }

    /// The socket table of the process's network namespace (cached per namespace).
    func socketTable(dir: String) -> [UInt64: FDInfo] {
        let ns = SysFiles.readLink(dir + "/ns/net") ?? "?"
        if let t = socketTables[ns] { return t }
        var table: [UInt64: FDInfo] = [:]
        for (file, v6, proto) in [("tcp", false, UInt8(6)), ("tcp6", true, UInt8(6)), ("udp", false, UInt8(17)), ("udp6", true, UInt8(17))] {
            guard let text = SysFiles.readText(dir + "/net/" + file, limit: 64 << 20) else { continue }
            ProcScanner.parseInetSockets(text, v6: v6, l4proto: proto, into: &table)
        }
        if let text = SysFiles.readText(dir + "/net/unix", limit: 64 << 20) {
            ProcScanner.parseUnixSockets(text, into: &table)
        }
        socketTables[ns] = table
        return table
    }

    /// Parses `/proc/net/tcp[6]`/`udp[6]` into inode -> fd description. A socket
    /// whose local port is listening in the same table is the server side.
    static func parseInetSockets(_ text: String, v6: Bool, l4proto: UInt8, into table: inout [UInt64: FDInfo]) {
        var rows: [(local: (IPAddress, UInt16), remote: (IPAddress, UInt16), listen: Bool, ino: UInt64)] = []
        var listening = Set<UInt16>()
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 10, let l = parseHexEndpoint(f[1], v6: v6), let r = parseHexEndpoint(f[2], v6: v6),
                  let st = UInt8(f[3], radix: 16), let ino = UInt64(f[9]), ino != 0 else { continue }
            let isListen = (l4proto == 6 && st == 0x0A) || (l4proto == 17 && r.1 == 0)
            if isListen { listening.insert(l.1) }
            rows.append((l, r, isListen, ino))
        }
        for row in rows {
            let kind: FDInfo.Kind = v6 ? .ipv6 : .ipv4
            var info = FDInfo(kind: kind, name: "", l4proto: l4proto)
            if row.listen {
                info.serverIP = row.local.0.bytes; info.serverPort = row.local.1
                info.isServerSide = true
                var n = ""; row.local.0.write(into: &n); n += ":" + String(row.local.1)
                info.name = n
            } else {
                let server = listening.contains(row.local.1)
                let (c, s) = server ? (row.remote, row.local) : (row.local, row.remote)
                info.clientIP = c.0.bytes; info.clientPort = c.1; info.serverIP = s.0.bytes; info.serverPort = s.1
                info.isServerSide = server
                info.connected = true
                var n = ""; c.0.write(into: &n); n += ":" + String(c.1) + "->"; s.0.write(into: &n); n += ":" + String(s.1)
                info.name = n
            }
            table[row.ino] = info
        }
    }

    /// `0100007F:1F90` (IPv4 as a host-order hex word) or 32 hex digits (four words) for IPv6.
    static func parseHexEndpoint(_ s: Substring, v6: Bool) -> (IPAddress, UInt16)? {
        guard let colon = s.firstIndex(of: ":"), let port = UInt16(s[s.index(after: colon)...], radix: 16) else { return nil }
        let hex = s[..<colon]
        var bytes: [UInt8] = []
        let words = v6 ? 4 : 1
        guard hex.count == words * 8 else { return nil }
        var idx = hex.startIndex
        for _ in 0..<words {
            let end = hex.index(idx, offsetBy: 8)
            guard let w = UInt32(hex[idx..<end], radix: 16) else { return nil }
            let le = w.littleEndian  // the kernel printed the in-memory word in host order
            bytes += [UInt8(le & 0xff), UInt8((le >> 8) & 0xff), UInt8((le >> 16) & 0xff), UInt8(le >> 24)]
            idx = end
        }
        guard let ip = IPAddress(bytes: bytes) else { return nil }
        return (ip, port)
    }

    /// Parses `/proc/net/unix` into inode -> fd description (path as the name).
    static func parseUnixSockets(_ text: String, into table: inout [UInt64: FDInfo]) {
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 7, let ino = UInt64(f[6]) else { continue }
            let path = f.count >= 8 ? String(f[7...].joined(separator: " ")) : ""
            table[ino] = FDInfo(kind: .unix, name: path, connected: f[5] == "03")
        }
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}

extension FDInfo.Kind {
    /// Whether this kind is a socket (its ``FDInfo/flags`` hold the socket type).
    var isSocket: Bool { self == .ipv4 || self == .ipv6 || self == .unix || self == .netlink }
}
