import VigilABI

/// One decoded argument of an event, typed, read in place from the record
/// (byte values point into it: valid only while the ``Event`` is).
package enum ArgumentValue {
    /// A signed value: fds (`.fd`), results (`.errno`), ints, pids.
    case int(Int64, ArgumentFormat)
    /// An unsigned value: uints, hex, octal, uid, gid, file modes.
    case uint(UInt64, ArgumentFormat)
    /// A bitmask or enumeration with its symbolic table (raw value + rendering).
    case flags(UInt64, FlagSet)
    /// Bytes of a path, string or argv list (`.path`, `.string`, `.argv`).
    case bytes(UnsafeRawBufferPointer, ArgumentFormat)
    /// A raw sockaddr decoded.
    case sockaddr(SocketAddress)
    /// The kernel socket tuple; `serverSide` says the local end is the server (accept).
    case tuple(SocketTuple, serverSide: Bool)

    /// The numeric value (for comparisons such as `evt.arg.cmd=5`, `evt.rawarg.*`),
    /// nil for bytes, addresses and tuples.
    package var integer: Int64? {
        switch self {
        case .int(let v, _): return v
        case .uint(let v, _): return Int64(bitPattern: v)
        case .flags(let v, _): return Int64(bitPattern: v)
        default: return nil
        }
    }

    /// The bytes of a path or string argument (empty for other kinds).
    package var bytes: UnsafeRawBufferPointer {
        if case .bytes(let b, _) = self { return b }
        return UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// Falco's raw parameter text (the part before parentheses in `evt.args`):
    /// numbers in their format (`3`, `-2`, `0644`, `0x10`), strings as-is, argv
    /// space-separated, addresses as `ip:port`.
    package var rawText: String {
        var out = ""
        writeRaw(into: &out)
        return out
    }

    /// Appends ``rawText`` to `out`.
    package func writeRaw(into out: inout String) {
        switch self {
        case .int(let v, _): out += String(v)
        case .uint(let v, let f):
            switch f {
            case .hex: out += "0x" + String(v, radix: 16)
            case .octal, .mode: out += v == 0 ? "0" : "0" + String(v, radix: 8)
            default: out += String(v)
            }
        case .flags(let v, _): out += String(v)
        case .bytes(let b, let f):
            if f == .argv {
                guard b.count > 0 else { return }
                var first = true
                for part in b.split(separator: 0, omittingEmptySubsequences: false) {
                    if !first { out += " " }
                    out += String(decoding: UnsafeRawBufferPointer(rebasing: part), as: UTF8.self)
                    first = false
                }
            } else {
                out += String(decoding: b, as: UTF8.self)
            }
        case .sockaddr(let a): a.write(into: &out)
        case .tuple(let t, let server): out += t.text(serverSide: server)
        }
    }

    /// Falco's resolved text (inside the parentheses in `evt.args`, and what
    /// `evt.arg.NAME` returns when present): flag names, errno names, `AT_FDCWD`,
    /// fd names and user names through `resolver`. Nil when there is none.
    package func resolvedText(_ resolver: ArgumentResolver = ArgumentResolver()) -> String? {
        switch self {
        case .int(let v, let f):
            switch f {
            case .fd:
                if v == LinuxConstants.atFDCWD { return "AT_FDCWD" }
                if v < 0 { return LinuxConstants.errnoName(v) }
                return resolver.fdName?(v)
            case .errno:
                return LinuxConstants.errnoName(v)
            default:
                return nil
            }
        case .uint(let v, let f):
            switch f {
            case .uid: return resolver.userName?(UInt32(truncatingIfNeeded: v))
            case .gid: return resolver.groupName?(UInt32(truncatingIfNeeded: v))
            case .mode:
                let s = FlagSet.fileMode.table.render(v)
                return s.isEmpty ? nil : s
            default: return nil
            }
        case .flags(let v, let set):
            let s = set.table.render(v)
            return s.isEmpty ? nil : s
        default:
            return nil
        }
    }

    /// What Falco's `evt.arg.NAME` returns: the resolved text when there is one,
    /// else the raw text.
    package func text(_ resolver: ArgumentResolver = ArgumentResolver()) -> String {
        resolvedText(resolver) ?? rawText
    }
}

/// Optional look-ups that turn numbers into names when rendering arguments
/// (the state layer provides them: the process's fd table, the user database).
package struct ArgumentResolver {
    /// The fd's Falco-style name with its type prefix (`<f>/etc/passwd`).
    package var fdName: ((Int64) -> String?)?
    /// A uid's user name.
    package var userName: ((UInt32) -> String?)?
    /// A gid's group name.
    package var groupName: ((UInt32) -> String?)?

    /// A resolver with the given look-ups (each optional).
    package init(fdName: ((Int64) -> String?)? = nil, userName: ((UInt32) -> String?)? = nil,
                groupName: ((UInt32) -> String?)? = nil) {
        self.fdName = fdName; self.userName = userName; self.groupName = groupName
    }
}

extension Event {
    /// The schema of this event's type.
    @inline(__always) package var schema: SyscallSchema { SyscallSchema.of(type) }

    /// The argument named `name` (Falco's `evt.arg.NAME`), or nil when the type
    /// has no such parameter or the record does not carry it.
    @inline(__always)
    package func argument(named name: String) -> ArgumentValue? {
        let s = schema
        guard let i = s.index(of: name) else { return nil }
        return value(of: s.arguments[i])
    }

    /// The argument at position `index` (Falco's `evt.arg[N]`), or nil.
    @inline(__always)
    package func argument(at index: Int) -> ArgumentValue? {
        let s = schema
        guard index >= 0, index < s.arguments.count else { return nil }
        return value(of: s.arguments[index])
    }

    /// Reads one argument described by `spec` (for rules that resolved the spec
    /// once at compile time). Nil when the record does not carry it.
    package func value(of spec: ArgumentSpec) -> ArgumentValue? {
        switch spec.source {
        case .unavailable:
            return nil
        case .ret:
            guard isSyscall else { return isExec ? .int(0, spec.format) : nil }
            return make(signed: ret, spec.format)
        case .arg(let i):
            guard isSyscall else { return nil }
            return make(unsigned: arg(i), spec.format)
        case .arg32(let i):
            guard isSyscall else { return nil }
            return make(signed: Int64(Int32(truncatingIfNeeded: arg(i))), spec.format)
        case .str0:
            if isExec { return .bytes(exePath, spec.format) }
            guard isSyscall, load(RecordLayout.str0Length, UInt16.self) > 0 else { return nil }
            return bytesValue(spec.format, first: true)
        case .str1:
            guard isSyscall, load(RecordLayout.str1Length, UInt16.self) > 0 else { return nil }
            return bytesValue(spec.format, first: false)
        case .str0Second:
            guard isSyscall else { return nil }
            let raw = str0Raw
            guard let nul = raw.firstIndex(of: 0), nul + 1 < raw.count else { return nil }
            var end = nul + 1
            while end < raw.count && raw[end] != 0 { end += 1 }
            return .bytes(UnsafeRawBufferPointer(rebasing: raw[(nul + 1)..<end]), spec.format)
        case .tuple:
            guard isSyscall else { return nil }
            let t = SocketTuple(tuple)
            // Only inet tuples have addresses to show; unix sockets name their path in `addr`.
            guard t.family == LinuxConstants.AF_INET || t.family == LinuxConstants.AF_INET6 else { return nil }
            return .tuple(t, serverSide: EventTable.tupleIsServerSide[Int(type.rawValue) & (EventType.count - 1)])
        case .field(let f):
            return fieldValue(f, spec.format)
        }
    }

    @inline(__always)
    func make(signed v: Int64, _ f: ArgumentFormat) -> ArgumentValue {
        switch f {
        case .flags(let set): return .flags(UInt64(bitPattern: v), set)
        case .uint, .hex, .octal, .uid, .gid, .mode: return .uint(UInt64(bitPattern: v), f)
        default: return .int(v, f)
        }
    }

    @inline(__always)
    func make(unsigned v: UInt64, _ f: ArgumentFormat) -> ArgumentValue {
        switch f {
        case .flags(let set): return .flags(v, set)
        case .fd, .errno, .int, .pid: return .int(Int64(bitPattern: v), f)
        case .uid, .gid: return .uint(v & 0xffff_ffff, f)
        default: return .uint(v, f)
        }
    }

    func bytesValue(_ f: ArgumentFormat, first: Bool) -> ArgumentValue? {
        switch f {
        case .sockaddr:
            guard let a = SocketAddress(raw: first ? str0Raw : str1Raw) else { return nil }
            return .sockaddr(a)
        default:
            if first {
                // Two packed strings (mount): the first ends at the first NUL.
                let raw = str0Raw
                if let nul = raw.firstIndex(of: 0) { return .bytes(UnsafeRawBufferPointer(rebasing: raw[0..<nul]), f) }
                return .bytes(raw, f)
            }
            return .bytes(str1, f)
        }
    }

    func fieldValue(_ f: RecordField, _ format: ArgumentFormat) -> ArgumentValue? {
        switch f {
        case .tid: return make(unsigned: UInt64(tid), format)
        case .pid: return make(unsigned: UInt64(pid), format)
        case .ppid: return make(unsigned: UInt64(ppid), format)
        case .uid: return make(unsigned: UInt64(uid), format)
        case .gid: return make(unsigned: UInt64(gid), format)
        case .comm: return .bytes(comm, format)
        default: break
        }
        if isExec {
            let x = execInfo
            switch f {
            case .execExe:
                let a = argvRaw
                let end = a.firstIndex(of: 0) ?? a.count
                return .bytes(UnsafeRawBufferPointer(rebasing: a[0..<end]), format)
            case .execArgs:
                // argv[1...], NUL separated.
                let a = argvRaw
                guard let nul = a.firstIndex(of: 0) else { return .bytes(UnsafeRawBufferPointer(start: nil, count: 0), format) }
                var end = a.count
                while end > nul + 1 && a[end - 1] == 0 { end -= 1 }
                return .bytes(UnsafeRawBufferPointer(rebasing: a[(nul + 1)..<max(end, nul + 1)]), format)
            case .execExePath: return .bytes(exePath, format)
            case .execCwd: return .bytes(cwd, format)
            case .execTTY: return make(unsigned: UInt64(x.tty), format)
            case .execPgid: return make(unsigned: UInt64(x.pgid), format)
            case .execLoginUID: return make(unsigned: UInt64(x.loginuid), format)
            case .execFlags: return make(unsigned: UInt64(x.exe_flags), format)
            case .execCapEffective: return make(unsigned: x.cap_effective, format)
            case .execCapPermitted: return make(unsigned: x.cap_permitted, format)
            case .execExeIno: return make(unsigned: x.exe_ino, format)
            case .execExeCtime: return make(unsigned: x.exe_ctime_ns, format)
            case .execExeMtime: return make(unsigned: x.exe_mtime_ns, format)
            case .execEuid: return make(unsigned: UInt64(x.euid), format)
            case .execVpid: return make(unsigned: UInt64(x.vpid), format)
            case .execCgroupPath: return .bytes(cgroupPath, format)
            default: return nil
            }
        }
        if recordKind == UInt16(VIGIL_REC_FORK.rawValue) {
            let x = forkInfo
            switch f {
            case .forkChildPid: return make(unsigned: UInt64(x.child_pid), format)
            case .forkChildTid: return make(unsigned: UInt64(x.child_tid), format)
            case .forkFlags:
                return make(unsigned: x.flags & UInt32(VIGIL_FORK_THREAD) != 0 ? LinuxConstants.CLONE_THREAD : 0, format)
            default: return nil
            }
        }
        if recordKind == UInt16(VIGIL_REC_EXIT.rawValue) {
            let x = exitInfo
            switch f {
            case .exitStatus:
                return make(signed: Int64((x.exit_code & 0xff) << 8 | (x.signal & 0x7f)), format)
            case .exitCode: return make(signed: Int64(x.exit_code), format)
            case .exitSignal: return make(unsigned: UInt64(UInt32(bitPattern: x.signal)), format)
            case .exitCore: return make(unsigned: 0, format)
            default: return nil
            }
        }
        return nil
    }

    /// Falco's `evt.args`: `name=value name=value ...`, each value the raw text
    /// followed by the resolved text in parentheses when there is one
    /// (`fd=3(<f>/etc/passwd) dirfd=-100(AT_FDCWD) name=/etc/passwd flags=1(O_RDONLY)`).
    /// Arguments the record does not carry are left out.
    package func formattedArguments(_ resolver: ArgumentResolver = ArgumentResolver()) -> String {
        var out = ""
        for spec in schema.arguments {
            guard let v = value(of: spec) else { continue }
            if !out.isEmpty { out += " " }
            out += spec.name
            out += "="
            v.writeRaw(into: &out)
            if let r = v.resolvedText(resolver) {
                out += "("; out += r; out += ")"
            }
        }
        return out
    }

    // MARK: open helpers

    /// Whether this is an open-family event (open, openat, openat2, creat).
    @inline(__always)
    package var isOpen: Bool {
        guard isSyscall else { return false }
        let t = load(RecordLayout.syscallID, UInt16.self)
        return t == UInt16(VIGIL_SYS_OPEN.rawValue) || t == UInt16(VIGIL_SYS_OPENAT.rawValue)
            || t == UInt16(VIGIL_SYS_OPENAT2.rawValue) || t == UInt16(VIGIL_SYS_CREAT.rawValue)
            || t == UInt16(VIGIL_SYS_OPEN_BY_HANDLE_AT.rawValue)
    }

    /// The open flags of an open-family event (creat: `O_CREAT|O_WRONLY|O_TRUNC`), nil otherwise.
    @inline(__always)
    package var openFlags: UInt64? {
        guard isSyscall else { return nil }
        switch UInt32(load(RecordLayout.syscallID, UInt16.self)) {
        case VIGIL_SYS_OPEN.rawValue: return arg(1)
        case VIGIL_SYS_OPENAT.rawValue, VIGIL_SYS_OPENAT2.rawValue, VIGIL_SYS_OPEN_BY_HANDLE_AT.rawValue: return arg(2)
        case VIGIL_SYS_CREAT.rawValue: return LinuxConstants.O_CREAT | LinuxConstants.O_WRONLY | LinuxConstants.O_TRUNC
        default: return nil
        }
    }

    /// The mode argument of an open-family event, nil otherwise.
    @inline(__always)
    package var openMode: UInt64? {
        guard isSyscall else { return nil }
        switch UInt32(load(RecordLayout.syscallID, UInt16.self)) {
        case VIGIL_SYS_OPEN.rawValue: return arg(2)
        case VIGIL_SYS_OPENAT.rawValue, VIGIL_SYS_OPENAT2.rawValue: return arg(3)
        case VIGIL_SYS_CREAT.rawValue: return arg(1)
        default: return nil
        }
    }

    /// Falco's `evt.is_open_read`: an open-family event with read access (O_RDONLY or O_RDWR).
    @inline(__always)
    package var isOpenRead: Bool {
        guard let f = openFlags else { return false }
        let acc = f & LinuxConstants.O_ACCMODE
        return acc == 0 || acc == LinuxConstants.O_RDWR
    }

    /// Falco's `evt.is_open_write`: an open-family event with write access (O_WRONLY or O_RDWR).
    @inline(__always)
    package var isOpenWrite: Bool {
        guard let f = openFlags else { return false }
        let acc = f & LinuxConstants.O_ACCMODE
        return acc == LinuxConstants.O_WRONLY || acc == LinuxConstants.O_RDWR
    }

    /// Falco's `evt.is_open_exec`: an open-family event that creates a file
    /// (O_CREAT or O_TMPFILE) with an execute bit in its mode.
    @inline(__always)
    package var isOpenExec: Bool {
        guard let f = openFlags, let m = openMode else { return false }
        let creates = f & LinuxConstants.O_CREAT != 0 || f & LinuxConstants.O_TMPFILE == LinuxConstants.O_TMPFILE
        return creates && m & 0o111 != 0
    }
}
