import VigilABI

/// How an argument is typed and rendered (Falco's parameter types).
package enum ArgumentFormat: Sendable, Equatable {
    /// A file descriptor (signed). `-100` renders as `AT_FDCWD`; the fd's name
    /// comes from the process's fd table (see ``ArgumentResolver``).
    case fd
    /// A syscall result: `0`/positive, or a negative errno (`-2(ENOENT)`).
    case errno
    /// A signed decimal.
    case int
    /// An unsigned decimal.
    case uint
    /// An unsigned value rendered in hex (`0x7f00`).
    case hex
    /// An unsigned value rendered in octal with a leading 0 (`0644`).
    case octal
    /// A user id; rules resolve the name (`evt.arg.uid=nobody`).
    case uid
    /// A group id.
    case gid
    /// A process or thread id.
    case pid
    /// A path as passed (absolute, or relative to the cwd or a dirfd).
    case path
    /// A string.
    case string
    /// NUL-separated strings (argv), rendered space-separated.
    case argv
    /// A bitmask or enumeration with symbolic names.
    case flags(FlagSet)
    /// File mode bits: raw octal `0755`, resolved `S_IXOTH|...|S_IRUSR`.
    case mode
    /// A raw sockaddr stored in the record (`1.2.3.4:80`, a unix path).
    case sockaddr
    /// The socket tuple read from the kernel socket (`cip:cport->sip:sport`).
    case tuple
}

/// Which record fields of exec, fork and exit records an argument comes from.
package enum RecordField: Sendable, Equatable, CaseIterable {
    /// Header fields.
    case tid, pid, ppid, uid, gid, comm
    /// Exec record fields.
    case execExe, execArgs, execExePath, execCwd, execTTY, execPgid, execLoginUID, execFlags, execCapEffective,
         execCapPermitted, execExeIno, execExeCtime, execExeMtime, execEuid, execVpid, execCgroupPath
    /// Fork record fields.
    case forkChildPid, forkChildTid, forkFlags
    /// Exit record fields.
    case exitStatus, exitCode, exitSignal, exitCore
}

/// Where an argument's value is stored in the record (see the syscall record
/// layout in vigil_abi.h and bpf/README.md).
package enum ArgumentSource: Sendable, Equatable {
    /// The syscall's return value (`ret`).
    case ret
    /// Raw syscall argument `args[i]` (i in 0...5).
    case arg(Int)
    /// The low 32 bits of `args[i]`, sign-extended (fds and ints passed as `int`).
    case arg32(Int)
    /// The first string/buffer (`str0`).
    case str0
    /// The second string/buffer (`str1`).
    case str1
    /// The second NUL-terminated string packed inside `str0` (mount's fstype).
    case str0Second
    /// The kernel socket tuple.
    case tuple
    /// A field of an exec, fork or exit record.
    case field(RecordField)
    /// Known to Falco but not captured by Vigil (reads as not set).
    case unavailable
}

/// One parameter of an event type: Falco's name, its format and where it is stored.
package struct ArgumentSpec: Sendable, Equatable {
    /// Falco's parameter name (`evt.arg.NAME`).
    package let name: String
    package let format: ArgumentFormat
    package let source: ArgumentSource

    package init(_ name: String, _ format: ArgumentFormat, _ source: ArgumentSource) {
        self.name = name; self.format = format; self.source = source
    }
}

/// The parameters of one event type, in Falco's order (`evt.arg[N]`, `evt.args`).
package struct SyscallSchema: Sendable {
    /// The event type.
    package let type: EventType
    /// Parameters in order.
    package let arguments: [ArgumentSpec]

    /// Index of the parameter named `name`, or nil.
    @inline(__always)
    package func index(of name: String) -> Int? {
        for i in arguments.indices where arguments[i].name == name { return i }
        return nil
    }

    /// The schema of `type` (an empty list of arguments for unknown types).
    @inline(__always)
    package static func of(_ type: EventType) -> SyscallSchema {
        table[Int(type.rawValue) & (EventType.count - 1)]
    }

    /// Every event type that has a schema.
    package static var all: [SyscallSchema] { table.filter { !$0.arguments.isEmpty } }

    /// Whether any event type has a parameter named `name` (for validating
    /// `evt.arg.NAME` in rule conditions).
    package static func isKnownArgumentName(_ name: String) -> Bool { knownNames.contains(name) }

    static let knownNames: Set<String> = Set(table.flatMap { $0.arguments.map(\.name) })

    /// Schemas by type, from the `arguments` column of vigil_abi.h's syscall table (``EventTable``).
    static let table: [SyscallSchema] = {
        var t = (0..<EventType.count).map { SyscallSchema(type: EventType(rawValue: UInt16($0)), arguments: []) }
        for r in EventTable.rows { t[Int(r.type.rawValue) & (EventType.count - 1)] = SyscallSchema(type: r.type, arguments: r.arguments) }
        return t
    }()
}
