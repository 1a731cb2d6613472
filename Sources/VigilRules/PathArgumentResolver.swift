import VigilCore
import VigilDecode
import VigilState

/// The path a path argument of a syscall names (`evt.arg.newpath`, `evt.arg.path`, ...), as
/// Falco's `evt.arg` reads it: a relative path joined to the directory it is relative to (its
/// directory fd argument's path, else the cwd) and normalised (`.`, `..`, `//`). Beyond Falco,
/// the links the kernel follows in `/proc/self` (`thread-self`, or the process's own pid or
/// tid) are followed the same way: `root/X` is X (paths are read from the task's root),
/// `cwd/X` is below the cwd and `fd/N/X` below fd N's path, so `mv x /proc/self/cwd/evil`
/// reads as the file it creates. A new symlink's `target` reads as the file it will name
/// (``symlinkTarget(_:_:_:)``). Symbolic links are not followed (no file-system access).
enum PathArgumentResolver {
    /// Whether `b` (non-empty) may read differently once resolved: relative, not normal, or
    /// below /proc. A normal absolute path elsewhere is used as it is (the common case; no copy).
    @inline(__always) static func needsResolving(_ b: UnsafeRawBufferPointer) -> Bool {
        if !PathResolver.isNormalAbsolute(b) { return true }
        return b.count >= 6 && b[1] == UInt8(ascii: "p") && b[2] == UInt8(ascii: "r") && b[3] == UInt8(ascii: "o")
            && b[4] == UInt8(ascii: "c") && b[5] == UInt8(ascii: "/")
    }

    /// The path `b` names, or nil when the directory it is relative to is unknown (no process,
    /// or a directory fd the process table does not know): the caller keeps it as given.
    static func resolve(_ b: UnsafeRawBufferPointer, argument spec: ArgumentSpec, _ ev: Event, _ p: ProcessInfo?) -> String? {
        if spec.name == "target" { return symlinkTarget(b, ev, p) }
        if b[0] == UInt8(ascii: "/") { return walk(Array(b), p, tid: ev.tid) }
        guard let p, let base = base(of: spec, ev, p) else { return nil }
        return walk(Array(base.utf8) + [UInt8(ascii: "/")] + Array(b), p, tid: ev.tid)
    }

    /// Walks the absolute path `path` as the kernel does without touching the file system:
    /// empty and `.` components dropped, `..` going up (never above `/`), and each time the
    /// walk reaches a /proc/self link (``procSelfLink(_:_:tid:)``), it continues from the
    /// link's target, so `/proc/self/cwd/../x` is the cwd's parent's `x`.
    static func walk(_ path: [UInt8], _ p: ProcessInfo?, tid: UInt32) -> String {
        var stack: [Substring] = []
        var links = 0
        for c in path.split(separator: UInt8(ascii: "/")) {
            let seg = Substring(decoding: c, as: UTF8.self)
            if seg == "." { continue }
            if seg == ".." { if !stack.isEmpty { stack.removeLast() }; continue }
            stack.append(seg)
            // A link that leads to another (/proc/self/cwd while the cwd is below
            // /proc/self/root) is followed again; a bound keeps a loop from spinning.
            if let p, links < 8, let target = procSelfLink(stack, p, tid: tid) {
                links += 1
                stack = target.utf8.split(separator: UInt8(ascii: "/")).map { Substring(decoding: $0, as: UTF8.self) }
                    .filter { $0 != "." }
            }
        }
        return "/" + stack.joined(separator: "/")
    }

    /// The file a new symbolic link's target (`evt.arg.target` of symlink/symlinkat) names,
    /// as the kernel will resolve it: an absolute target normalised, a relative one below the
    /// link's own directory (`ln -s ../../etc/shadow /tmp/x/s` names /etc/shadow). /proc/self
    /// links in a target are not followed (they will be the reader's, not this process's).
    /// Nil when the link's directory is unknown.
    static func symlinkTarget(_ b: UnsafeRawBufferPointer, _ ev: Event, _ p: ProcessInfo?) -> String? {
        if b[0] == UInt8(ascii: "/") { return walk(Array(b), nil, tid: 0) }
        let schema = SyscallSchema.of(ev.type)
        guard let i = schema.index(of: "linkpath"), case .bytes(let l, _)? = ev.value(of: schema.arguments[i]), l.count > 0
        else { return nil }
        let link: String
        if needsResolving(l) {
            guard let r = resolve(l, argument: schema.arguments[i], ev, p) else { return nil }
            link = r
        } else {
            link = String(decoding: l, as: UTF8.self)
        }
        var dir = Array(link.utf8)
        while let last = dir.last, last != UInt8(ascii: "/") { dir.removeLast() }
        return walk(dir + Array(b), nil, tid: 0)
    }

    static let oldDirfdNames = ["olddirfd", "olddir"]
    static let newDirfdNames = ["newdirfd", "newdir"]
    static let linkDirfdNames = ["linkdirfd"]
    static let dirfdNames = ["dirfd"]

    /// The directory a relative path argument is relative to: the path of its directory fd
    /// argument (`olddirfd` for `oldpath`, `newdirfd` for `newpath`, `linkdirfd` for
    /// `linkpath`, else `dirfd`) unless that is AT_FDCWD or absent, else the process's cwd.
    /// Nil when unknown.
    static func base(of spec: ArgumentSpec, _ ev: Event, _ p: ProcessInfo) -> String? {
        let schema = SyscallSchema.of(ev.type)
        let names = switch spec.name {
        case "oldpath": oldDirfdNames
        case "newpath": newDirfdNames
        case "linkpath": linkDirfdNames
        default: dirfdNames
        }
        for n in names {
            guard let i = schema.index(of: n), let v = ev.value(of: schema.arguments[i]), let fd = v.integer else { continue }
            return p.baseDirectory(dirfd: fd)
        }
        return p.baseDirectory(dirfd: nil)
    }

    /// Where the walked components `stack` lead when they are a link of /proc/self the kernel
    /// follows (`self`, `thread-self`, or the process's pid, namespace pid or the thread's tid,
    /// then `root`, `cwd` or `fd/N`): `/` (paths are read from the task's root), the cwd, or
    /// fd N's path. Nil for anything else, or when the target is unknown.
    static func procSelfLink(_ stack: [Substring], _ p: ProcessInfo, tid: UInt32) -> String? {
        guard stack.count == 3 || stack.count == 4, stack[0] == "proc" else { return nil }
        let who = stack[1]
        let isSelf = who == "self" || who == "thread-self"
            || UInt32(who).map { $0 == p.pid || $0 == p.vpid || $0 == tid } == true
        guard isSelf else { return nil }
        if stack.count == 3 {
            switch stack[2] {
            case "root": return "/"
            case "cwd": return p.cwd.isEmpty ? nil : p.cwd
            default: return nil
            }
        }
        guard stack[2] == "fd", let n = Int64(stack[3]) else { return nil }
        return p.absolutePath(ofFD: n)
    }
}
