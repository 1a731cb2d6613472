import VigilABI

/// Why named argument values could not be encoded into a record.
package enum ArgumentEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The event type has no parameter of that name.
    case unknownArgument(type: String, name: String, known: [String])
    /// The value does not parse for the parameter's type.
    case invalidValue(type: String, name: String, value: String, expected: String)
    /// The parameter exists in Falco but Vigil does not capture it, or it lives
    /// in an exec/fork/exit record rather than a syscall record.
    case notEncodable(type: String, name: String, reason: String)

    package var description: String {
        switch self {
        case .unknownArgument(let t, let n, let known):
            return "event type '\(t)' has no argument '\(n)' (known: \(known.joined(separator: ", ")))"
        case .invalidValue(let t, let n, let v, let e):
            return "argument '\(n)' of '\(t)': invalid value '\(v)' (expected \(e))"
        case .notEncodable(let t, let n, let r):
            return "argument '\(n)' of '\(t)' cannot be set: \(r)"
        }
    }
}

extension RecordEncoder {
    /// Builds a completed-syscall record for `type` from Falco-named argument
    /// values given as text, exactly as the kernel side would store them:
    /// `["name": "/etc/shadow", "flags": "O_RDONLY|O_CREAT", "dirfd": "AT_FDCWD"]`.
    ///
    /// Values: integers in decimal, `0x` hex or leading-0 octal; symbolic names
    /// for flags and enumerations (`O_WRONLY|O_TRUNC`, `PTRACE_ATTACH`, `AF_INET`,
    /// `S_IXUSR|S_IRUSR`), `AT_FDCWD` for fds, errno names for results (`ENOENT`);
    /// `ip:port` (or a unix path) for sockaddrs; `cip:cport->sip:sport` for tuples.
    /// The result comes from `ret`, or from an argument named as the type's result
    /// (`fd`, `res`, `res_or_fd`), which wins. Exec, fork and exit fields are not
    /// syscall-record arguments: build those with ``exec(_:_:)``, ``fork(_:childPid:childTid:isThread:type:childStartBootNs:)``
    /// and ``exit(_:code:signal:groupDead:)``.
    package static func syscall(_ h: Header, type: EventType, ret: Int64 = 0, arguments: [(name: String, value: String)],
                               l4proto: UInt8 = 6) throws -> [UInt8] {
        let schema = SyscallSchema.of(type)
        let tname = type.name
        var args = [UInt64](repeating: 0, count: 6)
        var result = ret
        var s0: [UInt8]? = nil, s0second: [UInt8]? = nil, s1: [UInt8]? = nil
        var tuple = vigil_sock_tuple()
        // The tuple of the fd a syscall returned (accept) is seen from the server side.
        let isAccept = EventTable.tupleIsServerSide[Int(type.rawValue) & (EventType.count - 1)]

        for (name, text) in arguments {
            guard let i = schema.index(of: name) else {
                throw ArgumentEncodingError.unknownArgument(type: tname, name: name, known: schema.arguments.map(\.name))
            }
            let spec = schema.arguments[i]
            func bad(_ expected: String) -> ArgumentEncodingError {
                .invalidValue(type: tname, name: name, value: text, expected: expected)
            }
            switch spec.source {
            case .ret:
                guard let v = parseSigned(text, spec.format) else { throw bad("an integer or an errno name such as ENOENT") }
                result = v
            case .arg(let k), .arg32(let k):
                guard let v = parseNumeric(text, spec.format) else { throw bad(expectation(spec.format)) }
                args[k] = v
            case .str0, .str1, .str0Second:
                var bytes: [UInt8]
                if spec.format == .sockaddr {
                    guard let b = SocketAddress.encode(text) else { throw bad("ip:port, [ipv6]:port or a unix path") }
                    bytes = b
                } else {
                    bytes = Array(text.utf8) + [0]
                }
                switch spec.source {
                case .str0: s0 = bytes
                case .str1: s1 = bytes
                default: s0second = bytes
                }
            case .tuple:
                guard let t = SocketTuple.parse(text, l4proto: l4proto, serverSide: isAccept) else {
                    throw bad("cip:cport->sip:sport")
                }
                tuple = t
            case .field:
                throw ArgumentEncodingError.notEncodable(type: tname, name: name,
                                                         reason: "it is a field of the exec/fork/exit record, not of a syscall record")
            case .unavailable:
                throw ArgumentEncodingError.notEncodable(type: tname, name: name, reason: "Vigil does not capture it")
            }
        }
        if let sec = s0second {
            // mount: source NUL fstype NUL in str0.
            s0 = (s0 ?? [0]) + sec
        }
        var h = h
        if s0.map({ $0.count > Int(VIGIL_PATH_MAX) }) == true || s1.map({ $0.count > Int(VIGIL_PATH_MAX) }) == true {
            h.flags |= UInt16(VIGIL_HF_TRUNCATED)
            if var a = s0, a.count > Int(VIGIL_PATH_MAX) { a = Array(a.prefix(Int(VIGIL_PATH_MAX) - 1)) + [0]; s0 = a }
            if var a = s1, a.count > Int(VIGIL_PATH_MAX) { a = Array(a.prefix(Int(VIGIL_PATH_MAX) - 1)) + [0]; s1 = a }
        }
        return syscall(h, type: type, ret: result, args: args, rawStr0: s0, rawStr1: s1, tuple: tuple)
    }

    /// Same as ``syscall(_:type:ret:arguments:l4proto:)`` with a dictionary (order does not matter).
    package static func syscall(_ h: Header, type: EventType, ret: Int64 = 0, arguments: [String: String],
                               l4proto: UInt8 = 6) throws -> [UInt8] {
        try syscall(h, type: type, ret: ret, arguments: arguments.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) },
                    l4proto: l4proto)
    }

    static func expectation(_ f: ArgumentFormat) -> String {
        switch f {
        case .flags(let set): return "a number or \(set.table.name) names joined by | (e.g. \(set.table.entries.first?.name ?? ""))"
        case .mode: return "an octal mode such as 0755 or S_I* names joined by |"
        case .fd: return "an fd number or AT_FDCWD"
        case .uid, .gid: return "a numeric id"
        default: return "an integer"
        }
    }

    static func parseSigned(_ text: String, _ f: ArgumentFormat) -> Int64? {
        let t = Substring(text).trimmingSpaces
        if let v = Int64(t) { return v }
        if t == "AT_FDCWD" { return LinuxConstants.atFDCWD }
        if t == "SUCCESS" { return 0 }
        if let e = FlagSet.errno.table.value(of: t) { return -Int64(e) }
        if let n = FlagTable.parseNumber(t) { return Int64(bitPattern: n) }
        return nil
    }

    static func parseNumeric(_ text: String, _ f: ArgumentFormat) -> UInt64? {
        let t = Substring(text).trimmingSpaces
        switch f {
        case .flags(let set): return set.table.parse(String(t))
        case .mode:
            if t.allSatisfy({ $0 >= "0" && $0 <= "7" }), !t.isEmpty { return UInt64(t, radix: 8) }
            return FlagSet.fileMode.table.parse(String(t))
        case .fd, .errno, .int, .pid: return parseSigned(String(t), f).map { UInt64(bitPattern: $0) }
        case .octal:
            // Modes are written in octal: `644` and `0644` mean the same.
            if t.allSatisfy({ $0 >= "0" && $0 <= "7" }), !t.isEmpty { return UInt64(t, radix: 8) }
            return FlagTable.parseNumber(t)
        default: return FlagTable.parseNumber(t)
        }
    }
}
