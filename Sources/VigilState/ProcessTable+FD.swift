import VigilABI
import VigilCore
import VigilDecode

/// fd tables and the cwd, kept by syscall records.
extension ProcessTable {
    /// Applies a syscall record other than an open or a close (``apply(_:into:)`` gives those to
    /// ``applyOpen(_:_:_:into:)`` and ``applyClose(_:into:)``, which fill the result in place).
    @inline(__always)
    func applySyscall(_ e: Event) -> ApplyResult {
        let p = process(for: e)
        let t = UInt32(e.type.rawValue)
        switch t {
        case VIGIL_SYS_SOCKET.rawValue:
            return applySocket(e, p)
        case VIGIL_SYS_CONNECT.rawValue:
            return applyConnect(e, p)
        case VIGIL_SYS_ACCEPT.rawValue, VIGIL_SYS_ACCEPT4.rawValue:
            return applyAccept(e, p)
        case VIGIL_SYS_BIND.rawValue:
            return applyBind(e, p)
        case VIGIL_SYS_LISTEN.rawValue:
            let fd = fdArg(e, 0)
            if e.ret == 0, var info = p.fds[fd] {
                info.isServerSide = true
                let t = SocketTuple(e.tuple)
                if (t.family == LinuxConstants.AF_INET || t.family == LinuxConstants.AF_INET6) && !info.connected
                    && (IPAddress(bytes: info.serverIP) != t.localIP || info.serverPort != t.localPort) {
                    setLocalEndpoint(&info, (t.localIP, t.localPort))
                }
                p.fds[fd] = info
                return ApplyResult(process: p, fd: info, fdNum: fd)
            }
            return ApplyResult(process: p, fd: p.fds[fd], fdNum: fd)
        case VIGIL_SYS_SENDTO.rawValue, VIGIL_SYS_SENDMSG.rawValue, VIGIL_SYS_RECVFROM.rawValue, VIGIL_SYS_RECVMSG.rawValue:
            return applyDatagram(e, p)
        case VIGIL_SYS_DUP.rawValue, VIGIL_SYS_DUP2.rawValue, VIGIL_SYS_DUP3.rawValue:
            let old = fdArg(e, 0)
            let info = p.fds[old]
            let ret = e.ret
            if ret >= 0 && Int64(old) != ret {
                let newfd = Int32(truncatingIfNeeded: ret)
                if var c = info {
                    let cloexec = t == VIGIL_SYS_DUP3.rawValue && e.arg(2) & LinuxConstants.O_CLOEXEC != 0
                    c.flags = cloexec ? c.flags | FDInfo.cloexecFlag : c.flags & ~FDInfo.cloexecFlag
                    store(p, newfd, c)
                } else {
                    p.fds.removeValue(forKey: newfd)
                }
            }
            return ApplyResult(process: p, fd: info, fdNum: old)
        case VIGIL_SYS_FCNTL.rawValue:
            return applyFcntl(e, p)
        case VIGIL_SYS_PIPE.rawValue, VIGIL_SYS_PIPE2.rawValue, VIGIL_SYS_SOCKETPAIR.rawValue:
            guard e.ret == 0 else { return ApplyResult(process: p) }
            let fd1 = fdArg(e, 4), fd2 = fdArg(e, 5)
            var info: FDInfo
            if t == VIGIL_SYS_SOCKETPAIR.rawValue {
                let domain = UInt16(truncatingIfNeeded: e.arg(0))
                info = FDInfo(kind: kind(forFamily: domain), name: "", flags: UInt32(truncatingIfNeeded: e.arg(1)),
                              l4proto: 0, connected: true)
            } else {
                let flags = t == VIGIL_SYS_PIPE2.rawValue ? UInt32(truncatingIfNeeded: e.arg(1)) : 0
                info = FDInfo(kind: .pipe, name: "", flags: flags)
            }
            store(p, fd1, info)
            store(p, fd2, info)
            return ApplyResult(process: p, fd: info, fdNum: fd1)
        case VIGIL_SYS_MEMFD_CREATE.rawValue:
            let ret = e.ret
            let name = "memfd:" + e.str0.vigilString
            let flags: UInt32 = e.arg(1) & 1 /* MFD_CLOEXEC */ != 0 ? FDInfo.cloexecFlag : 0
            let info = FDInfo(kind: .memfd, name: name, nameRaw: name, flags: flags)
            guard ret >= 0 else { return ApplyResult(process: p, fd: info, fdNum: -1) }
            store(p, Int32(truncatingIfNeeded: ret), info)
            return ApplyResult(process: p, fd: info, fdNum: Int32(truncatingIfNeeded: ret))
        case VIGIL_SYS_USERFAULTFD.rawValue:
            let ret = e.ret
            guard ret >= 0 else { return ApplyResult(process: p) }
            let info = FDInfo(kind: .userfaultfd, name: "", flags: UInt32(truncatingIfNeeded: e.arg(0)) & FDInfo.cloexecFlag)
            store(p, Int32(truncatingIfNeeded: ret), info)
            return ApplyResult(process: p, fd: info, fdNum: Int32(truncatingIfNeeded: ret))
        case VIGIL_SYS_BPF.rawValue:
            let ret = e.ret
            // Commands that return a new fd: map/prog/btf/link creation and fd-by-id lookups.
            switch e.arg(0) {
            case 0, 5, 7, 13, 14, 17, 18, 19, 28, 30, 33, 36:
                guard ret >= 0 else { return ApplyResult(process: p) }
                let info = FDInfo(kind: .bpf, name: "", flags: FDInfo.cloexecFlag)
                store(p, Int32(truncatingIfNeeded: ret), info)
                return ApplyResult(process: p, fd: info, fdNum: Int32(truncatingIfNeeded: ret))
            default:
                return ApplyResult(process: p)
            }
        case VIGIL_SYS_CHDIR.rawValue:
            if e.ret == 0 { p.cwd = directoryName(PathResolver.resolve(e.str0, against: p.cwd.isEmpty ? "/" : p.cwd)) }
            return ApplyResult(process: p)
        case VIGIL_SYS_FCHDIR.rawValue:
            let fd = fdArg(e, 0)
            let info = p.fds[fd]
            if e.ret == 0, let d = info, d.name.hasPrefix("/") { p.cwd = directoryName(d.name) }
            return ApplyResult(process: p, fd: info, fdNum: fd)
        case VIGIL_SYS_SETUID.rawValue, VIGIL_SYS_SETREUID.rawValue, VIGIL_SYS_SETRESUID.rawValue:
            // The real uid comes with every header; the effective one changes here.
            if e.ret == 0 {
                let euid = t == VIGIL_SYS_SETUID.rawValue ? e.arg(0) : e.arg(1)
                if UInt32(truncatingIfNeeded: euid) != UInt32.max { p.euid = UInt32(truncatingIfNeeded: euid) }
            }
            return ApplyResult(process: p)
        case VIGIL_SYS_SETGID.rawValue, VIGIL_SYS_SETREGID.rawValue, VIGIL_SYS_SETRESGID.rawValue:
            if e.ret == 0 {
                let egid = t == VIGIL_SYS_SETGID.rawValue ? e.arg(0) : e.arg(1)
                if UInt32(truncatingIfNeeded: egid) != UInt32.max { p.egid = UInt32(truncatingIfNeeded: egid) }
            }
            return ApplyResult(process: p)
        case VIGIL_SYS_CAPSET.rawValue:
            // The BPF side stores the new effective and permitted sets in args[2]/args[3].
            if e.ret == 0 { p.capEffective = e.arg(2); p.capPermitted = e.arg(3) }
            return ApplyResult(process: p)
        case VIGIL_SYS_FCHMOD.rawValue, VIGIL_SYS_SETNS.rawValue, VIGIL_SYS_FINIT_MODULE.rawValue,
             VIGIL_SYS_FTRUNCATE.rawValue:
            let fd = fdArg(e, 0)
            return ApplyResult(process: p, fd: p.fds[fd], fdNum: fd)
        case VIGIL_SYS_FCHMODAT2.rawValue where e.arg(3) & 0x1000 /* AT_EMPTY_PATH */ != 0:
            // An empty filename with AT_EMPTY_PATH changes dirfd's own file: fd.* describe it.
            let fd = fdArg(e, 0)
            return ApplyResult(process: p, fd: p.fds[fd], fdNum: fd)
        default:
            return ApplyResult(process: p)
        }
    }

    @inline(__always) func fdArg(_ e: Event, _ i: Int) -> Int32 { Int32(truncatingIfNeeded: e.arg(i)) }

    func directoryName(_ path: String) -> String { path.hasSuffix("/") ? path : path + "/" }

    /// Stores `info` at `fd` unless the process is at its fd cap (counted).
    func store(_ p: ProcessInfo, _ fd: Int32, _ info: FDInfo) {
        guard fd >= 0 else { return }
        if p.fds.count >= configuration.maxFDsPerProcess, case .none = p.fds[fd] {
            stats.fdDrops.add()
            return
        }
        p.fds.insert(info, at: fd)
    }

    func kind(forFamily f: UInt16) -> FDInfo.Kind {
        switch f {
        case LinuxConstants.AF_INET: .ipv4
        case LinuxConstants.AF_INET6: .ipv6
        case LinuxConstants.AF_UNIX: .unix
        case LinuxConstants.AF_NETLINK: .netlink
        default: .unknown
        }
    }

    /// The directory a relative path of this event is resolved against: the
    /// cwd, or the dirfd's path for the *at calls. Nil when unknown.
    func baseDirectory(_ e: Event, _ p: ProcessInfo, dirfdArg: Int?) -> String? {
        p.baseDirectory(dirfd: dirfdArg.map { Int64(Int32(truncatingIfNeeded: e.arg($0))) })
    }

    /// Whether `t` (an `EventType` raw value) opens a file.
    @inline(__always) static func isOpen(_ t: UInt32) -> Bool {
        t == VIGIL_SYS_OPEN.rawValue || t == VIGIL_SYS_OPENAT.rawValue || t == VIGIL_SYS_OPENAT2.rawValue
            || t == VIGIL_SYS_CREAT.rawValue || t == VIGIL_SYS_OPEN_BY_HANDLE_AT.rawValue
    }

    /// Applies a close, storing its outcome in `r`'s fields (the fd leaves the table and goes
    /// to the result: a close is as frequent as an open, and is filled in place the same way).
    @inline(__always)
    func applyClose(_ e: Event, into r: inout ApplyResult) {
        let p = process(for: e)
        let fd = fdArg(e, 0)
        r.fd = e.ret == -9 /* EBADF */ ? nil : p.fds.removeValue(forKey: fd)
        r.fdNum = fd
        r.process = p
    }

    /// Applies an open, storing its outcome in `r`'s fields (moved in: no copy of a whole result).
    func applyOpen(_ e: Event, _ p: consuming ProcessInfo, _ t: UInt32, into r: inout ApplyResult) {
        let raw = e.str0
        let flags = e.openFlags ?? 0
        let isAt = t == VIGIL_SYS_OPENAT.rawValue || t == VIGIL_SYS_OPENAT2.rawValue
        let isDir = flags & LinuxConstants.O_DIRECTORY != 0 && flags & LinuxConstants.O_TMPFILE != LinuxConstants.O_TMPFILE
        let kind: FDInfo.Kind = isDir ? .directory : .file
        let opened = e.openedPath
        var info: FDInfo
        // The name is the bytes of the kernel's own path of the file it opened (dentry walk
        // at exit: what /proc/PID/root, "..", symlinks or a file handle led to), else the
        // path as passed, when that is a normal absolute path: names shared with earlier opens
        // of the same path (no allocation; bytes found in the table passed the same test when
        // they were added, so it is not run again).
        if let storage = fileNames.storage(raw: raw, name: opened.count > 0 ? opened : nil, ifNew: {
            opened.count > 0 ? PathResolver.isNormalAbsolute(opened) : PathResolver.isNormalAbsolute(raw)
        }) {
            info = FDInfo(kind: kind, storage: storage, flags: UInt32(truncatingIfNeeded: flags))
        } else {
            let nameRaw = raw.vigilString
            let name: String
            if opened.count > 0 {
                name = PathResolver.normalize(opened.vigilString)
            } else if raw.count > 0 && raw[0] == UInt8(ascii: "/") {
                name = PathResolver.normalize(nameRaw)
            } else if let base = baseDirectory(e, p, dirfdArg: isAt ? 0 : nil) {
                name = PathResolver.resolve(raw, against: base)
            } else {
                name = PathResolver.normalize(nameRaw)
            }
            info = FDInfo(kind: kind, name: name, nameRaw: nameRaw, flags: UInt32(truncatingIfNeeded: flags))
        }
        let ref = e.fileRef
        if ref.flags & UInt32(VIGIL_FILE_PRESENT) != 0 {
            info.ino = ref.ino
            info.dev = ref.dev
            info.nlink = ref.nlink
        }
        let ret = e.ret
        var fd: Int32 = -1
        if ret >= 0 {
            fd = Int32(truncatingIfNeeded: ret)
            store(p, fd, info)
        }
        r.fdNum = fd
        r.fd = consume info
        r.process = p
    }

    func applySocket(_ e: Event, _ p: ProcessInfo) -> ApplyResult {
        let ret = e.ret
        guard ret >= 0 else { return ApplyResult(process: p) }
        let domain = UInt16(truncatingIfNeeded: e.arg(0))
        let type = e.arg(1)
        let proto = e.arg(2)
        let k = kind(forFamily: domain)
        var l4: UInt8 = 0
        if k == .ipv4 || k == .ipv6 {
            switch type & 0xf {
            case 3: l4 = 255
            case 1: l4 = proto == 0 ? 6 : UInt8(truncatingIfNeeded: proto)
            case 2: l4 = proto == 0 ? 17 : UInt8(truncatingIfNeeded: proto)
            default: l4 = UInt8(truncatingIfNeeded: proto)
            }
        }
        let info = FDInfo(kind: k, name: "", flags: UInt32(truncatingIfNeeded: type), l4proto: l4)
        let fd = Int32(truncatingIfNeeded: ret)
        store(p, fd, info)
        return ApplyResult(process: p, fd: info, fdNum: fd)
    }

    /// Fills an inet fd's endpoints and name: `cip:cport->sip:sport`.
    func setEndpoints(_ info: inout FDInfo, client: (IPAddress, UInt16), server: (IPAddress, UInt16)) {
        info.clientIP = client.0.bytes; info.clientPort = client.1
        info.serverIP = server.0.bytes; info.serverPort = server.1
        info.name = IPAddress.endpointsText(client: client, server: server)
    }

    /// A bound or listening socket's own address: the server end, named `ip:port`.
    func setLocalEndpoint(_ info: inout FDInfo, _ local: (IPAddress, UInt16)) {
        info.serverIP = local.0.bytes; info.serverPort = local.1
        if !info.connected {
            var n = ""
            local.0.write(into: &n); n += ":" + String(local.1)
            info.name = n
        }
    }

    func applyConnect(_ e: Event, _ p: ProcessInfo) -> ApplyResult {
        let fd = fdArg(e, 0)
        let ret = e.ret
        let t = SocketTuple(e.tuple)
        let addr = SocketAddress(raw: e.str0Raw)
        let family = t.isPresent ? t.family : (addr?.family ?? 0)
        var info = p.fds[fd] ?? FDInfo(kind: kind(forFamily: family), name: "")
        if info.kind == .unknown || info.kind == .file { info.kind = kind(forFamily: family) }
        if info.l4proto == 0 && t.l4proto != 0 { info.l4proto = t.l4proto }
        if info.kind == .unix {
            if let a = addr { info.name = String(decoding: a.path, as: UTF8.self); if a.isAbstract { info.name = "@" + info.name } }
        } else if info.kind == .ipv4 || info.kind == .ipv6 {
            if t.isPresent && (t.family == LinuxConstants.AF_INET || t.family == LinuxConstants.AF_INET6) {
                var server = (t.remoteIP, t.remotePort)
                if server.0.isUnspecified && server.1 == 0, let a = addr { server = (a.ip, a.port) }
                setEndpoints(&info, client: (t.localIP, t.localPort), server: server)
            } else if let a = addr, a.family == LinuxConstants.AF_INET || a.family == LinuxConstants.AF_INET6 {
                let zero = IPAddress(family: a.family, storage: (0, 0))
                setEndpoints(&info, client: (zero, 0), server: (a.ip, a.port))
            }
        }
        info.isServerSide = false
        let ok = ret == 0 || ret == -115 /* EINPROGRESS */
        info.connected = ok
        if ok { store(p, fd, info) }
        return ApplyResult(process: p, fd: info, fdNum: fd)
    }

    func applyAccept(_ e: Event, _ p: ProcessInfo) -> ApplyResult {
        let ret = e.ret
        let listenFD = fdArg(e, 0)
        guard ret >= 0 else { return ApplyResult(process: p, fd: p.fds[listenFD], fdNum: -1) }
        let fd = Int32(truncatingIfNeeded: ret)
        let t = SocketTuple(e.tuple)
        var info = p.fds[listenFD] ?? FDInfo(kind: kind(forFamily: t.family), name: "")
        if t.isPresent { info.kind = kind(forFamily: t.family); if t.l4proto != 0 { info.l4proto = t.l4proto } }
        if t.isPresent && (info.kind == .ipv4 || info.kind == .ipv6) {
            setEndpoints(&info, client: (t.remoteIP, t.remotePort), server: (t.localIP, t.localPort))
        }
        info.isServerSide = true
        info.connected = true
        let accept4Flags = e.type.rawValue == UInt16(VIGIL_SYS_ACCEPT4.rawValue) ? e.arg(3) : 0
        info.flags = (info.flags & ~FDInfo.cloexecFlag) | (accept4Flags & LinuxConstants.O_CLOEXEC != 0 ? FDInfo.cloexecFlag : 0)
        store(p, fd, info)
        return ApplyResult(process: p, fd: info, fdNum: fd)
    }

    func applyBind(_ e: Event, _ p: ProcessInfo) -> ApplyResult {
        let fd = fdArg(e, 0)
        guard e.ret == 0, let a = SocketAddress(raw: e.str0Raw) else { return ApplyResult(process: p, fd: p.fds[fd], fdNum: fd) }
        var info = p.fds[fd] ?? FDInfo(kind: kind(forFamily: a.family), name: "")
        if info.kind == .unix {
            info.name = (a.isAbstract ? "@" : "") + String(decoding: a.path, as: UTF8.self)
        } else if a.family == LinuxConstants.AF_INET || a.family == LinuxConstants.AF_INET6 {
            // The kernel's view (after the call) has the real port when 0 was asked for.
            let t = SocketTuple(e.tuple)
            let local = t.family == a.family ? (t.localIP, t.localPort) : (a.ip, a.port)
            setLocalEndpoint(&info, local)
        }
        store(p, fd, info)
        return ApplyResult(process: p, fd: info, fdNum: fd)
    }

    /// send/recv: returns the socket; for a datagram socket whose peer changed,
    /// updates its endpoints and marks ``FDInfo/nameChanged``.
    func applyDatagram(_ e: Event, _ p: ProcessInfo) -> ApplyResult {
        let fd = fdArg(e, 0)
        guard var info = p.fds[fd] else { return ApplyResult(process: p, fd: nil, fdNum: fd) }
        guard info.kind == .ipv4 || info.kind == .ipv6, info.l4proto != 6 else {
            return ApplyResult(process: p, fd: info, fdNum: fd)
        }
        let t = SocketTuple(e.tuple)
        var remote = (t.remoteIP, t.remotePort)
        if let a = SocketAddress(raw: e.str0Raw), a.family == t.family || !t.isPresent,
           a.family == LinuxConstants.AF_INET || a.family == LinuxConstants.AF_INET6 {
            remote = (a.ip, a.port)
        }
        guard remote.1 != 0 || !remote.0.isUnspecified else {
            return ApplyResult(process: p, fd: info, fdNum: fd)
        }
        // Who is the server: a socket whose first peer was met by receiving (a
        // datagram server) or that listens is the server end; one that sent first is the client.
        let local = (t.isPresent ? t.localIP : IPAddress(family: remote.0.family, storage: (0, 0)), t.localPort)
        let ty = e.type.rawValue
        if info.clientIP.isEmpty && info.clientPort == 0
            && (ty == UInt16(VIGIL_SYS_RECVFROM.rawValue) || ty == UInt16(VIGIL_SYS_RECVMSG.rawValue)) {
            info.isServerSide = true
        }
        let server = info.isServerSide
        let newClient = server ? remote : local
        let newServer = server ? local : remote
        let sameServer = IPAddress(bytes: info.serverIP) == newServer.0 && info.serverPort == newServer.1
        let sameClient = IPAddress(bytes: info.clientIP) == newClient.0 && info.clientPort == newClient.1
        if sameServer && sameClient {
            info.nameChanged = false
            return ApplyResult(process: p, fd: info, fdNum: fd)
        }
        let had = !info.name.isEmpty
        setEndpoints(&info, client: newClient, server: newServer)
        info.nameChanged = false
        store(p, fd, info)
        info.nameChanged = had
        return ApplyResult(process: p, fd: info, fdNum: fd)
    }

    func applyFcntl(_ e: Event, _ p: ProcessInfo) -> ApplyResult {
        let fd = fdArg(e, 0)
        let cmd = e.arg(1)
        let ret = e.ret
        var info = p.fds[fd]
        switch cmd {
        case LinuxConstants.F_DUPFD, LinuxConstants.F_DUPFD_CLOEXEC:
            if ret >= 0, var c = info {
                c.flags = cmd == LinuxConstants.F_DUPFD_CLOEXEC ? c.flags | FDInfo.cloexecFlag : c.flags & ~FDInfo.cloexecFlag
                store(p, Int32(truncatingIfNeeded: ret), c)
            }
        case 2 /* F_SETFD */:
            if ret == 0, var c = info {
                c.flags = e.arg(2) & 1 /* FD_CLOEXEC */ != 0 ? c.flags | FDInfo.cloexecFlag : c.flags & ~FDInfo.cloexecFlag
                p.fds[fd] = c
                info = c
            }
        default:
            break
        }
        return ApplyResult(process: p, fd: info, fdNum: fd)
    }
}
