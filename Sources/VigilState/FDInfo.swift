/// What a file descriptor refers to, as far as rules need it (`fd.*` fields).
package struct FDInfo: Sendable, Equatable {
    /// Falco's `fd.typechar` / `fd.type` kinds.
    package enum Kind: UInt8, Sendable {
        case file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, bpf, memfd, userfaultfd, unknown

        /// Falco's one-letter `fd.typechar`.
        package var typeChar: String {
            switch self {
            case .file: "f"
            case .directory: "d"
            case .ipv4: "4"
            case .ipv6: "6"
            case .unix: "u"
            case .pipe: "p"
            case .event: "e"
            case .signalfd: "s"
            case .eventpoll: "l"
            case .inotify: "i"
            case .timerfd: "t"
            case .netlink: "n"
            case .bpf: "b"
            case .memfd: "m"
            case .userfaultfd: "u"
            case .unknown: "o"
            }
        }
        /// Falco's `fd.type` name.
        package var typeName: String {
            switch self {
            case .file: "file"
            case .directory: "directory"
            case .ipv4: "ipv4"
            case .ipv6: "ipv6"
            case .unix: "unix"
            case .pipe: "pipe"
            case .event: "event"
            case .signalfd: "signalfd"
            case .eventpoll: "eventpoll"
            case .inotify: "inotify"
            case .timerfd: "timerfd"
            case .netlink: "netlink"
            case .bpf: "bpf"
            case .memfd: "memfd"
            case .userfaultfd: "userfaultfd"
            case .unknown: "unknown"
            }
        }
    }

    package var kind: Kind
    /// open flags (files), or socket type (sockets).
    package var flags: UInt32
    /// Layer-4 protocol for sockets (IPPROTO_TCP = 6, IPPROTO_UDP = 17), 0 otherwise.
    package var l4proto: UInt8
    /// Whether this process is the server side (accepted / listening socket).
    package var isServerSide: Bool
    /// Socket connected (connect or accept completed).
    package var connected: Bool
    package var clientPort: UInt16
    package var serverPort: UInt16

    /// The strings and addresses live in one copy-on-write box, so copying an
    /// FDInfo (handing it to the rules for every event on that fd) costs one
    /// retain instead of four.
    final class Storage: @unchecked Sendable {  // mutated only when uniquely referenced (copy-on-write)
        @exclusivity(unchecked) var name: String  // unchecked: read for every event that has an fd
        @exclusivity(unchecked) var nameRaw: String
        var clientIP: [UInt8]
        var serverIP: [UInt8]
        init(name: String, nameRaw: String, clientIP: [UInt8], serverIP: [UInt8]) {
            self.name = name; self.nameRaw = nameRaw; self.clientIP = clientIP; self.serverIP = serverIP
        }
        func copy() -> Storage { Storage(name: name, nameRaw: nameRaw, clientIP: clientIP, serverIP: serverIP) }
    }
    var storage: Storage

    @inline(__always) mutating func uniqueStorage() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    /// For files: the resolved absolute path. For sockets: Falco's `sip:sport->dip:dport` (or the unix path).
    package var name: String {
        get { storage.name }
        set { uniqueStorage().name = newValue }
    }
    /// ``name`` of the FDInfo at `fd`, read in place: `fd.pointee.name` from another module
    /// copies the whole FDInfo first (a retain and a release of its storage).
    package static func name(at fd: UnsafePointer<FDInfo>) -> String { fd.pointee.storage.name }
    /// The path as passed to the syscall (Falco's `fd.nameraw`).
    package var nameRaw: String {
        get { storage.nameRaw }
        set { uniqueStorage().nameRaw = newValue }
    }
    /// Socket endpoints: client (source) and server (destination) addresses as
    /// raw bytes (4 for IPv4, 16 for IPv6) and host-order ports.
    package var clientIP: [UInt8] {
        get { storage.clientIP }
        set { uniqueStorage().clientIP = newValue }
    }
    package var serverIP: [UInt8] {
        get { storage.serverIP }
        set { uniqueStorage().serverIP = newValue }
    }
    /// Falco's `fd.name_changed`: the event changed this fd's name (a datagram
    /// socket whose peer changed).
    package var nameChanged: Bool = false
    /// Files: the inode number of the opened file (Falco's `fd.ino`); 0 when unknown.
    package var ino: UInt64 = 0
    /// Files: the device of its file system, as stat's `st_dev` (Falco's `fd.dev`); 0 when unknown.
    package var dev: UInt32 = 0
    /// Files: hard links to the inode (more than 1: the file has other names); 0 when unknown.
    package var nlink: UInt32 = 0

    /// Whether the fd is closed on exec (`O_CLOEXEC`, `SOCK_CLOEXEC`, `FD_CLOEXEC`).
    package var isCloseOnExec: Bool { flags & FDInfo.cloexecFlag != 0 }
    /// The `O_CLOEXEC` bit as stored in ``flags``.
    package static let cloexecFlag: UInt32 = 0o2000000

    /// Falco's name with its type prefix, as `evt.args` shows fds: `<f>/etc/passwd`,
    /// `<4t>1.2.3.4:5->6.7.8.9:80`, `<u>/run/x.sock`, `<p>`.
    package var typedName: String {
        var s = "<" + kind.typeChar
        if kind == .ipv4 || kind == .ipv6 {
            switch l4proto {
            case 6: s += "t"
            case 17: s += "u"
            case 1, 58: s += "i"
            case 255: s += "r"
            default: break
            }
        }
        return s + ">" + name
    }

    package init(kind: Kind, name: String, nameRaw: String = "", flags: UInt32 = 0, l4proto: UInt8 = 0,
                clientIP: [UInt8] = [], clientPort: UInt16 = 0, serverIP: [UInt8] = [], serverPort: UInt16 = 0,
                isServerSide: Bool = false, connected: Bool = false) {
        self.kind = kind; self.flags = flags; self.l4proto = l4proto
        self.storage = Storage(name: name, nameRaw: nameRaw, clientIP: clientIP, serverIP: serverIP)
        self.clientPort = clientPort; self.serverPort = serverPort
        self.isServerSide = isServerSide; self.connected = connected
    }

    /// A file's fd whose names are in `storage` (shared with other fds: see ``FileNameCache``).
    init(kind: Kind, storage: Storage, flags: UInt32) {
        self.kind = kind; self.flags = flags; self.l4proto = 0
        self.storage = storage
        self.clientPort = 0; self.serverPort = 0
        self.isServerSide = false; self.connected = false
    }

    package static func == (a: FDInfo, b: FDInfo) -> Bool {
        a.kind == b.kind && a.flags == b.flags && a.l4proto == b.l4proto && a.isServerSide == b.isServerSide
            && a.connected == b.connected && a.clientPort == b.clientPort && a.serverPort == b.serverPort
            && a.nameChanged == b.nameChanged && a.ino == b.ino && a.dev == b.dev && a.nlink == b.nlink
            && (a.storage === b.storage || (a.name == b.name && a.nameRaw == b.nameRaw
                                            && a.clientIP == b.clientIP && a.serverIP == b.serverIP))
    }
}
